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

    /// The chat as `viewer` (a member) sees it: members, admin, latest message and the viewer's
    /// unread count; `nil` if it does not exist or `viewer` is not in it.
    public func chat(id: UUID, viewer: UUID) async throws -> Chat? {
        try await chats(of: viewer, only: id, limit: 1).first
    }

    /// `viewer`'s chats, latest activity (newest message, else creation) first.
    ///
    /// Three queries whatever the number of chats: the chats with their latest message id and
    /// unread count, then every member of them, then the latest messages.
    public func chats(of viewer: UUID, only chatId: UUID? = nil, limit: Int = 200) async throws -> [Chat] {
        try await database.run {
            let client = database.client
            let logger = database.logger
            let zero = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            let rows = try await client.query(
                """
                SELECT c.id, c.chat_name, c.is_group, c.group_admin_id, c.created_at, c.updated_at, last.id, unread.n
                FROM chat_members cm
                JOIN chats c ON c.id = cm.chat_id
                LEFT JOIN LATERAL (
                    SELECT m.id, m.created_at FROM messages m WHERE m.chat_id = c.id ORDER BY m.id DESC LIMIT 1
                ) last ON true
                CROSS JOIN LATERAL (
                    SELECT count(*) AS n FROM messages m
                    WHERE m.chat_id = c.id AND m.id > COALESCE(cm.last_read_message_id, \(zero))
                      AND m.sender_id <> \(viewer) AND m.deleted_at IS NULL
                      AND (cm.cleared_at IS NULL OR m.created_at > cm.cleared_at)
                ) unread
                WHERE cm.user_id = \(viewer) AND (\(chatId)::uuid IS NULL OR c.id = \(chatId))
                ORDER BY COALESCE(last.created_at, c.created_at) DESC, c.id DESC
                LIMIT \(limit)
                """, logger: logger)
            typealias ChatRow = (UUID, String, Bool, UUID?, Date, Date, UUID?, Int)
            var found: [ChatRow] = []
            for try await row in rows.decode(ChatRow.self) { found.append(row) }
            guard !found.isEmpty else { return [] }

            var members: [UUID: [User]] = [:]
            let memberRows = try await client.query(
                """
                SELECT cm.chat_id, \(unescaped: Rows.userColumns) FROM chat_members cm JOIN users u ON u.id = cm.user_id
                WHERE cm.chat_id = ANY(\(found.map(\.0))) ORDER BY cm.joined_at, u.id
                """, logger: logger)
            for try await r in memberRows.decode((UUID, UUID, String, String, String, String?, Bool, Date?, Date, Date).self) {
                members[r.0, default: []].append(Rows.user((r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9), viewer: viewer))
            }
            let latestIds = found.compactMap(\.6)
            var latest: [UUID: Message] = [:]
            if !latestIds.isEmpty {
                let messages = try await Rows.messages(client.query(
                    """
                    SELECT \(unescaped: Rows.messageColumns) FROM messages m JOIN users u ON u.id = m.sender_id
                    WHERE m.id = ANY(\(latestIds))
                    """, logger: logger), viewer: viewer)
                for message in messages { latest[message.chatId] = message }
            }
            return found.map { row in
                let (id, name, isGroup, adminId, createdAt, updatedAt, _, unread) = row
                let users = members[id] ?? []
                return Chat(
                    id: id, chatName: name, isGroupChat: isGroup, users: users,
                    groupAdmin: users.first { $0.id == adminId }, latestMessage: latest[id], unreadCount: unread,
                    createdAt: createdAt, updatedAt: updatedAt)
            }
        }
    }

    /// Moves `userId`'s read mark in `chatId` forward to `messageId` (never back).
    /// - Returns: the mark as it stands, or `nil` when the message is not in that chat or the
    ///   user is not a member.
    public func markRead(chatId: UUID, userId: UUID, messageId: UUID) async throws -> UUID? {
        try await database.run {
            let rows = try await database.client.query(
                """
                UPDATE chat_members cm SET last_read_message_id =
                    CASE WHEN cm.last_read_message_id IS NULL OR cm.last_read_message_id < \(messageId)
                         THEN \(messageId) ELSE cm.last_read_message_id END
                WHERE cm.chat_id = \(chatId) AND cm.user_id = \(userId)
                  AND EXISTS (SELECT 1 FROM messages m WHERE m.id = \(messageId) AND m.chat_id = \(chatId))
                RETURNING cm.last_read_message_id
                """, logger: database.logger)
            for try await mark in rows.decode(UUID.self) { return mark }
            return nil
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
