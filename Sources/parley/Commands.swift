import ArgumentParser
import MessageWorker
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway and every worker in one process (a single machine).",
        discussion: "Applies pending migrations first. Listens on HOST:PORT.")

    func run() async throws {
        let runtime = Runtime.start(label: "serve")
        try await runtime.migrate()
        let database = runtime.database()
        let redis = RedisClient(endpoint: runtime.redisEndpoint(), logger: runtime.logger)
        let worker = MessageWorkerCommand.worker(runtime, database: database, redis: redis)
        let gateway = await runtime.gatewayServices(database: database, redis: redis)
        try await runtime.run([database, redis, worker] + gateway)
    }
}

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run one gateway node: HTTP API and real-time connections.",
        discussion: "Needs the schema in place (parley migrate). Scale out by running more nodes with distinct NODE_ID and PORT.")

    func run() async throws {
        let runtime = Runtime.start(label: "gateway")
        let database = runtime.database()
        let redis = RedisClient(endpoint: runtime.redisEndpoint(), logger: runtime.logger)
        let gateway = await runtime.gatewayServices(database: database, redis: redis)
        try await runtime.run([database, redis] + gateway)
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker.",
        subcommands: [MessageWorkerCommand.self])
}

struct MessageWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message",
        abstract: "Apply chat and message commands from the parley.messages queue.",
        discussion: "Run as many as you like: commands are idempotent and each is handled by one worker at a time.")

    func run() async throws {
        let runtime = Runtime.start(label: "worker.message")
        let database = runtime.database()
        let redis = RedisClient(endpoint: runtime.redisEndpoint(), logger: runtime.logger)
        try await runtime.run([database, redis, Self.worker(runtime, database: database, redis: redis)])
    }

    static func worker(_ runtime: Runtime, database: ParleyStore.Database, redis: RedisClient) -> MessageWorker {
        let consumer = QueueConsumer(
            endpoint: runtime.amqpEndpoint(), queue: Queues.messages, prefetch: runtime.config.workerPrefetch,
            logger: runtime.logger)
        return MessageWorker(consumer: consumer, database: database, redis: redis, logger: runtime.logger)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending PostgreSQL migrations and exit.")

    func run() async throws {
        try await Runtime.start(label: "migrate").migrate()
    }
}
