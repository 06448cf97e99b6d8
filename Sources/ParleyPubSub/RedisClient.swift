import CHiredis
import Logging
import ParleyIOThread

/// Redis commands over one hiredis connection on a dedicated thread.
///
/// Commands from concurrent callers are pipelined: whatever is queued when the thread wakes is
/// written in one go and the replies are read back in order. The connection is opened on first
/// use and again after a failure, so a Redis restart costs the commands in flight, nothing more.
public final class RedisClient: IOThreadService, Sendable {
    private struct Request: Sendable {
        let commands: [[[UInt8]]]
        let continuation: CheckedContinuation<[RedisValue], any Error>
    }

    private let endpoint: RedisEndpoint
    private let logger: Logger
    private let thread: IOThread
    private let inbox = Inbox<Request>()

    public init(endpoint: RedisEndpoint, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
        self.thread = IOThread(name: "redis-client")
    }

    public func start() { thread.start { [self] in loop() } }
    public func stop() { thread.stop() }


    /// Sends one command and returns its reply (an error reply is returned, not thrown).
    public func command(_ arguments: [String]) async throws -> RedisValue {
        try await pipeline([arguments.map { Array($0.utf8) }])[0]
    }

    /// Sends several commands back to back and returns their replies in order.
    public func pipeline(_ commands: [[[UInt8]]]) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        guard !thread.isStopped else { throw RedisError.unavailable("client stopped") }
        return try await withCheckedThrowingContinuation { continuation in
            inbox.put(Request(commands: commands, continuation: continuation), waking: thread)
        }
    }

    /// Shared by every PUBLISH rather than made for each (a worker makes ten per group message).
    private static let publishName = Array("PUBLISH".utf8)

    /// Publishes `message` on `channel`; returns how many subscribers received it.
    @discardableResult
    public func publish(_ message: [UInt8], to channel: String) async throws -> Int {
        let reply = try await pipeline([[Self.publishName, Array(channel.utf8), message]])[0]
        if case .integer(let n) = reply { return n }
        throw RedisError.reply("\(reply)")
    }

    /// Publishes many messages in one pipelined batch.
    public func publish(_ messages: [(channel: String, message: [UInt8])]) async throws {
        let replies = try await pipeline(messages.map { [Self.publishName, Array($0.channel.utf8), $0.message] })
        if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
            throw RedisError.reply("\(failure)")
        }
    }

    // MARK: - Connection thread

    private func loop() {
        var connection: RedisConnection?
        var backoff = Backoff()
        while !thread.isStopped {
            let requests = inbox.takeAll()
            if requests.isEmpty {
                thread.wait(timeout: .seconds(1))
                continue
            }
            if connection == nil {
                do {
                    connection = try RedisConnection(endpoint)
                    backoff.reset()
                } catch {
                    logger.warning("cannot connect to redis", metadata: ["error": "\(error)"])
                    for request in requests { request.continuation.resume(throwing: error) }
                    thread.sleep(backoff.next())
                    continue
                }
            }
            if let failure = execute(requests, on: connection!) {
                // A failed connection is dropped and opened afresh for the next requests.
                logger.warning("redis connection failed", metadata: ["error": "\(failure)"])
                connection = nil
            }
        }
        for request in inbox.takeAll() { request.continuation.resume(throwing: RedisError.unavailable("client stopped")) }
    }

    /// Answers every request, with its replies or the error; returns the error that broke the
    /// connection, if one did.
    private func execute(_ requests: [Request], on connection: RedisConnection) -> RedisError? {
        connection.append(commands: requests.flatMap { $0.commands })
        var answered = 0
        do {
            try connection.flush()
            for request in requests {
                var replies: [RedisValue] = []
                replies.reserveCapacity(request.commands.count)
                for _ in request.commands { replies.append(try connection.readReply()) }
                request.continuation.resume(returning: replies)
                answered += 1
            }
            return nil
        } catch {
            for request in requests[answered...] { request.continuation.resume(throwing: error) }
            return error
        }
    }
}
