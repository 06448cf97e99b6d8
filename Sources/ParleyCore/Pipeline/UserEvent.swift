import Foundation

/// An event for one user's sockets, published on `parley:user:{userId}`.
///
/// Encoded as `[name, payload]`, the arguments of the Socket.IO event clients receive, so that a
/// gateway forwards the bytes to sockets as they are, reading no more than the name.
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

    public init(from decoder: any Decoder) throws {
        var c = try decoder.unkeyedContainer()
        let name = try c.decode(String.self)
        switch name {
        case "message_received": self = .messageReceived(try c.decode(Message.self))
        case "message_updated": self = .messageUpdated(try c.decode(Message.self))
        case "message_deleted": self = .messageDeleted(try c.decode(MessageDeletion.self))
        case "messages_read": self = .messagesRead(try c.decode(ReadMark.self))
        case "typing": self = .typing(try c.decode(TypingNotice.self))
        case "stop_typing": self = .stopTyping(try c.decode(TypingNotice.self))
        case "chat_updated": self = .chatUpdated(try c.decode(Chat.self))
        case "user_status_change": self = .userStatusChange(try c.decode(UserStatus.self))
        default:
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "unknown event \(name)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.unkeyedContainer()
        try c.encode(name)
        switch self {
        case .messageReceived(let m), .messageUpdated(let m): try c.encode(m)
        case .messageDeleted(let d): try c.encode(d)
        case .messagesRead(let r): try c.encode(r)
        case .typing(let t), .stopTyping(let t): try c.encode(t)
        case .chatUpdated(let chat): try c.encode(chat)
        case .userStatusChange(let status): try c.encode(status)
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

extension UserEvent {
    /// The wire form of `.messageReceived` around the message's JSON, as the encoder would
    /// write it (see ``CommandReply/encodedMessageReply(commandId:messageJSON:created:)``).
    public static func encodedMessageReceived(messageJSON: [UInt8]) -> [UInt8] {
        let head = #"["message_received","#.utf8
        var out: [UInt8] = []
        out.reserveCapacity(head.count + messageJSON.count + 1)
        out += head
        out += messageJSON
        out.append(UInt8(ascii: "]"))
        return out
    }
}

/// Redis channel names shared by publishers and subscribers (`design.md`, Redis contracts).
public enum Channels {
    /// Events for every socket of one user.
    public static func user(_ id: UUID) -> String {
        // Written in place: interpolation made the id's text and then the name.
        String(unsafeUninitializedCapacity: userChannelLength) { writeUser(id, into: $0) }
    }

    /// `body` over the bytes of ``user(_:)``, written on the stack: the message worker names a
    /// channel for every member of every message's chat, and a `String` each was an allocation.
    public static func withUser<R>(_ id: UUID, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: userChannelLength) { buffer in
            try body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: buffer[..<writeUser(id, into: buffer)])))
        }
    }

    private static func writeUser(_ id: UUID, into buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
        id.writeText(uppercase: false, into: buffer, at: buffer.initialize(fromContentsOf: userPrefix.utf8))
    }

    /// The user a `parley:user:{id}` channel's name, as bytes, belongs to.
    public static func userId(fromChannel bytes: UnsafeRawBufferPointer) -> UUID? {
        // On the bytes in place: `hasPrefix` and `dropFirst` on a string walk characters, and
        // `starts(with:)` on its UTF-8 view steps through both views one index at a time (each
        // showed in the gateway's profile, which asks for every event it routes).
        let prefix = userPrefixBytes.count
        guard bytes.count == prefix + 36, memcmp(bytes.baseAddress!, userPrefixBytes, prefix) == 0 else { return nil }
        return UUID(utf8: UnsafeBufferPointer(rebasing: bytes.assumingMemoryBound(to: UInt8.self)[prefix...]))
    }

    private static let userPrefix = "parley:user:"
    private static let userPrefixBytes = Array(userPrefix.utf8)
    /// The length of every ``user(_:)`` channel's name.
    public static let userChannelLength = userPrefix.utf8.count + 36

    /// Replies for one gateway node.
    public static func node(_ id: String) -> String { "parley:node:\(id)" }
}

/// A published ``UserEvent`` as bytes: its name and its payload's JSON, found by scanning rather
/// than decoding (a gateway forwards thousands a second).
public struct EventWire: Sendable {
    public let name: String
    /// The payload's JSON text, as the worker wrote it.
    public let payload: ArraySlice<UInt8>

    /// Reads `["name",payload]`; nil for anything else.
    public init?(_ bytes: [UInt8]) {
        let quote = UInt8(ascii: "\"")
        guard bytes.count > 5, bytes[0] == UInt8(ascii: "["), bytes[1] == quote, bytes.last == UInt8(ascii: "]") else { return nil }
        var i = 2
        while i < bytes.count, bytes[i] != quote {
            // Event names are plain words; an escape means this is not one of ours.
            guard bytes[i] != UInt8(ascii: "\\") else { return nil }
            i += 1
        }
        guard i + 2 < bytes.count, bytes[i + 1] == UInt8(ascii: ",") else { return nil }
        name = String(decoding: bytes[2..<i], as: UTF8.self)
        payload = bytes[(i + 2)..<(bytes.count - 1)]
    }
}
