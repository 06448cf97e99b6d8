import ArgumentParser
import Foundation
import Logging
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import PostgresNIO
import MessageWorker
import PresenceWorker
import ServiceLifecycle

@main
struct ParleyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Measure Parley's hot paths against the services `make services-up` starts.",
        subcommands: [PresenceFanout.self, WorkerThroughput.self, Thumbnails.self, RawLimits.self, IdleSockets.self, QueueCost.self, WireJSON.self])
}

/// What a user with many contacts coming online and going offline costs the presence worker.
struct PresenceFanout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence-fanout",
        abstract: "Time a presence transition of a user with N contacts, and its PUBLISH batch beside one-by-one PUBLISHes.")

    @Option(help: "Contacts of the user (each shares a 1:1 chat with it).")
    var contacts = 1000

    @Option(help: "Transitions timed (each an online and an offline).")
    var rounds = 50

    func run() async throws {
        try await BenchServices.with { services in
            let (database, redis, config, logger) = (services.database, services.redis, services.config, services.logger)
            let user = try await Self.seed(contacts: contacts, on: database)

            let audienceTimes = try await Self.time(rounds) { _ = try await database.users.presenceAudience(of: user) }
            let payload = [UInt8](try JSON.encode(UserEvent.userStatusChange(UserStatus(userId: user, isOnline: true, lastSeen: nil))))
            let users = (0..<contacts).map { _ in UUIDv7.make() }
            let channels = users.map(Channels.user)
            let batchTimes = try await Self.time(rounds) {
                var batch = PublishBatch()
                batch.add(payload, toUsers: users)
                try await redis.publish(batch)
            }
            let oneByOneTimes = try await Self.time(max(1, rounds / 10)) {
                for channel in channels { try await redis.publish(payload, to: channel) }
            }
            let consumer = QueueConsumer(endpoint: AMQPEndpoint(url: config.amqpURL), queue: Queues.presence, prefetch: 1, logger: logger)
            let worker = PresenceWorker(consumer: consumer, publisher: services.publisher, database: database, redis: redis, nodeTTL: .seconds(60), logger: logger)
            let node = "bench-\(UUID().uuidString.prefix(8))"
            let transitionTimes = try await Self.time(rounds) { round in
                let change = PresenceChange(userId: user, connectionId: "\(node)/\(round)", nodeId: node)
                try await worker.apply(Command(replyTo: nil, payload: .presenceConnect(change)))
                try await worker.apply(Command(replyTo: nil, payload: .presenceDisconnect(change)))
            }

            print("presence fan-out, \(contacts) contacts, \(rounds) rounds (median / p90):")
            Self.report("audience query (contacts + showLastSeen)", audienceTimes)
            Self.report("\(contacts) PUBLISHes, one pipelined batch", batchTimes)
            Self.report("\(contacts) PUBLISHes, one round trip each", oneByOneTimes)
            Self.report("online + offline through the presence worker", transitionTimes)
        }
    }

    /// A user and `contacts` others, each in a 1:1 chat with it, written in three statements.
    static func seed(contacts: Int, on database: Database) async throws -> UUID {
        let user = UUIDv7.make()
        let others = (0..<contacts).map { _ in UUIDv7.make() }
        let chats = others.map { _ in UUIDv7.make() }
        let keys = others.map { other in [user.lowercased, other.lowercased].sorted().joined(separator: ":") }
        let logger = Logger(label: "parley.bench.seed")
        try await database.client.withTransaction(logger: logger) { connection in
            try await connection.query(
                """
                INSERT INTO users (id, first_name, last_name, email, password_hash)
                SELECT id, 'Bench', 'User', 'bench-' || id || '@bench.parley.dev', 'x' FROM unnest(\([user] + others)) AS id
                """, logger: logger)
            try await connection.query(
                "INSERT INTO chats (id, chat_name, is_group, direct_key) SELECT * FROM unnest(\(chats), \(chats.map { _ in "sender" }), \(chats.map { _ in false }), \(keys))",
                logger: logger)
            try await connection.query(
                """
                INSERT INTO chat_members (chat_id, user_id)
                SELECT c, \(user) FROM unnest(\(chats)) AS c
                UNION ALL SELECT * FROM unnest(\(chats), \(others))
                """, logger: logger)
        }
        return user
    }

    static func time(_ rounds: Int, _ body: (Int) async throws -> Void) async throws -> [Duration] {
        var times: [Duration] = []
        let clock = ContinuousClock()
        for round in 0..<rounds {
            times.append(try await clock.measure { try await body(round) })
        }
        return times.sorted()
    }

    static func time(_ rounds: Int, _ body: () async throws -> Void) async throws -> [Duration] {
        try await time(rounds) { (_: Int) in try await body() }
    }

    static func report(_ name: String, _ sorted: [Duration]) {
        func ms(_ d: Duration) -> String { String(format: "%.2f ms", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000) }
        let median = sorted[sorted.count / 2]
        let p90 = sorted[min(sorted.count - 1, sorted.count * 9 / 10)]
        print("  \(name.padding(toLength: 48, withPad: " ", startingAt: 0)) \(ms(median)) / \(ms(p90))")
    }
}

/// How many new messages per second one message worker stores and fans out, with batches of
/// several sizes: the commands are queued first, then the worker drains them.
struct WorkerThroughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker-throughput",
        abstract: "Queue N message.create commands, then time one message worker draining them, per batch size.")

    @Option(help: "Commands per run.")
    var messages = 5000

    @Option(help: "Batch sizes to compare, comma-separated.")
    var batches = "1,64"

    func run() async throws {
        try await BenchServices.with { services in
            let (database, redis, publisher, logger) = (services.database, services.redis, services.publisher, services.logger)
            let endpoint = AMQPEndpoint(url: services.config.amqpURL)
            print("message worker, \(messages) new messages in 1:1 chats, all queued before the worker starts:")
            for size in batches.split(separator: ",").compactMap({ Int($0) }) {
                let chat = try await PresenceFanout.seed(contacts: 1, on: database)
                let (chatId, sender) = try await Self.chatOf(chat, on: database)
                try await Self.enqueue(messages, chatId: chatId, sender: sender, through: publisher)
                let consumer = QueueConsumer(endpoint: endpoint, queue: Queues.messages, prefetch: max(64, size * 4), logger: logger)
                let worker = MessageWorker(consumer: consumer, publisher: publisher, database: database, redis: redis, batchSize: size, logger: logger)
                let started = ContinuousClock.now
                let serviceGroup = ServiceGroup(services: [worker], logger: logger)
                try await withThrowingTaskGroup(of: Void.self) { running in
                    running.addTask { try await serviceGroup.run() }
                    while try await Self.stored(in: chatId, on: database) < messages { try await Task.sleep(for: .milliseconds(20)) }
                    let elapsed = ContinuousClock.now - started
                    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                    print("  batch \(String(size).padding(toLength: 4, withPad: " ", startingAt: 0)) \(Int(Double(messages) / seconds)) messages/s")
                    await serviceGroup.triggerGracefulShutdown()
                    try await running.waitForAll()
                }
            }
        }
    }

    /// The 1:1 chat the seed made for `user`, and the other member, who sends.
    static func chatOf(_ user: UUID, on database: Database) async throws -> (UUID, UUID) {
        let rows = try await database.client.query(
            "SELECT chat_id, user_id FROM chat_members WHERE chat_id IN (SELECT chat_id FROM chat_members WHERE user_id = \(user)) AND user_id <> \(user)",
            logger: Logger(label: "parley.bench"))
        for try await row in rows.decode((UUID, UUID).self) { return row }
        throw ValidationError("seeding failed")
    }

    static func enqueue(_ count: Int, chatId: UUID, sender: UUID, through publisher: QueuePublisher) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<32 {
                group.addTask {
                    for i in stride(from: lane, to: count, by: 32) {
                        let create = MessageCreate(messageId: UUIDv7.make(), chatId: chatId, senderId: sender, messageType: .text, text: "bench \(i)", clientMessageId: nil)
                        let command = Command(replyTo: nil, payload: .messageCreate(create))
                        try await publisher.publish([UInt8](JSON.encode(command)), routingKey: command.type.rawValue)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    static func stored(in chatId: UUID, on database: Database) async throws -> Int {
        let rows = try await database.client.query("SELECT count(*) FROM messages WHERE chat_id = \(chatId)", logger: Logger(label: "parley.bench"))
        for try await n in rows.decode(Int.self) { return n }
        return 0
    }
}

/// The servers a benchmark talks to, connected and migrated, for the length of `body`.
struct BenchServices: Sendable {
    let config: ParleyConfig
    let logger: Logger
    let database: Database
    let redis: RedisClient
    let publisher: QueuePublisher

    static func with(_ body: @Sendable (BenchServices) async throws -> Void) async throws {
        HeapSettings.keepFreedMemory()
        let config = try ParleyConfig.load()
        var logger = Logger(label: "parley.bench")
        logger.logLevel = .error
        let services = BenchServices(
            config: config, logger: logger, database: Database(
                url: config.databaseURL, fileLinks: FileLinks(secret: config.jwtSecret, lifetime: config.fileURLExpiry), logger: logger),
            redis: RedisClient(endpoint: RedisEndpoint(url: config.redisURL), logger: logger),
            publisher: QueuePublisher(endpoint: AMQPEndpoint(url: config.amqpURL), logger: logger))
        services.redis.start()
        services.publisher.start()
        defer { services.redis.stop(); services.publisher.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await services.database.run() }
            defer { group.cancelAll() }
            guard await services.database.ping(timeout: .seconds(10)), await services.publisher.waitUntilConnected() else {
                throw ValidationError("PostgreSQL or RabbitMQ is not reachable (make services-up)")
            }
            try await Migrations.apply(on: services.database)
            try await body(services)
        }
    }
}
