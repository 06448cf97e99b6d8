import Foundation
import Logging
import Maintenance
import MediaWorker
import MessageWorker
import ParleyMedia
import PresenceWorker
import Metrics
import NIOCore
import ParleyCore
import ParleyGateway
import ParleyPubSub
import ParleyQueue
import ParleyStore
import Prometheus
import ServiceLifecycle
import SocketIO
import UnixSignals

/// What every command sets up first: the allocator's settings, configuration, logging and
/// metrics.
struct Runtime {
    let config: ParleyConfig
    let logger: Logger
    let metrics: PrometheusCollectorRegistry
    /// The process's one PostgreSQL pool, Redis command connection and confirmed RabbitMQ
    /// publisher, shared by its roles.
    let database: Database
    let redis: RedisClient
    let publisher: QueuePublisher
    /// `JWT_SECRET`, or in development a random one shared by this process's roles (tokens and
    /// file links made here verify only here); nil where neither is available.
    let secret: (value: String, generated: Bool)?

    /// Sets the threads of the process's shared event loops (0: NIO's one per core). Call it
    /// before anything makes the loops: NIO takes the count once.
    static func useEventLoopThreads(_ count: Int) {
        if count > 0 { NIOSingletons.groupLoopCountSuggestion = count }
    }

    /// Loads the configuration or exits with the one line that names the bad setting.
    /// - Parameter hotStatements: a process whose few statements run all the time (the message
    ///   worker): its pool plans them once, does not ping its connections, keeps as many open
    ///   as the worker applies batches at once and has an event loop of its own (see
    ///   ``Database/init(url:maxConnections:operationTimeout:genericPlans:keepAlive:keptConnections:ownLoop:fileLinks:logger:)``).
    static func start(label: String, hotStatements: Bool = false) -> Runtime {
        HeapSettings.keepFreedMemory()
        let config: ParleyConfig
        do {
            config = try ParleyConfig.load()
        } catch {
            FileHandle.standardError.write(Data("parley: \(error)\n".utf8))
            Foundation.exit(78)  // EX_CONFIG
        }
        useEventLoopThreads(config.eventLoopThreads)
        let level = Logger.Level(rawValue: config.logLevel) ?? .info
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // The default buckets start at 5 ms, more than most deliveries and requests take: a
        // p99 target of 10 ms needs finer ones below it.
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
            .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
        var logger = Logger(label: "parley.\(label)")
        logger[metadataKey: "node"] = "\(config.nodeID)"
        let secret = try? config.requireJWTSecret()
        // Without a secret (`migrate`, `parked` in production) nothing renders or checks links.
        let links = FileLinks(secret: secret?.secret ?? UUID().uuidString + UUID().uuidString, lifetime: config.fileURLExpiry)
        return Runtime(
            config: config, logger: logger, metrics: registry,
            database: Database(
                url: config.databaseURL, genericPlans: hotStatements, keepAlive: !hotStatements,
                keptConnections: hotStatements ? MessageWorker.defaultConcurrency : 0, ownLoop: hotStatements, fileLinks: links, logger: logger),
            redis: RedisClient(endpoint: RedisEndpoint(url: config.redisURL), logger: logger),
            publisher: QueuePublisher(endpoint: AMQPEndpoint(url: config.amqpURL), logger: logger),
            secret: secret.map { ($0.secret, $0.generated) })
    }

    /// Exits with one clear line when a required setting is unusable for this command.
    func require<T>(_ body: () throws(ConfigError) -> T) -> T {
        do {
            return try body()
        } catch {
            FileHandle.standardError.write(Data("parley: \(error)\n".utf8))
            Foundation.exit(78)
        }
    }

    /// The secret of tokens and file links; exits when there is none.
    func requireSecret() -> (value: String, generated: Bool) {
        if let secret { return secret }
        _ = require { () throws(ConfigError) in try config.requireJWTSecret() }
        fatalError("unreachable: requireJWTSecret failed above")
    }

    func amqpEndpoint() -> AMQPEndpoint { AMQPEndpoint(url: config.amqpURL) }

    /// Applies pending migrations with a short-lived connection pool.
    func migrate() async throws {
        let applied = try await once { try await Migrations.apply(on: $0) }
        logger.info("schema is current", metadata: ["version": "\(Migrations.latestVersion)", "applied": "\(applied)"])
    }

    /// Runs `body` with a short-lived connection pool of its own (the shared one runs only
    /// inside ``run(_:)``).
    func once<T: Sendable>(_ body: @escaping @Sendable (Database) async throws -> T) async throws -> T {
        let database = Database(url: config.databaseURL, fileLinks: self.database.fileLinks, logger: logger)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await database.run()
                return nil
            }
            defer { group.cancelAll() }
            return try await body(database)
        }
    }

    /// The gateway's HTTP application and the clients it needs.
    func gatewayServices() async -> [any Service] {
        let (secret, generated) = requireSecret()
        if generated {
            logger.warning("JWT_SECRET is not set: using a random secret, tokens will not survive a restart (development only)")
        }
        let subscriber = RedisSubscriber(endpoint: RedisEndpoint(url: config.redisURL), logger: logger)
        let bus = CommandBus(publisher: publisher, nodeId: config.nodeID, timeout: config.replyTimeout, logger: logger)
        let deps = GatewayDependencies(
            database: database, redis: redis, subscriber: subscriber, publisher: publisher, bus: bus,
            tokens: await TokenService(secret: secret, expiry: config.jwtExpiry),
            hasher: PasswordHasher(cost: config.bcryptCost), metrics: metrics, socketIO: socketIOConfiguration(),
            presenceTTL: config.presenceTTL, uploads: config.uploads, maxFileSize: config.maxFileSize
        )
        let app = Gateway.application(deps, host: config.host, port: config.port, logger: logger)
        return [subscriber, app]
    }

    func socketIOConfiguration() -> SocketIOConfiguration {
        var socketIO = SocketIOConfiguration()
        socketIO.connectTimeout = config.socketAuthTimeout
        socketIO.corsOrigins = config.corsOrigins
        socketIO.sendBuffer = config.socketSendBuffer
        return socketIO
    }

    /// A message worker consuming `parley.messages`.
    func messageWorker() -> MessageWorker {
        // Its messages carry signed file links, which every gateway must be able to check.
        _ = requireSecret()
        let consumer = QueueConsumer(
            endpoint: amqpEndpoint(), queue: Queues.messages, prefetch: config.workerPrefetch, logger: logger)
        return MessageWorker(consumer: consumer, publisher: publisher, database: database, redis: redis, logger: logger)
    }

    /// The `/metrics` listener of a worker process, when `WORKER_METRICS_PORT` asks for one.
    func workerMetrics() -> [any Service] {
        guard config.workerMetricsPort > 0 else { return [] }
        return [MetricsServer.application(registry: metrics, host: config.host, port: config.workerMetricsPort, logger: logger)]
    }

    /// A media worker consuming `parley.media`, with a libvips pool sized to the cores.
    func mediaWorker() -> MediaWorker {
        let images: ImageProcessor
        do {
            images = try ImageProcessor()
        } catch {
            FileHandle.standardError.write(Data("parley: cannot start libvips: \(error)\n".utf8))
            Foundation.exit(69)  // EX_UNAVAILABLE
        }
        let policy = MediaPolicy(allowedTypes: config.allowedFileTypes, maxImagePixels: config.maxImagePixels)
        let consumer = QueueConsumer(endpoint: amqpEndpoint(), queue: Queues.media, prefetch: config.workerPrefetch, logger: logger)
        return MediaWorker(
            consumer: consumer, publisher: publisher, database: database, redis: redis,
            processor: MediaProcessor(images: images, policy: policy), storage: config.uploads, logger: logger)
    }

    /// The maintenance worker: upload clean-up on a schedule.
    func maintenance() -> Maintenance {
        Maintenance(cleanup: uploadCleanup(), logger: logger)
    }

    func uploadCleanup(on database: Database? = nil) -> UploadCleanup {
        UploadCleanup(database: database ?? self.database, storage: config.uploads, logger: logger)
    }

    /// A presence worker consuming `parley.presence`.
    func presenceWorker() -> PresenceWorker {
        let consumer = QueueConsumer(
            endpoint: amqpEndpoint(), queue: Queues.presence, prefetch: config.workerPrefetch, logger: logger)
        return PresenceWorker(
            consumer: consumer, publisher: publisher, database: database, redis: redis, nodeTTL: config.presenceTTL, logger: logger)
    }

    /// Runs the shared clients and `services` until SIGTERM or SIGINT, then shuts them down in
    /// reverse order (the roles first, the clients they use last).
    func run(_ services: [any Service]) async throws {
        var configuration = ServiceGroupConfiguration(
            services: ([database, redis, publisher] + services).map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
        // In-flight requests and commands get this long to finish; then everything is cancelled
        // (unacknowledged commands go back to their queue) and the process exits.
        configuration.maximumGracefulShutdownDuration = .seconds(20)
        let group = ServiceGroup(configuration: configuration)
        try await group.run()
    }
}
