import Foundation
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ParleyTestSupport
import PostgresNIO
import PresenceWorker
import XCTest

/// The presence worker against real PostgreSQL and Redis, its events applied directly.
final class PresenceWorkerTests: XCTestCase {
    /// A worker, a user `a` and a contact `b` of theirs (a direct chat), with `b`'s channel recorded
    /// and `a` online through one connection.
    private struct Rig: Sendable {
        let database: Database
        let worker: PresenceWorker
        let recorder: PubSubRecorder
        let a: User
        let b: User
        let channel: String
        let connection: PresenceChange
    }

    private func withRig(operationTimeout: Duration = .seconds(5), _ body: @Sendable (Rig) async throws -> Void) async throws {
        try await TestServices.withDatabase(operationTimeout: operationTimeout) { database in
            let logger = TestServices.logger("presence-worker")
            let redis = RedisClient(endpoint: TestServices.redis, logger: logger)
            let recorder = PubSubRecorder()
            // Never started: the tests apply events themselves.
            let consumer = QueueConsumer(endpoint: TestServices.amqp, queue: "test.presence.unused", prefetch: 1, logger: logger)
            let publisher = QueuePublisher(endpoint: TestServices.amqp, logger: logger)
            let worker = PresenceWorker(consumer: consumer, publisher: publisher, database: database, redis: redis, nodeTTL: .seconds(30), logger: logger)
            try await TestServices.run([redis, recorder]) {
                let (a, b) = (try await TestServices.makeUser(database, name: "Away"), try await TestServices.makeUser(database, name: "Watcher"))
                let chat = UUIDv7.make()
                try await database.client.query(
                    "INSERT INTO chats (id, chat_name, is_group, direct_key) VALUES (\(chat), 'direct', false, \([a.id.lowercased, b.id.lowercased].sorted().joined(separator: ":")))",
                    logger: logger)
                try await database.client.query("INSERT INTO chat_members (chat_id, user_id) VALUES (\(chat), \(a.id)), (\(chat), \(b.id))", logger: logger)
                let channel = Channels.user(b.id)
                await recorder.subscribe(channel)
                let node = "node-\(UUID().uuidString.prefix(8))"
                let connection = PresenceChange(userId: a.id, connectionId: "\(node)/1", nodeId: node)
                try await worker.apply(Command(replyTo: nil, payload: .presenceConnect(connection)))
                let online = await recorder.next(UserEvent.self, on: channel)
                XCTAssertEqual(online, .userStatusChange(UserStatus(userId: a.id, isOnline: true, lastSeen: nil)))
                try await body(Rig(database: database, worker: worker, recorder: recorder, a: a, b: b, channel: channel, connection: connection))
            }
        }
    }

    /// Runs `body` while a transaction holds a lock on `user`'s row, which keeps `lastSeen`
    /// from being stored until it ends.
    private static func whileRowLocked<T: Sendable>(of user: UUID, in database: Database, _ body: @Sendable () async throws -> T) async throws -> T {
        let logger = TestServices.logger("row-lock")
        let (locked, lockTaken) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseLock) = AsyncStream.makeStream(of: Void.self)
        async let holder: Void = database.client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT 1 FROM users WHERE id = \(user) FOR UPDATE", logger: logger)
            lockTaken.yield()
            for await _ in release { break }
        }
        for await _ in locked { break }
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        releaseLock.yield()
        try await holder
        return try result.get()
    }

    // The event carries milliseconds, PostgreSQL microseconds.
    private static func milliseconds(_ date: Date?) -> Double { date.map { $0.timeIntervalSince1970 * 1000 } ?? -1 }

    /// A time as a client reads it.
    private static func text(_ date: Date?) throws -> String { String(decoding: try JSON.encode([date]), as: UTF8.self) }

    /// A contact who hears that a user went offline and asks at once (`GET /api/users/status`)
    /// finds the `lastSeen` it heard: the worker stores it before announcing it. Here the store
    /// is held up by a lock on the user's row, and the announcement has to wait for it.
    func testLastSeenIsStoredBeforeOfflineIsAnnounced() async throws {
        try await withRig { rig in
            let leftAt = Date()
            var disconnect = rig.connection
            disconnect.at = leftAt
            let command = Command(replyTo: nil, payload: .presenceDisconnect(disconnect))
            let applied = try await Self.whileRowLocked(of: rig.a.id, in: rig.database) {
                let applied = Task { try await rig.worker.apply(command) }
                try await Task.sleep(for: .milliseconds(500))
                XCTAssertEqual(rig.recorder.count(on: rig.channel), 0, "offline announced while its lastSeen could not be stored")
                return applied
            }
            // The lock is gone: the store and then the announcement go through.
            try await applied.value
            guard case .userStatusChange(let offline)? = await rig.recorder.next(UserEvent.self, on: rig.channel) else {
                return XCTFail("no offline event")
            }
            XCTAssertEqual(offline.userId, rig.a.id)
            XCTAssertFalse(offline.isOnline)
            XCTAssertEqual(Self.milliseconds(offline.lastSeen), Self.milliseconds(leftAt), accuracy: 1)
            let stored = try await rig.database.users.lastSeen(of: [rig.a.id], viewer: rig.b.id)
            // What a client reads in the event and from `GET /api/users/status`: the same text.
            XCTAssertEqual(try Self.text(offline.lastSeen), try Self.text(stored.first?.1))
        }
    }

    /// When `lastSeen` cannot be stored, the transition is announced all the same before the
    /// event fails (for a retry): Redis has counted it, so the retry would not announce it.
    func testOfflineIsAnnouncedEvenWhenLastSeenCannotBeStored() async throws {
        try await withRig(operationTimeout: .seconds(1)) { rig in
            let command = Command(replyTo: nil, payload: .presenceDisconnect(rig.connection))
            try await Self.whileRowLocked(of: rig.a.id, in: rig.database) {
                do {
                    try await rig.worker.apply(command)
                    XCTFail("the store should have timed out")
                } catch {}
                let offline = await rig.recorder.next(UserEvent.self, on: rig.channel, timeout: .seconds(1))
                guard case .userStatusChange(let status)? = offline else { return XCTFail("not announced: \(String(describing: offline))") }
                XCTAssertEqual(status.userId, rig.a.id)
                XCTAssertFalse(status.isOnline)
            }
        }
    }
}
