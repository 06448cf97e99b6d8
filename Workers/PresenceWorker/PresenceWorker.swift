import Foundation
import Logging
import Metrics
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ServiceLifecycle

/// Applies `presence.*` events from `parley.presence` to the presence state in Redis, keeps
/// `last_seen` in PostgreSQL, reaps the connections of gateway nodes that stopped heart-beating,
/// and tells every contact of a user when that user really comes online or goes offline.
///
/// Steps run in an order that survives a retry: the audience is read first (nothing changed
/// yet if PostgreSQL fails), then the Redis script decides the transition, the event goes out,
/// and only then is `last_seen` written, which a retry writes again without a second event.
public final class PresenceWorker: Service, Sendable {
    private let consumer: QueueConsumer
    private let database: Database
    private let redis: RedisClient
    private let presence: PresenceStore
    private let nodeTTL: Duration
    private let logger: Logger
    private let concurrency: Int
    private let online = Counter(label: "parley_presence_transitions_total", dimensions: [("to", "online")])
    private let offline = Counter(label: "parley_presence_transitions_total", dimensions: [("to", "offline")])
    private let reaped = Counter(label: "parley_presence_reaped_users_total")
    private let failed: FailedCommands

    /// - Parameters:
    ///   - consumer: a consumer of ``Queues/presence``; the worker starts and stops it.
    ///   - publisher: for retries and parked events; run by the caller.
    ///   - nodeTTL: how long a node lives after its last heartbeat; dead nodes are looked for
    ///     every third of it.
    public init(
        consumer: QueueConsumer, publisher: QueuePublisher, database: Database, redis: RedisClient, nodeTTL: Duration,
        concurrency: Int = 16, logger: Logger
    ) {
        self.consumer = consumer
        self.failed = FailedCommands(consumer: consumer, publisher: publisher, logger: logger)
        self.database = database
        self.redis = redis
        self.presence = PresenceStore(redis: redis)
        self.nodeTTL = nodeTTL
        self.concurrency = concurrency
        self.logger = logger
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.reapPeriodically() }
            await consumer.run(concurrency: concurrency) { delivery in await self.handle(delivery) }
            group.cancelAll()
        }
    }

    func handle(_ delivery: Delivery) async {
        _ = await failed.settle(delivery, apply)
    }

    /// Applies one presence event; throws when a backing service failed (retry).
    public func apply(_ command: Command) async throws {
        switch command.payload {
        case .presenceConnect(let change):
            guard let audience = try await database.users.presenceAudience(of: change.userId) else { return }
            let transition = try await presence.connect(change, nodeTTL: ttlSeconds)
            if transition.changed {
                online.increment()
                try await announce(UserStatus(userId: change.userId, isOnline: true, lastSeen: nil), to: audience.contacts)
            }
            try await database.users.recordLogin(userId: change.userId, ip: change.ip, deviceInfo: change.userAgent)
        case .presenceDisconnect(let change):
            guard let audience = try await database.users.presenceAudience(of: change.userId) else { return }
            let transition = try await presence.disconnect(change)
            if transition.connections == 0 {
                try await wentOffline(change.userId, at: change.at, audience: audience, announcing: transition.changed)
            }
        case .presenceHeartbeat(let beat):
            try await presence.heartbeat(nodeId: beat.nodeId, ttl: beat.ttlSeconds)
        default:
            throw MisroutedCommand(type: command.type, worker: "presence")
        }
    }

    /// Takes the connections of dead nodes away; their users who have no other connection go
    /// offline as of now.
    public func reapOnce() async throws {
        let gone = try await presence.reapDeadNodes()
        let now = Date()
        for userId in gone {
            reaped.increment()
            guard let audience = try await database.users.presenceAudience(of: userId) else { continue }
            // Another connection may have come in since the script ran.
            guard try await presence.connections(of: userId) == 0 else { continue }
            try await wentOffline(userId, at: now, audience: audience, announcing: true)
        }
    }

    private var ttlSeconds: Int { Int(nodeTTL.components.seconds) }

    private func reapPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: nodeTTL / 3)
            do {
                try await reapOnce()
            } catch where !Task.isCancelled {
                logger.warning("reaping dead gateway nodes failed", metadata: ["error": "\(error)"])
            } catch {}
        }
    }

    /// Stores `lastSeen`, then (if `announcing`) tells the audience what was stored: a contact
    /// who hears of it and asks at once (`GET /api/users/status`) gets the same `lastSeen`, to
    /// the text. Redis has counted the transition already, so a retry would not announce it
    /// again: if the store fails, the announcement still goes before the error.
    private func wentOffline(_ userId: UUID, at: Date, audience: (showLastSeen: Bool, contacts: [UUID]), announcing: Bool) async throws {
        let stored: Date?
        do {
            stored = try await database.users.recordLastSeen(userId: userId, at: at)
        } catch {
            if announcing { try? await announceOffline(userId, at: at, audience: audience) }
            throw error
        }
        if announcing { try await announceOffline(userId, at: stored ?? at, audience: audience) }
    }

    /// Tells the audience the user went offline at `at`, which they see only if the user shows
    /// `lastSeen`.
    private func announceOffline(_ userId: UUID, at: Date, audience: (showLastSeen: Bool, contacts: [UUID])) async throws {
        offline.increment()
        try await announce(UserStatus(userId: userId, isOnline: false, lastSeen: audience.showLastSeen ? at : nil), to: audience.contacts)
    }

    /// One pipelined batch of PUBLISHes, whatever the number of contacts.
    private func announce(_ status: UserStatus, to contacts: [UUID]) async throws {
        guard !contacts.isEmpty else { return }
        let payload = [UInt8](try JSON.encode(UserEvent.userStatusChange(status)))
        try await redis.publish(PublishBatch(payload, toUsers: contacts))
    }
}
