import Foundation
import ParleyCore
import PostgresNIO

/// What presence needs from PostgreSQL: who hears of a user's status, and the durable part of
/// it (`last_seen`, the last login's address and device).
extension UserRepository {
    /// A user's contacts (everyone who shares a chat with them) and whether they show
    /// `lastSeen`: one query on the membership indexes. `nil` for an unknown user.
    public func presenceAudience(of userId: UUID) async throws -> (showLastSeen: Bool, contacts: [UUID])? {
        try await database.run {
            let rows = try await database.client.query(Self.audienceQuery(of: userId), logger: database.logger)
            for try await (show, contacts) in rows.decode((Bool, [UUID]).self) { return (show, contacts) }
            return nil
        }
    }

    static func audienceQuery(of userId: UUID) -> PostgresQuery {
        """
        SELECT u.show_last_seen, ARRAY(
            SELECT DISTINCT other.user_id FROM chat_members mine
            JOIN chat_members other ON other.chat_id = mine.chat_id
            WHERE mine.user_id = u.id AND other.user_id <> u.id
        ) FROM users u WHERE u.id = \(userId)
        """
    }

    /// Records the address and `User-Agent` of a user's newest connection.
    public func recordLogin(userId: UUID, ip: String?, deviceInfo: String?) async throws {
        try await database.run {
            _ = try await database.client.query(
                """
                UPDATE users SET last_login_ip = COALESCE(\(ip), last_login_ip), device_info = COALESCE(\(deviceInfo), device_info)
                WHERE id = \(userId)
                """, logger: database.logger)
        }
    }

    /// Sets `last_seen`; it never moves back (events may arrive out of order).
    /// - Returns: `last_seen` as stored (a later one kept, and in PostgreSQL's microseconds, which
    ///   read back can write a millisecond off the `Date` handed in), nil for an unknown user.
    @discardableResult
    public func recordLastSeen(userId: UUID, at: Date) async throws -> Date? {
        try await database.run {
            let rows = try await database.client.query(
                "UPDATE users SET last_seen = GREATEST(COALESCE(last_seen, \(at)), \(at)) WHERE id = \(userId) RETURNING last_seen",
                logger: database.logger)
            for try await stored in rows.decode(Date.self) { return stored }
            return nil
        }
    }

    /// `lastSeen` of each known user among `ids`, `nil` where the user hides it from `viewer`.
    public func lastSeen(of ids: [UUID], viewer: UUID) async throws -> [(UUID, Date?)] {
        try await database.run {
            let rows = try await database.client.query(
                """
                SELECT id, CASE WHEN show_last_seen OR id = \(viewer) THEN last_seen END
                FROM users WHERE id = ANY(\(ids))
                """, logger: database.logger)
            var found: [(UUID, Date?)] = []
            for try await row in rows.decode((UUID, Date?).self) { found.append(row) }
            return found
        }
    }
}
