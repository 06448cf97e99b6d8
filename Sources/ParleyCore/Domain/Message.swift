import Foundation

/// The kind of a message, from its content (for files: from the sniffed type, never the client's word).
public enum MessageType: String, Codable, Sendable {
    case text, image, file, video, audio
}

/// What a message carries; a deleted message carries nothing.
public struct MessageContent: Codable, Sendable, Equatable {
    public var text: String?
    public var fileUrl: String?
    public var fileName: String?
    public var originalName: String?
    public var fileSize: Int?
    public var mimeType: String?
    public var thumbnail: String?
    public var duration: Double?
    public var dimensions: Dimensions?

    public init(text: String? = nil) {
        self.text = text
    }

    public struct Dimensions: Codable, Sendable, Equatable {
        public var width: Int
        public var height: Int

        public init(width: Int, height: Int) {
            self.width = width
            self.height = height
        }
    }
}

/// A message as clients see it (`shared/api.md`).
public struct Message: Codable, Sendable, Equatable {
    public var id: UUID
    public var chatId: UUID
    public var sender: User
    public var messageType: MessageType
    public var content: MessageContent
    public var isEdited: Bool
    public var editedAt: Date?
    public var isDeleted: Bool
    public var deletedAt: Date?
    public var clientMessageId: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: UUID, chatId: UUID, sender: User, messageType: MessageType, content: MessageContent,
        isEdited: Bool, editedAt: Date?, isDeleted: Bool, deletedAt: Date?, clientMessageId: String?,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id
        self.chatId = chatId
        self.sender = sender
        self.messageType = messageType
        self.content = content
        self.isEdited = isEdited
        self.editedAt = editedAt
        self.isDeleted = isDeleted
        self.deletedAt = deletedAt
        self.clientMessageId = clientMessageId
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id.lowercased, forKey: .id)
        try c.encode(chatId.lowercased, forKey: .chatId)
        try c.encode(sender, forKey: .sender)
        try c.encode(messageType, forKey: .messageType)
        try c.encode(content, forKey: .content)
        try c.encode(isEdited, forKey: .isEdited)
        try c.encode(editedAt, forKey: .editedAt)
        try c.encode(isDeleted, forKey: .isDeleted)
        try c.encode(deletedAt, forKey: .deletedAt)
        try c.encodeIfPresent(clientMessageId, forKey: .clientMessageId)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}

/// Limits on what clients may send, shared by the gateway's validation and the workers.
public enum Limits {
    /// Longest message text, in characters.
    public static let messageText = 10_000
    /// Longest `clientMessageId`, in characters.
    public static let clientMessageId = 128
    /// Longest first or last name, in characters.
    public static let name = 100
    /// Longest email address, in characters.
    public static let email = 254
    /// Shortest password, in characters.
    public static let minPassword = 8
    /// Longest password, in bytes (bcrypt reads 72 at most).
    public static let maxPasswordBytes = 72
    /// Longest profile image URL, in characters.
    public static let imageURL = 2048
    /// Longest group name, in characters.
    public static let chatName = 100
    /// Most members a group holds, its admin included (every message fans out to each).
    public static let groupMembers = 500
    /// Most chats one page of the chat list holds.
    public static let chatPage = 200
    /// Longest `User-Agent` kept as a user's device.
    public static let deviceInfo = 512
    /// Most users one status query names.
    public static let statusBatch = 200
    /// Most messages one history page holds.
    public static let historyPage = 200
    /// Most users one search page holds.
    public static let userPage = 100
}
