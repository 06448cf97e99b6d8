import Foundation
import ParleyCore
import PostgresNIO

/// Group chats and clearing: the message worker's writes. Each is one transaction, checks its
/// actor's rights at commit time, and is idempotent, so that a redelivered command changes
/// nothing a second time.
extension ChatRepository {
    /// What a change to a chat did.
    public enum GroupOutcome: Sendable, Equatable {
        /// Changed; `leaving` are the users no longer members, who must hear of it too.
        case changed(leaving: [UUID])
        /// Already so (a redelivery, the same name again, a member added twice).
        case unchanged
        case noSuchChat
        /// A 1:1 chat has a fixed name and its two members.
        case notGroup
        /// The actor is not the admin (or not a member, for a leave).
        case forbidden
        case noSuchUser
        /// The group holds ``Limits/groupMembers`` already.
        case full
    }

    /// Creates a group of `admin` and `members` (existing users only) under the gateway's id.
    /// - Returns: `.changed` when this call made it, `.unchanged` when the id exists already.
    public func createGroup(_ command: ChatCreateGroup) async throws -> GroupOutcome {
        try await transaction { connection, logger in
            let inserted = try await connection.query(
                """
                INSERT INTO chats (id, chat_name, is_group, group_admin_id) VALUES (\(command.chatId), \(command.chatName), true, \(command.adminId))
                ON CONFLICT (id) DO NOTHING RETURNING id
                """, logger: logger)
            guard try await inserted.decode(UUID.self).first(where: { _ in true }) != nil else { return .unchanged }
            try await connection.query(
                """
                INSERT INTO chat_members (chat_id, user_id, role)
                SELECT \(command.chatId), u.id, CASE WHEN u.id = \(command.adminId) THEN 'admin' ELSE 'member' END
                FROM users u WHERE u.id = ANY(\([command.adminId] + command.memberIds))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            return .changed(leaving: [])
        }
    }

    /// Renames a group; its admin only.
    public func rename(_ command: ChatRename) async throws -> GroupOutcome {
        try await transaction { connection, logger in
            let group = try await lockGroup(command.chatId, connection: connection, logger: logger)
            guard case .found(let adminId, let name) = group else { return group.outcome }
            guard adminId == command.actorId else { return .forbidden }
            guard name != command.chatName else { return .unchanged }
            try await connection.query(
                "UPDATE chats SET chat_name = \(command.chatName), updated_at = now() WHERE id = \(command.chatId)", logger: logger)
            return .changed(leaving: [])
        }
    }

    /// Adds a user to a group; its admin only.
    public func addMember(_ command: ChatMemberChange) async throws -> GroupOutcome {
        try await transaction { connection, logger in
            let group = try await lockGroup(command.chatId, connection: connection, logger: logger)
            guard case .found(let adminId, _) = group else { return group.outcome }
            guard adminId == command.actorId else { return .forbidden }
            let counts = try await connection.query(
                """
                SELECT (SELECT count(*) FROM chat_members WHERE chat_id = \(command.chatId)),
                       EXISTS (SELECT 1 FROM chat_members WHERE chat_id = \(command.chatId) AND user_id = \(command.userId)),
                       EXISTS (SELECT 1 FROM users WHERE id = \(command.userId))
                """, logger: logger)
            for try await (count, isMember, userExists) in counts.decode((Int, Bool, Bool).self) {
                if isMember { return .unchanged }
                if !userExists { return .noSuchUser }
                if count >= Limits.groupMembers { return .full }
            }
            try await connection.query(
                "INSERT INTO chat_members (chat_id, user_id) VALUES (\(command.chatId), \(command.userId))", logger: logger)
            try await touch(command.chatId, connection: connection, logger: logger)
            return .changed(leaving: [])
        }
    }

    /// Removes a member: the admin removes anyone, a member removes itself (leaves). When the
    /// admin leaves, the longest-standing remaining member becomes admin; a group nobody is in
    /// any more keeps its history but has no admin.
    public func removeMember(_ command: ChatMemberChange) async throws -> GroupOutcome {
        try await transaction { connection, logger in
            let group = try await lockGroup(command.chatId, connection: connection, logger: logger)
            guard case .found(let adminId, _) = group else { return group.outcome }
            guard command.actorId == command.userId || command.actorId == adminId else { return .forbidden }
            let removed = try await connection.query(
                "DELETE FROM chat_members WHERE chat_id = \(command.chatId) AND user_id = \(command.userId) RETURNING user_id",
                logger: logger)
            guard try await removed.decode(UUID.self).first(where: { _ in true }) != nil else { return .unchanged }
            if command.userId == adminId {
                try await connection.query(
                    """
                    WITH heir AS (
                        SELECT user_id FROM chat_members WHERE chat_id = \(command.chatId) ORDER BY joined_at, user_id LIMIT 1
                    ), promoted AS (
                        UPDATE chat_members SET role = 'admin' WHERE chat_id = \(command.chatId) AND user_id IN (SELECT user_id FROM heir)
                    )
                    UPDATE chats SET group_admin_id = (SELECT user_id FROM heir) WHERE id = \(command.chatId)
                    """, logger: logger)
            }
            try await touch(command.chatId, connection: connection, logger: logger)
            return .changed(leaving: [command.userId])
        }
    }

    /// Hides the chat's history up to `through` for one member; the line never moves back.
    /// - Returns: false when the user is not a member.
    public func clear(_ command: ChatClear) async throws -> Bool {
        try await database.run {
            let rows = try await database.client.query(
                """
                UPDATE chat_members SET cleared_at = now(),
                    cleared_through = GREATEST(COALESCE(cleared_through, \(command.through)), \(command.through))
                WHERE chat_id = \(command.chatId) AND user_id = \(command.userId)
                RETURNING user_id
                """, logger: database.logger)
            return try await rows.decode(UUID.self).first(where: { _ in true }) != nil
        }
    }

    private enum LockedGroup {
        case found(adminId: UUID?, name: String)
        case missing, direct

        var outcome: GroupOutcome {
            switch self {
            case .found: .unchanged
            case .missing: .noSuchChat
            case .direct: .notGroup
            }
        }
    }

    /// Locks the chat's row, so that concurrent changes of one group take turns and each sees
    /// the admin and members the previous one left.
    private func lockGroup(_ chatId: UUID, connection: PostgresConnection, logger: Logger) async throws -> LockedGroup {
        let rows = try await connection.query(
            "SELECT is_group, group_admin_id, chat_name FROM chats WHERE id = \(chatId) FOR UPDATE", logger: logger)
        for try await (isGroup, adminId, name) in rows.decode((Bool, UUID?, String).self) {
            return isGroup ? .found(adminId: adminId, name: name) : .direct
        }
        return .missing
    }

    private func touch(_ chatId: UUID, connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE chats SET updated_at = now() WHERE id = \(chatId)", logger: logger)
    }

    private func transaction<T: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        try await database.run {
            try await database.client.withTransaction(logger: database.logger) { connection in
                try await body(connection, database.logger)
            }
        }
    }
}
