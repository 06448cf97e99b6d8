import ArgumentParser
import Foundation
import Logging
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import PostgresNIO
import PresenceWorker

@main
struct ParleyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley-bench",
        abstract: "Measure Parley's hot paths against the services `make services-up` starts.",
        subcommands: [PresenceFanout.self])
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
        let config = try ParleyConfig.load()
        var logger = Logger(label: "parley.bench")
        logger.logLevel = .warning
        let database = Database(url: config.databaseURL, logger: logger)
        let redis = RedisClient(endpoint: RedisEndpoint(url: config.redisURL), logger: logger)
        redis.start()
        defer { redis.stop() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.run() }
            defer { group.cancelAll() }
            guard await database.ping(timeout: .seconds(10)) else { throw ValidationError("PostgreSQL is not reachable at \(config.databaseURL)") }
            try await Migrations.apply(on: database)
            let user = try await Self.seed(contacts: contacts, on: database)

            let audienceTimes = try await Self.time(rounds) { _ = try await database.users.presenceAudience(of: user) }
            let payload = [UInt8](try JSON.encode(UserEvent.userStatusChange(UserStatus(userId: user, isOnline: true, lastSeen: nil))))
            let channels = (0..<contacts).map { _ in Channels.user(UUIDv7.make()) }
            let batchTimes = try await Self.time(rounds) {
                try await redis.publish(channels.map { (channel: $0, message: payload) })
            }
            let oneByOneTimes = try await Self.time(max(1, rounds / 10)) {
                for channel in channels { try await redis.publish(payload, to: channel) }
            }
            let consumer = QueueConsumer(endpoint: AMQPEndpoint(url: config.amqpURL), queue: Queues.presence, prefetch: 1, logger: logger)
            let publisher = QueuePublisher(endpoint: AMQPEndpoint(url: config.amqpURL), logger: logger)
            let worker = PresenceWorker(consumer: consumer, publisher: publisher, database: database, redis: redis, nodeTTL: .seconds(60), logger: logger)
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
