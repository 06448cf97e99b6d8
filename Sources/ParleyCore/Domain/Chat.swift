import Foundation

/// A 1:1 or group chat as clients see it (`shared/api.md`).
public struct Chat: Codable, Sendable, Equatable {
    public var id: UUID
    public var chatName: String
    public var isGroupChat: Bool
    public var users: [User]
    public var groupAdmin: User?
    public var latestMessage: Message?
    public var unreadCount: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, chatName: String, isGroupChat: Bool, users: [User], groupAdmin: User?,
        latestMessage: Message?, unreadCount: Int, createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.chatName = chatName
        self.isGroupChat = isGroupChat
        self.users = users
        self.groupAdmin = groupAdmin
        self.latestMessage = latestMessage
        self.unreadCount = unreadCount
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(chatName, forKey: .chatName)
        try c.encode(isGroupChat, forKey: .isGroupChat)
        try c.encode(users, forKey: .users)
        try c.encode(groupAdmin, forKey: .groupAdmin)
        try c.encode(latestMessage, forKey: .latestMessage)
        try c.encode(unreadCount, forKey: .unreadCount)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}
