import Foundation
import ParleyCore

/// Who is online, kept in Redis so that every gateway and presence worker sees one truth.
///
/// - `parley:presence:user:{userId}`: hash of the user's live connections (id → node).
/// - `parley:presence:node:{nodeId}`: set of `userId|connectionId` held by a node, for reaping.
/// - `parley:presence:alive:{nodeId}`: the node's heartbeat, expiring after the TTL.
/// - `parley:presence:nodes`: every node that may hold connections.
/// - `parley:presence:tomb:{connectionId}`: a connection that ended; a `connect` arriving after
///   its `disconnect` (two workers, a redelivery) is ignored instead of leaving a ghost.
///
/// Every change is one Lua script, so transitions are computed atomically and several presence
/// workers can apply events at once.
public struct PresenceStore: Sendable {
    let redis: RedisClient
    /// How long a tombstone outlives its connection: longer than any event can be delayed in
    /// the queue.
    public var tombstoneTTL: Int = 86_400

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// What a connect or disconnect did.
    public struct Transition: Sendable, Equatable {
        /// The user came online (first connection anywhere) or went offline (last one gone).
        public var changed: Bool
        /// The user's live connections afterwards.
        public var connections: Int
    }

    /// Records a connection; `changed` when it is the user's first anywhere.
    public func connect(_ change: PresenceChange, nodeTTL: Int) async throws -> Transition {
        try await transition(Self.connectScript.run(on: redis, [change.userId.lowercased, change.connectionId, change.nodeId, String(nodeTTL)]))
    }

    /// Ends a connection (and tombstones it); `changed` when it was the user's last.
    public func disconnect(_ change: PresenceChange) async throws -> Transition {
        try await transition(Self.disconnectScript.run(on: redis, [change.userId.lowercased, change.connectionId, change.nodeId, String(tombstoneTTL)]))
    }

    /// The node is alive for `ttl` seconds more.
    public func heartbeat(nodeId: String, ttl: Int) async throws {
        let replies = try await redis.pipeline([
            ["SET", "\(Self.prefix)alive:\(nodeId)", "1", "EX", String(ttl)].map { Array($0.utf8) },
            ["SADD", "\(Self.prefix)nodes", nodeId].map { Array($0.utf8) },
        ])
        if case .error(let message)? = replies.first(where: { if case .error = $0 { true } else { false } }) {
            throw RedisError.reply(message)
        }
    }

    /// Removes the connections of every node whose heartbeat has expired.
    /// - Returns: the users who went offline because of it.
    public func reapDeadNodes() async throws -> [UUID] {
        guard case .array(let nodes) = try await redis.command(["SMEMBERS", "\(Self.prefix)nodes"]) else { return [] }
        var offline: [UUID] = []
        for node in nodes.compactMap(\.text) {
            guard case .array(let users) = try await Self.reapScript.run(on: redis, [node, String(tombstoneTTL)]) else { continue }
            offline += users.compactMap { $0.text.flatMap { UUID(text: $0) } }
        }
        return offline
    }

    /// Which of `ids` have a live connection: one pipelined round trip.
    public func online(_ ids: some Collection<UUID>) async throws -> Set<UUID> {
        let ordered = Array(ids)
        guard !ordered.isEmpty else { return [] }
        let replies = try await redis.pipeline(ordered.map { ["EXISTS", Self.userKey($0)].map { Array($0.utf8) } })
        var found = Set<UUID>()
        for (id, reply) in zip(ordered, replies) where reply == .integer(1) { found.insert(id) }
        return found
    }

    /// The live connections of a user.
    public func connections(of userId: UUID) async throws -> Int {
        if case .integer(let n) = try await redis.command(["HLEN", Self.userKey(userId)]) { return n }
        return 0
    }

    static let prefix = "parley:presence:"
    static func userKey(_ id: UUID) -> String { "\(prefix)user:\(id.lowercased)" }

    private func transition(_ reply: RedisValue) throws -> Transition {
        guard case .array(let values) = reply, values.count == 2,
              case .integer(let changed) = values[0], case .integer(let count) = values[1]
        else { throw RedisError.reply("unexpected presence script reply \(reply)") }
        return Transition(changed: changed == 1, connections: count)
    }

    // ARGV: userId, connectionId, nodeId, node TTL. A connect also starts the node's heartbeat
    // key if its first heartbeat has not been applied yet, so the reaper cannot take it first.
    static let connectScript = LuaScript("""
        local p = 'parley:presence:'
        local user = p .. 'user:' .. ARGV[1]
        if redis.call('EXISTS', p .. 'tomb:' .. ARGV[2]) == 1 then
          return {0, redis.call('HLEN', user)}
        end
        local added = redis.call('HSETNX', user, ARGV[2], ARGV[3])
        redis.call('SADD', p .. 'node:' .. ARGV[3], ARGV[1] .. '|' .. ARGV[2])
        redis.call('SADD', p .. 'nodes', ARGV[3])
        redis.call('SET', p .. 'alive:' .. ARGV[3], '1', 'EX', ARGV[4], 'NX')
        local n = redis.call('HLEN', user)
        if added == 1 and n == 1 then return {1, n} end
        return {0, n}
        """)

    // ARGV: userId, connectionId, nodeId, tombstone TTL.
    static let disconnectScript = LuaScript("""
        local p = 'parley:presence:'
        local user = p .. 'user:' .. ARGV[1]
        redis.call('SET', p .. 'tomb:' .. ARGV[2], '1', 'EX', ARGV[4])
        local removed = redis.call('HDEL', user, ARGV[2])
        redis.call('SREM', p .. 'node:' .. ARGV[3], ARGV[1] .. '|' .. ARGV[2])
        local n = redis.call('HLEN', user)
        if removed == 1 and n == 0 then return {1, 0} end
        return {0, n}
        """)

    // ARGV: nodeId, tombstone TTL. Does nothing while the node's heartbeat lives.
    static let reapScript = LuaScript("""
        local p = 'parley:presence:'
        if redis.call('EXISTS', p .. 'alive:' .. ARGV[1]) == 1 then return {} end
        local offline = {}
        for _, entry in ipairs(redis.call('SMEMBERS', p .. 'node:' .. ARGV[1])) do
          local sep = string.find(entry, '|', 1, true)
          local userId = string.sub(entry, 1, sep - 1)
          local connection = string.sub(entry, sep + 1)
          redis.call('SET', p .. 'tomb:' .. connection, '1', 'EX', ARGV[2])
          if redis.call('HDEL', p .. 'user:' .. userId, connection) == 1 and redis.call('HLEN', p .. 'user:' .. userId) == 0 then
            table.insert(offline, userId)
          end
        end
        redis.call('DEL', p .. 'node:' .. ARGV[1])
        redis.call('SREM', p .. 'nodes', ARGV[1])
        return offline
        """)
}

extension PresenceStore {
    /// `value` with every user's `isOnline` as presence has it now.
    public func withLiveStatus<T: UserShaped>(_ value: T) async throws -> T {
        var copy = value
        copy.setOnline(try await online(value.userIds))
        return copy
    }
}
