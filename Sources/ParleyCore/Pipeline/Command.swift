import Foundation

/// The routing key of a command on the `parley` exchange; also its `type` field.
public enum CommandType: String, Codable, Sendable, CaseIterable {
    case messageCreate = "message.create"
    case messageEdit = "message.edit"
    case messageDelete = "message.delete"
    case chatCreateDirect = "chat.create_direct"
    case chatRead = "chat.read"
    case chatCreateGroup = "chat.create_group"
    case chatRename = "chat.rename"
    case chatAddMember = "chat.add_member"
    case chatRemoveMember = "chat.remove_member"
    case chatClear = "chat.clear"
    case mediaProcess = "media.process"
    case presenceConnect = "presence.connect"
    case presenceDisconnect = "presence.disconnect"
    case presenceHeartbeat = "presence.heartbeat"
}

/// A command as it travels through RabbitMQ (`design.md`, queue contracts).
///
/// `id` is the idempotency key: a redelivered command with an applied `id` changes nothing and
/// still replies.
public struct Command: Codable, Sendable, Equatable {
    public var id: UUID
    public var type: CommandType
    public var issuedAt: Date
    /// The gateway node waiting for the reply, if any.
    public var replyTo: String?
    /// How many times applying it failed for a passing reason (0 the first time); it decides the
    /// next wait in the delay queues, and when to park it.
    public var attempt: Int
    public var payload: Payload

    public init(id: UUID = UUIDv7.make(), issuedAt: Date = Date(), replyTo: String?, payload: Payload) {
        self.id = id
        self.type = payload.type
        self.issuedAt = issuedAt
        self.replyTo = replyTo
        self.attempt = 0
        self.payload = payload
    }

    /// What a command asks for; its case decides the `type`.
    public enum Payload: Sendable, Equatable {
        case messageCreate(MessageCreate)
        case messageEdit(MessageEdit)
        case messageDelete(MessageDelete)
        case chatCreateDirect(ChatCreateDirect)
        /// `chat.read`: a member has read a chat up to a message; the mark never moves back.
        case chatRead(ReadMark)
        case chatCreateGroup(ChatCreateGroup)
        case chatRename(ChatRename)
        case chatAddMember(ChatMemberChange)
        /// `chat.remove_member`: by the admin, or by the member itself (leaving).
        case chatRemoveMember(ChatMemberChange)
        case chatClear(ChatClear)
        /// `media.process`: check a staged upload, store it, then create its message.
        case mediaProcess(MediaProcess)
        case presenceConnect(PresenceChange)
        case presenceDisconnect(PresenceChange)
        case presenceHeartbeat(NodeHeartbeat)

        public var type: CommandType {
            switch self {
            case .messageCreate: .messageCreate
            case .messageEdit: .messageEdit
            case .messageDelete: .messageDelete
            case .chatCreateDirect: .chatCreateDirect
            case .chatRead: .chatRead
            case .chatCreateGroup: .chatCreateGroup
            case .chatRename: .chatRename
            case .chatAddMember: .chatAddMember
            case .chatRemoveMember: .chatRemoveMember
            case .chatClear: .chatClear
            case .mediaProcess: .mediaProcess
            case .presenceConnect: .presenceConnect
            case .presenceDisconnect: .presenceDisconnect
            case .presenceHeartbeat: .presenceHeartbeat
            }
        }
    }

    enum CodingKeys: String, CodingKey { case id, type, issuedAt, replyTo, attempt, payload }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(UUID.self, forKey: .id)
        type = try c.decode(CommandType.self, forKey: .type)
        issuedAt = try c.decode(Date.self, forKey: .issuedAt)
        replyTo = try c.decodeIfPresent(String.self, forKey: .replyTo)
        attempt = try c.decodeIfPresent(Int.self, forKey: .attempt) ?? 0
        switch type {
        case .messageCreate: payload = .messageCreate(try c.decode(MessageCreate.self, forKey: .payload))
        case .messageEdit: payload = .messageEdit(try c.decode(MessageEdit.self, forKey: .payload))
        case .messageDelete: payload = .messageDelete(try c.decode(MessageDelete.self, forKey: .payload))
        case .chatCreateDirect: payload = .chatCreateDirect(try c.decode(ChatCreateDirect.self, forKey: .payload))
        case .chatRead: payload = .chatRead(try c.decode(ReadMark.self, forKey: .payload))
        case .chatCreateGroup: payload = .chatCreateGroup(try c.decode(ChatCreateGroup.self, forKey: .payload))
        case .chatRename: payload = .chatRename(try c.decode(ChatRename.self, forKey: .payload))
        case .chatAddMember: payload = .chatAddMember(try c.decode(ChatMemberChange.self, forKey: .payload))
        case .chatRemoveMember: payload = .chatRemoveMember(try c.decode(ChatMemberChange.self, forKey: .payload))
        case .chatClear: payload = .chatClear(try c.decode(ChatClear.self, forKey: .payload))
        case .mediaProcess: payload = .mediaProcess(try c.decode(MediaProcess.self, forKey: .payload))
        case .presenceConnect: payload = .presenceConnect(try c.decode(PresenceChange.self, forKey: .payload))
        case .presenceDisconnect: payload = .presenceDisconnect(try c.decode(PresenceChange.self, forKey: .payload))
        case .presenceHeartbeat: payload = .presenceHeartbeat(try c.decode(NodeHeartbeat.self, forKey: .payload))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(type, forKey: .type)
        try c.encode(issuedAt, forKey: .issuedAt)
        try c.encodeIfPresent(replyTo, forKey: .replyTo)
        if attempt > 0 { try c.encode(attempt, forKey: .attempt) }
        switch payload {
        case .messageCreate(let p): try c.encode(p, forKey: .payload)
        case .messageEdit(let p): try c.encode(p, forKey: .payload)
        case .messageDelete(let p): try c.encode(p, forKey: .payload)
        case .chatCreateDirect(let p): try c.encode(p, forKey: .payload)
        case .chatRead(let p): try c.encode(p, forKey: .payload)
        case .chatCreateGroup(let p): try c.encode(p, forKey: .payload)
        case .chatRename(let p): try c.encode(p, forKey: .payload)
        case .chatAddMember(let p), .chatRemoveMember(let p): try c.encode(p, forKey: .payload)
        case .chatClear(let p): try c.encode(p, forKey: .payload)
        case .mediaProcess(let p): try c.encode(p, forKey: .payload)
        case .presenceConnect(let p), .presenceDisconnect(let p): try c.encode(p, forKey: .payload)
        case .presenceHeartbeat(let p): try c.encode(p, forKey: .payload)
        }
    }
}

/// `message.create`: store a new message in a chat, once.
public struct MessageCreate: Codable, Sendable, Equatable {
    /// Chosen by the gateway (UUIDv7) so that a redelivery writes the same row.
    public var messageId: UUID
    public var chatId: UUID
    public var senderId: UUID
    public var messageType: MessageType
    public var text: String?
    /// The client's own key: the same key from the same sender means the same message.
    public var clientMessageId: String?
    /// The stored file a media message carries (its `files` row, written by the media worker).
    public var fileId: UUID?
    /// True when the gateway took the message from the sender's live socket: the sender is
    /// online, and the worker need not ask presence (a Redis round trip per batch). Absent, the
    /// worker reads the sender's presence.
    public var senderOnline: Bool?

    public init(
        messageId: UUID, chatId: UUID, senderId: UUID, messageType: MessageType, text: String?, clientMessageId: String?,
        fileId: UUID? = nil, senderOnline: Bool? = nil
    ) {
        self.messageId = messageId
        self.chatId = chatId
        self.senderId = senderId
        self.messageType = messageType
        self.text = text
        self.clientMessageId = clientMessageId
        self.fileId = fileId
        self.senderOnline = senderOnline
    }
}

/// `message.edit`: replace a message's text; only its sender may.
public struct MessageEdit: Codable, Sendable, Equatable {
    public var messageId: UUID
    public var editorId: UUID
    public var text: String

    public init(messageId: UUID, editorId: UUID, text: String) {
        self.messageId = messageId
        self.editorId = editorId
        self.text = text
    }
}

/// `message.delete`: soft-delete a message; its sender or the group's admin may.
public struct MessageDelete: Codable, Sendable, Equatable {
    public var messageId: UUID
    public var actorId: UUID

    public init(messageId: UUID, actorId: UUID) {
        self.messageId = messageId
        self.actorId = actorId
    }
}

/// `chat.create_direct`: find or create the one 1:1 chat of two users.
public struct ChatCreateDirect: Codable, Sendable, Equatable {
    /// Used only if the chat does not exist yet.
    public var chatId: UUID
    public var userId: UUID
    public var otherUserId: UUID

    public init(chatId: UUID, userId: UUID, otherUserId: UUID) {
        self.chatId = chatId
        self.userId = userId
        self.otherUserId = otherUserId
    }
}

/// A command that arrived on another worker's queue: parked, never applied.
public struct MisroutedCommand: Error, CustomStringConvertible {
    public let type: CommandType
    public let worker: String

    public init(type: CommandType, worker: String) {
        self.type = type
        self.worker = worker
    }

    public var description: String { "\(type.rawValue) is not a command of the \(worker) worker" }
}

/// A command that could not be applied, as it waits in `parley.parked`: what it was, where it
/// came from, and why it was given up.
public struct ParkedCommand: Codable, Sendable, Equatable {
    public var reason: String
    /// The queue it was taken from and the routing key to publish it again with.
    public var queue: String
    public var routingKey: String
    public var parkedAt: Date
    /// The message as it arrived (UTF-8; a command is JSON).
    public var body: String

    public init(reason: String, queue: String, routingKey: String, parkedAt: Date = Date(), body: String) {
        self.reason = reason
        self.queue = queue
        self.routingKey = routingKey
        self.parkedAt = parkedAt
        self.body = body
    }
}
