import Foundation

/// `presence.connect` / `presence.disconnect`: one socket of a user came or went on a gateway
/// node.
public struct PresenceChange: Codable, Sendable, Equatable {
    public var userId: UUID
    /// Unique per socket across the cluster: a disconnect names the connect it ends.
    public var connectionId: String
    /// The node's presence id (one per gateway process run), whose heartbeat keeps the
    /// connection alive.
    public var nodeId: String
    public var at: Date
    /// The client's address and `User-Agent`, recorded on connect.
    public var ip: String?
    public var userAgent: String?

    public init(userId: UUID, connectionId: String, nodeId: String, at: Date = Date(), ip: String? = nil, userAgent: String? = nil) {
        self.userId = userId
        self.connectionId = connectionId
        self.nodeId = nodeId
        self.at = at
        self.ip = ip
        self.userAgent = userAgent
    }
}

/// `presence.heartbeat`: the node is alive; its connections stay for `ttlSeconds` more.
public struct NodeHeartbeat: Codable, Sendable, Equatable {
    public var nodeId: String
    public var ttlSeconds: Int

    public init(nodeId: String, ttlSeconds: Int) {
        self.nodeId = nodeId
        self.ttlSeconds = ttlSeconds
    }
}

/// `user_status_change`'s payload and an entry of `GET /api/users/status`. `lastSeen` is `null`
/// when the user hides it.
public struct UserStatus: Codable, Sendable, Equatable {
    public var userId: UUID
    public var isOnline: Bool
    public var lastSeen: Date?

    public init(userId: UUID, isOnline: Bool, lastSeen: Date?) {
        self.userId = userId
        self.isOnline = isOnline
        self.lastSeen = lastSeen
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(userId.lowercased, forKey: .userId)
        try c.encode(isOnline, forKey: .isOnline)
        try c.encode(lastSeen, forKey: .lastSeen)
    }
}
