import Foundation

/// `chat.create_group`: a group named `chatName` of `adminId` and `memberIds`; the creator is
/// its admin.
public struct ChatCreateGroup: Codable, Sendable, Equatable {
    /// Chosen by the gateway (UUIDv7) so that a redelivery finds the group it made.
    public var chatId: UUID
    public var adminId: UUID
    public var chatName: String
    /// The other members, without the admin.
    public var memberIds: [UUID]

    public init(chatId: UUID, adminId: UUID, chatName: String, memberIds: [UUID]) {
        self.chatId = chatId
        self.adminId = adminId
        self.chatName = chatName
        self.memberIds = memberIds
    }
}

/// `chat.rename`: a group's admin gives it a new name.
public struct ChatRename: Codable, Sendable, Equatable {
    public var chatId: UUID
    public var actorId: UUID
    public var chatName: String

    public init(chatId: UUID, actorId: UUID, chatName: String) {
        self.chatId = chatId
        self.actorId = actorId
        self.chatName = chatName
    }
}

/// `chat.add_member` / `chat.remove_member`: `actorId` adds or removes `userId`. Only a group's
/// admin adds or removes others; any member may remove itself (leave).
public struct ChatMemberChange: Codable, Sendable, Equatable {
    public var chatId: UUID
    public var actorId: UUID
    public var userId: UUID

    public init(chatId: UUID, actorId: UUID, userId: UUID) {
        self.chatId = chatId
        self.actorId = actorId
        self.userId = userId
    }
}

/// `chat.clear`: hides a chat's history for one member, up to the moment they asked.
public struct ChatClear: Codable, Sendable, Equatable {
    public var chatId: UUID
    public var userId: UUID
    /// The newest message id hidden: every message id at or below it (UUIDv7s sort by time), so
    /// a redelivery hides exactly what the first delivery hid.
    public var through: UUID

    public init(chatId: UUID, userId: UUID, through: UUID) {
        self.chatId = chatId
        self.userId = userId
        self.through = through
    }
}
