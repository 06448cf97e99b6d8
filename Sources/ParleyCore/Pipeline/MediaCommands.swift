import Foundation

/// `media.process`: an upload the gateway staged, with what the client said about it. The media
/// worker trusts none of the client's words about the bytes: it sniffs them.
public struct MediaProcess: Codable, Sendable, Equatable {
    /// The staged file's name (`staging/<uploadId>`) and the stored file's id.
    public var uploadId: UUID
    /// Chosen by the gateway (UUIDv7), so that a redelivery creates the same message.
    public var messageId: UUID
    public var chatId: UUID
    public var senderId: UUID
    /// The caption.
    public var text: String?
    public var clientMessageId: String?
    /// The part's `Content-Type`, if it named one: the sniffed type must agree with it.
    public var declaredType: String?
    /// The file name the client gave (shown and offered on download, never used as a path).
    public var originalName: String
    /// Size and SHA-256 (hex) of the staged bytes, counted while they streamed in.
    public var size: Int
    public var sha256: String

    public init(
        uploadId: UUID, messageId: UUID, chatId: UUID, senderId: UUID, text: String?, clientMessageId: String?,
        declaredType: String?, originalName: String, size: Int, sha256: String
    ) {
        self.uploadId = uploadId
        self.messageId = messageId
        self.chatId = chatId
        self.senderId = senderId
        self.text = text
        self.clientMessageId = clientMessageId
        self.declaredType = declaredType
        self.originalName = originalName
        self.size = size
        self.sha256 = sha256
    }
}

/// A file as stored: one row of `files` per accepted upload; the same bytes uploaded twice share
/// one object.
public struct StoredFile: Sendable, Equatable {
    public var id: UUID
    /// SHA-256 (hex) of the stored bytes: the object's key.
    public var sha256: String
    public var size: Int
    public var mimeType: String
    public var dimensions: MessageContent.Dimensions?
    public var hasThumbnail: Bool
    public var originalName: String
    public var uploaderId: UUID

    public init(
        id: UUID, sha256: String, size: Int, mimeType: String, dimensions: MessageContent.Dimensions?, hasThumbnail: Bool,
        originalName: String, uploaderId: UUID
    ) {
        self.id = id
        self.sha256 = sha256
        self.size = size
        self.mimeType = mimeType
        self.dimensions = dimensions
        self.hasThumbnail = hasThumbnail
        self.originalName = originalName
        self.uploaderId = uploaderId
    }

    /// The kind of message a file of `mimeType` makes.
    public static func messageType(of mimeType: String) -> MessageType {
        switch mimeType.split(separator: "/").first {
        case "image": .image
        case "video": .video
        case "audio": .audio
        default: .file
        }
    }
}

/// Names Parley gives stored files.
public enum MediaNames {
    /// The name a file is offered under besides the client's own: its id and the extension of
    /// its real type.
    public static func storedName(fileId: UUID, mimeType: String) -> String {
        "\(fileId.lowercased).\(fileExtension(of: mimeType))"
    }

    public static func fileExtension(of mimeType: String) -> String {
        switch mimeType {
        case "image/jpeg": "jpg"
        case "image/png": "png"
        case "image/gif": "gif"
        case "image/webp": "webp"
        case "application/pdf": "pdf"
        case "text/plain": "txt"
        case "video/mp4": "mp4"
        case "audio/mpeg": "mp3"
        default: "bin"
        }
    }
}
