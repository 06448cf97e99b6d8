import Foundation
import ParleyCore
import PostgresNIO

/// Chats and their members. Reads serve the gateway; writes are the message worker's.
public struct ChatRepository: Sendable {
    let database: Database

    /// Name of 1:1 chats, as the app Parley replaces stored it; clients show the other member.
    public static let directChatName = "sender"

    /// Where a user stands in a chat.
    public enum Membership: Sendable, Equatable {
        case noSuchChat, notMember, member
    }

    public func membership(chatId: UUID, userId: UUID) async throws -> Membership {
        try await database.run {
            let rows = try await database.client.query(
                """
                SELECT EXISTS (SELECT 1 FROM chat_members WHERE chat_id = c.id AND user_id = \(userId))
                FROM chats c WHERE c.id = \(chatId)
                """, logger: database.logger)
            for try await isMember in rows.decode(Bool.self) { return isMember ? .member : .notMember }
            return .noSuchChat
        }
    }

    /// The id of the 1:1 chat of two users, if they have one.
    public func findDirect(between a: UUID, and b: UUID) async throws -> UUID? {
        try await database.run {
            let rows = try await database.client.query(
                "SELECT id FROM chats WHERE direct_key = \(Self.directKey(a, b))", logger: database.logger)
            for try await id in rows.decode(UUID.self) { return id }
            return nil
        }
    }

    /// Finds or creates the one 1:1 chat of two users; two concurrent calls agree on one chat.
    /// - Returns: the chat's id and whether this call created it.
    public func createDirect(chatId: UUID, between a: UUID, and b: UUID) async throws -> (id: UUID, created: Bool) {
        let key = Self.directKey(a, b)
        return try await database.run {
            try await database.client.withTransaction(logger: database.logger) { connection in
                // A concurrent creator blocks here on the unique key until it commits, then
                // this insert does nothing and the select below sees its chat.
                let inserted = try await connection.query(
                    """
                    INSERT INTO chats (id, chat_name, is_group, direct_key) VALUES (\(chatId), \(Self.directChatName), false, \(key))
                    ON CONFLICT (direct_key) DO NOTHING RETURNING id
                    """, logger: database.logger)
                for try await _ in inserted.decode(UUID.self) {
                    try await connection.query(
                        "INSERT INTO chat_members (chat_id, user_id) VALUES (\(chatId), \(a)), (\(chatId), \(b))",
                        logger: database.logger)
                    return (chatId, true)
                }
                let existing = try await connection.query("SELECT id FROM chats WHERE direct_key = \(key)", logger: database.logger)
                for try await id in existing.decode(UUID.self) { return (id, false) }
                throw StoreError(ParleyError(.internal, "1:1 chat vanished while being created"))
            }
        }
    }

    /// The chat as `viewer` sees it: members, admin, latest message and the viewer's unread count.
    public func chat(id: UUID, viewer: UUID) async throws -> Chat? {
        try await database.run {
            let client = database.client
            let logger = database.logger
            let chatRows = try await client.query(
                "SELECT chat_name, is_group, group_admin_id, created_at, updated_at FROM chats WHERE id = \(id)",
                logger: logger)
            var found: (String, Bool, UUID?, Date, Date)?
            for try await row in chatRows.decode((String, Bool, UUID?, Date, Date).self) { found = row }
            guard let (name, isGroup, adminId, createdAt, updatedAt) = found else { return nil }

            let members = try await Rows.users(client.query(
                """
                SELECT \(unescaped: Rows.userColumns) FROM chat_members cm JOIN users u ON u.id = cm.user_id
                WHERE cm.chat_id = \(id) ORDER BY cm.joined_at, u.id
                """, logger: logger), viewer: viewer)
            let latest = try await Rows.messages(client.query(
                """
                SELECT \(unescaped: Rows.messageColumns) FROM messages m JOIN users u ON u.id = m.sender_id
                WHERE m.chat_id = \(id) ORDER BY m.id DESC LIMIT 1
                """, logger: logger), viewer: viewer).first
            let unreadRows = try await client.query(
                """
                SELECT count(*) FROM chat_members cm JOIN messages m ON m.chat_id = cm.chat_id
                WHERE cm.chat_id = \(id) AND cm.user_id = \(viewer) AND m.sender_id <> \(viewer)
                  AND m.deleted_at IS NULL
                  AND (cm.last_read_message_id IS NULL OR m.id > cm.last_read_message_id)
                  AND (cm.cleared_at IS NULL OR m.created_at > cm.cleared_at)
                """, logger: logger)
            var unread = 0
            for try await n in unreadRows.decode(Int.self) { unread = n }
            return Chat(
                id: id, chatName: name, isGroupChat: isGroup, users: members,
                groupAdmin: members.first { $0.id == adminId }, latestMessage: latest, unreadCount: unread,
                createdAt: createdAt, updatedAt: updatedAt
            )
        }
    }

    /// The ids of a chat's members, for fan-out.
    public func memberIds(chatId: UUID) async throws -> [UUID] {
        try await database.run {
            let rows = try await database.client.query(
                "SELECT user_id FROM chat_members WHERE chat_id = \(chatId)", logger: database.logger)
            var ids: [UUID] = []
            for try await id in rows.decode(UUID.self) { ids.append(id) }
            return ids
        }
    }

    /// One key per unordered pair of users, so that the pair has at most one 1:1 chat.
    static func directKey(_ a: UUID, _ b: UUID) -> String {
        let (x, y) = (a.lowercased, b.lowercased)
        return x < y ? "\(x):\(y)" : "\(y):\(x)"
    }
}
