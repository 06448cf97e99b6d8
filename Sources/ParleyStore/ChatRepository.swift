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

    /// The chat as `viewer` sees it: members, admin, the latest message the viewer has not
    /// cleared and the viewer's unread count (0 for one who is not a member; callers check
    /// membership). `nil` if there is no such chat.
    public func chat(id: UUID, viewer: UUID) async throws -> Chat? {
        try await database.run {
            try await assemble(summaries(
                """
                SELECT \(unescaped: Self.summaryColumns)
                FROM chats c LEFT JOIN chat_members cm ON cm.chat_id = c.id AND cm.user_id = \(viewer)
                \(unescaped: Self.summaryLaterals)
                WHERE c.id = \(id)
                """), viewer: { _ in viewer }).first?.chat
        }
    }

    /// One page of `viewer`'s chats, latest activity first: the newest message the viewer has
    /// not cleared, else when the viewer joined.
    /// - Parameter before: the `nextBefore` of the previous page.
    public func chats(of viewer: UUID, before: ChatCursor? = nil, limit: Int = Limits.chatPage) async throws -> (chats: [Chat], nextBefore: ChatCursor?) {
        let cursor = before ?? ChatCursor(activity: .max, chatId: Self.zero)
        return try await database.run {
            let rows = try await summaries(Self.listQuery(viewer: viewer, before: cursor, limit: limit))
            let next = rows.count == limit ? rows.last.map { ChatCursor(activity: $0.activity, chatId: $0.chatId) } : nil
            return (try await assemble(rows, viewer: { _ in viewer }).map(\.chat), next)
        }
    }

    /// The chat-list query: the viewer's memberships (`chat_members_user_idx`), each chat's
    /// newest visible message and unread count on `messages_chat_id_idx`.
    static func listQuery(viewer: UUID, before cursor: ChatCursor, limit: Int) -> PostgresQuery {
        """
        SELECT * FROM (
            SELECT \(unescaped: Self.summaryColumns)
            FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
            \(unescaped: Self.summaryLaterals)
            WHERE cm.user_id = \(viewer)
        ) s
        WHERE (s.activity, s.id) < (\(cursor.activity), \(cursor.chatId))
        ORDER BY s.activity DESC, s.id DESC
        LIMIT \(limit)
        """
    }

    /// The chat as each of its current members sees it (their unread counts, what they
    /// cleared), for `chat_updated`; three queries whatever the number of members.
    public func memberViews(of chatId: UUID) async throws -> [(userId: UUID, chat: Chat)] {
        try await database.run {
            try await assemble(summaries(
                """
                SELECT \(unescaped: Self.summaryColumns)
                FROM chat_members cm JOIN chats c ON c.id = cm.chat_id
                \(unescaped: Self.summaryLaterals)
                WHERE c.id = \(chatId)
                """), viewer: { $0.viewer })
        }
    }

    /// A place in the chat list: chats whose activity is older than this (ties broken by id).
    public struct ChatCursor: Sendable, Equatable, LosslessStringConvertible {
        /// Microseconds since 1970, exactly as PostgreSQL stores the time.
        public var activity: Int64
        public var chatId: UUID

        public init(activity: Int64, chatId: UUID) {
            self.activity = activity
            self.chatId = chatId
        }

        /// `activity.chatId`, opaque to clients.
        public init?(_ text: String) {
            let parts = text.split(separator: ".", maxSplits: 1)
            guard parts.count == 2, let activity = Int64(parts[0]), let id = UUID(text: parts[1]) else { return nil }
            self.init(activity: activity, chatId: id)
        }

        public var description: String { "\(activity).\(chatId.lowercased)" }
    }

    // The summary of a chat for one viewer (`cm`, absent when the viewer is not a member).
    private static let summaryColumns = """
        cm.user_id AS viewer, c.id, c.chat_name, c.is_group, c.group_admin_id, c.created_at, c.updated_at, last.id AS latest, unread.n,
        (extract(epoch FROM GREATEST(COALESCE(last.created_at, c.created_at), COALESCE(cm.joined_at, c.created_at))) * 1000000)::bigint AS activity
        """
    private static let summaryLaterals = """
        LEFT JOIN LATERAL (
            SELECT m.id, m.created_at FROM messages m
            WHERE m.chat_id = c.id AND m.id > COALESCE(cm.cleared_through, '\(zero.lowercased)')
            ORDER BY m.id DESC LIMIT 1
        ) last ON true
        CROSS JOIN LATERAL (
            SELECT count(*) AS n FROM messages m
            WHERE cm.user_id IS NOT NULL AND m.chat_id = c.id
              AND m.id > GREATEST(COALESCE(cm.last_read_message_id, '\(zero.lowercased)'), COALESCE(cm.cleared_through, '\(zero.lowercased)'))
              AND m.sender_id <> cm.user_id AND m.deleted_at IS NULL
        ) unread
        """
    static let zero = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    private struct Summary {
        var viewer: UUID?
        var chatId: UUID
        var name: String
        var isGroup: Bool
        var adminId: UUID?
        var createdAt: Date
        var updatedAt: Date
        var latestId: UUID?
        var unread: Int
        var activity: Int64
    }

    private func summaries(_ query: PostgresQuery) async throws -> [Summary] {
        let rows = try await database.client.query(query, logger: database.logger)
        var found: [Summary] = []
        for try await r in rows.decode((UUID?, UUID, String, Bool, UUID?, Date, Date, UUID?, Int, Int64).self) {
            found.append(Summary(viewer: r.0, chatId: r.1, name: r.2, isGroup: r.3, adminId: r.4, createdAt: r.5,
                                 updatedAt: r.6, latestId: r.7, unread: r.8, activity: r.9))
        }
        return found
    }

    /// Chats from summaries, with two more queries: every member of those chats, and their
    /// latest messages. `viewer` says for whom each summary is shown (whose hidden `lastSeen`
    /// stays visible).
    private func assemble(_ found: [Summary], viewer: (Summary) -> UUID?) async throws -> [(userId: UUID, chat: Chat)] {
        guard !found.isEmpty else { return [] }
        let client = database.client
        let logger = database.logger
        var members: [UUID: [Rows.UserRow]] = [:]
        let memberRows = try await client.query(
            """
            SELECT cm.chat_id, \(unescaped: Rows.userColumns) FROM chat_members cm JOIN users u ON u.id = cm.user_id
            WHERE cm.chat_id = ANY(\(Array(Set(found.map(\.chatId))))) ORDER BY cm.joined_at, u.id
            """, logger: logger)
        for try await r in memberRows.decode((UUID, UUID, String, String, String, String?, Bool, Date?, Date, Date).self) {
            members[r.0, default: []].append((r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9))
        }
        var latest: [UUID: Rows.MessageRow] = [:]
        let latestIds = Array(Set(found.compactMap(\.latestId)))
        if !latestIds.isEmpty {
            let rows = try await client.query(
                """
                SELECT \(unescaped: Rows.messageColumns) FROM messages m \(unescaped: Rows.messageJoins)
                WHERE m.id = ANY(\(latestIds))
                """, logger: logger)
            for try await row in rows {
                var cells = row.makeIterator()
                let message = try Rows.messageRow(&cells)
                latest[message.0] = message
            }
        }
        return found.map { s in
            let who = viewer(s)
            let users = (members[s.chatId] ?? []).map { Rows.user($0, viewer: who) }
            let chat = Chat(
                id: s.chatId, chatName: s.name, isGroupChat: s.isGroup, users: users,
                groupAdmin: users.first { $0.id == s.adminId },
                latestMessage: s.latestId.flatMap { latest[$0] }.map { Rows.message($0, viewer: who, links: database.fileLinks) },
                unreadCount: s.unread, createdAt: s.createdAt, updatedAt: s.updatedAt)
            return (who ?? Self.zero, chat)
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
