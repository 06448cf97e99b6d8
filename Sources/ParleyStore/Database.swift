import Logging
import NIOCore
import NIOPosix
import ParleyCore
import PostgresNIO
import ServiceLifecycle

/// The one pooled PostgreSQL client of a process, with the repositories over it.
///
/// Run it inside the service group (``run()``); queries wait for a pooled connection and the
/// pool reconnects by itself after PostgreSQL restarts.
public final class Database: Service, Sendable {
    public let client: PostgresClient
    let logger: Logger
    /// Longest a repository call may take, waiting for a pooled connection included.
    let operationTimeout: Duration
    /// Holds each operation to its deadline (``run()`` sweeps it), running it on ``executor``.
    let deadlines: OperationDeadlines
    /// Signs the file links of the messages the repositories return.
    public let fileLinks: FileLinks
    /// The event loop of its own the pool's connections live on, if it was given one.
    public let loop: (any EventLoop)?
    /// Runs tasks on ``loop``: a caller that prefers it (`withTaskExecutorPreference`) and the
    /// store calls it makes run where their connections' answers arrive.
    public let executor: (any TaskExecutor)?
    private let ownLoop: MultiThreadedEventLoopGroup?

    /// - Parameters:
    ///   - url: `postgres://user:password@host:port/database`.
    ///   - maxConnections: the pool's upper bound.
    ///   - operationTimeout: longest a repository call may take before it fails with
    ///     ``StoreError`` (the pool waits for PostgreSQL indefinitely by itself).
    ///   - keepAlive: ping idle connections (PostgresNIO's keep-alive, every 30 s). The pool
    ///     schedules the keep-alive timer each time a connection is released, a task group and a
    ///     libdispatch timer per query: without it the message worker's CPU at 1,000 msg/s fell
    ///     by 7% (two A/B pairs). A process whose connections are rarely idle can do without:
    ///     the pool closes a connection idle for a minute anyway, and one that died before that
    ///     fails its next query (or times out), which is retried.
    ///   - keptConnections: connections opened at start and kept however long idle. The pool
    ///     also schedules an idle timer each time one of the others is released (another task
    ///     group and timer per query); a process that always uses a few connections keeps them
    ///     (the message worker: 4 to 5% of its CPU at 1,000 msg/s, three A/B pairs).
    ///   - fileLinks: signs the links to files in the messages the repositories return.
    ///   - genericPlans: plan every statement once per connection (`plan_cache_mode =
    ///     force_generic_plan`). For a process whose queries are few, hot and keyed (the message
    ///     worker): PostgreSQL otherwise plans its batch statements again on every execution,
    ///     since a plan for the batch's actual size always looks cheaper than a generic one.
    ///   - ownLoop: keep the pool's connections on an event loop of their own, where a caller's
    ///     tasks may run too (``executor``). For a process whose work is mostly store calls (the
    ///     message worker): a store call then starts, writes its query and resumes with the
    ///     answer on one thread, where on the shared loops and pool each of those steps woke
    ///     another (its threads switched 13 times a message at 100 msg/s, 7 on a loop of its own).
    ///   - logger: for the pool's background events and queries.
    public init(
        url: ServiceURL, maxConnections: Int = 20, operationTimeout: Duration = .seconds(5), genericPlans: Bool = false,
        keepAlive: Bool = true, keptConnections: Int = 0, ownLoop: Bool = false, fileLinks: FileLinks, logger: Logger
    ) {
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port ?? 5432, username: url.user ?? "postgres",
            password: url.password, database: url.path.isEmpty ? nil : url.path, tls: .disable
        )
        configuration.options.maximumConnections = maxConnections
        configuration.options.connectionIdleTimeout = .seconds(60)
        if !keepAlive { configuration.options.keepAliveBehavior = nil }
        configuration.options.minimumConnections = min(max(0, keptConnections), maxConnections - 1)
        if genericPlans { configuration.options.additionalStartupParameters.append(("plan_cache_mode", "force_generic_plan")) }
        if ownLoop {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let loop = group.next()
            client = PostgresClient(configuration: configuration, eventLoopGroup: loop, backgroundLogger: logger)
            (self.ownLoop, self.loop, executor) = (group, loop, LoopExecutor(loop))
        } else {
            client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            (self.ownLoop, self.loop, executor) = (nil, nil, nil)
        }
        deadlines = OperationDeadlines(executor: executor)
        self.operationTimeout = operationTimeout
        self.fileLinks = fileLinks
        self.logger = logger
    }

    public func run() async {
        // An operation fails at most an eighth of its timeout (and never more than 250 ms) late.
        let interval = min(max(operationTimeout / 8, .milliseconds(5)), .milliseconds(250))
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.deadlines.sweep(every: interval) }
            await client.run()
            group.cancelAll()
        }
        try? await ownLoop?.shutdownGracefully()
    }

    public var users: UserRepository { UserRepository(database: self) }
    public var chats: ChatRepository { ChatRepository(database: self) }
    public var messages: MessageRepository { MessageRepository(database: self) }
    public var files: FileRepository { FileRepository(database: self) }

    /// Whether PostgreSQL answers a trivial query within `timeout` (late by up to the sweep's
    /// interval, see ``run()``).
    public func ping(timeout: Duration = .seconds(2)) async -> Bool {
        do {
            try await deadlines.run(within: timeout, timedOut: StoreError(description: "postgres: no answer")) {
                let rows = try await self.client.query("SELECT 1", logger: self.logger)
                for try await _ in rows {}
            }
            return true
        } catch {
            return false
        }
    }
}

/// Runs jobs on one event loop.
private final class LoopExecutor: TaskExecutor {
    private let loop: any EventLoop

    init(_ loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// A storage failure: PostgreSQL unreachable or a query that failed for a reason other than
/// bad input. Callers answer 503 and retry.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public let description: String

    init(description: String) {
        self.description = description
    }

    init(_ error: any Error) {
        if let psql = error as? PSQLError {
            description = "postgres: \(psql.serverInfo?[.message] ?? String(reflecting: psql.code))"
        } else {
            description = "postgres: \(error)"
        }
    }
}

extension PSQLError {
    /// Whether PostgreSQL refused a value of the statement (SQLSTATE class 22, data exception:
    /// a character it cannot store, a number out of range, ...).
    var isDataException: Bool {
        serverInfo?[.sqlState]?.hasPrefix("22") ?? false
    }

    /// Whether this is the unique violation (23505) of the named constraint or index.
    func isUniqueViolation(of constraint: String? = nil) -> Bool {
        guard serverInfo?[.sqlState] == "23505" else { return false }
        return constraint == nil || serverInfo?[.constraintName] == constraint
    }
}
