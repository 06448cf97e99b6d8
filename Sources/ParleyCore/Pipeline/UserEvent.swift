import Foundation

/// An event for one user's sockets, published on `parley:user:{userId}`.
///
/// Encoded as `{"event": name, "data": payload}`: the event name is the Socket.IO event clients
/// receive.
public enum UserEvent: Codable, Sendable, Equatable {
    case messageReceived(Message)
    case messageUpdated(Message)
    case messageDeleted(MessageDeletion)
    case messagesRead(ReadMark)
    case typing(TypingNotice)
    case stopTyping(TypingNotice)
    case chatUpdated(Chat)
    case userStatusChange(UserStatus)

    public var name: String {
        switch self {
        case .messageReceived: "message_received"
        case .messageUpdated: "message_updated"
        case .messageDeleted: "message_deleted"
        case .messagesRead: "messages_read"
        case .typing: "typing"
        case .stopTyping: "stop_typing"
        case .chatUpdated: "chat_updated"
        case .userStatusChange: "user_status_change"
        }
    }

    enum CodingKeys: String, CodingKey { case event, data }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .event)
        switch name {
        case "message_received": self = .messageReceived(try c.decode(Message.self, forKey: .data))
        case "message_updated": self = .messageUpdated(try c.decode(Message.self, forKey: .data))
        case "message_deleted": self = .messageDeleted(try c.decode(MessageDeletion.self, forKey: .data))
        case "messages_read": self = .messagesRead(try c.decode(ReadMark.self, forKey: .data))
        case "typing": self = .typing(try c.decode(TypingNotice.self, forKey: .data))
        case "stop_typing": self = .stopTyping(try c.decode(TypingNotice.self, forKey: .data))
        case "chat_updated": self = .chatUpdated(try c.decode(Chat.self, forKey: .data))
        case "user_status_change": self = .userStatusChange(try c.decode(UserStatus.self, forKey: .data))
        default:
            throw DecodingError.dataCorruptedError(forKey: .event, in: c, debugDescription: "unknown event \(name)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .event)
        switch self {
        case .messageReceived(let m), .messageUpdated(let m): try c.encode(m, forKey: .data)
        case .messageDeleted(let d): try c.encode(d, forKey: .data)
        case .messagesRead(let r): try c.encode(r, forKey: .data)
        case .typing(let t), .stopTyping(let t): try c.encode(t, forKey: .data)
        case .chatUpdated(let chat): try c.encode(chat, forKey: .data)
        case .userStatusChange(let status): try c.encode(status, forKey: .data)
        }
    }
}

/// `message_deleted`'s payload: which message, where, and when; the content is gone.
public struct MessageDeletion: Codable, Sendable, Equatable {
    public var id: UUID
    public var chatId: UUID
    public var deletedAt: Date

    public init(id: UUID, chatId: UUID, deletedAt: Date) {
        self.id = id
        self.chatId = chatId
        self.deletedAt = deletedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(chatId.lowercased, forKey: .chatId)
        try c.encode(deletedAt, forKey: .deletedAt)
    }
}

/// A member's read mark in a chat: the payload of `messages_read`, and of the `chat.read`
/// command that moves it.
public struct ReadMark: Codable, Sendable, Equatable {
    public var chatId: UUID
    public var userId: UUID
    public var messageId: UUID

    public init(chatId: UUID, userId: UUID, messageId: UUID) {
        self.chatId = chatId
        self.userId = userId
        self.messageId = messageId
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chatId.lowercased, forKey: .chatId)
        try c.encode(userId.lowercased, forKey: .userId)
        try c.encode(messageId.lowercased, forKey: .messageId)
    }
}

/// `typing` / `stop_typing`: who is typing where. Ephemeral: relayed, never stored.
public struct TypingNotice: Codable, Sendable, Equatable {
    public var chatId: UUID
    public var userId: UUID

    public init(chatId: UUID, userId: UUID) {
        self.chatId = chatId
        self.userId = userId
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(chatId.lowercased, forKey: .chatId)
        try c.encode(userId.lowercased, forKey: .userId)
    }
}

/// Redis channel names shared by publishers and subscribers (`design.md`, Redis contracts).
public enum Channels {
    /// Events for every socket of one user.
    public static func user(_ id: UUID) -> String { "parley:user:\(id.lowercased)" }
    /// The user a `parley:user:{id}` channel belongs to.
    public static func userId(fromChannel channel: String) -> UUID? {
        guard channel.hasPrefix(userPrefix) else { return nil }
        return UUID(uuidString: String(channel.dropFirst(userPrefix.count)))
    }

    private static let userPrefix = "parley:user:"

    /// Replies for one gateway node.
    public static func node(_ id: String) -> String { "parley:node:\(id)" }
}
