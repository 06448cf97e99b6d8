import Foundation
import ParleyCore
import PostgresNIO

/// Accounts: written by the gateway directly (signup, profile), read everywhere.
public struct UserRepository: Sendable {
    let database: Database

    /// A new account to store.
    public struct NewUser: Sendable {
        public var id: UUID
        public var firstName: String
        public var lastName: String
        public var email: String
        public var passwordHash: String
        public var image: String?

        public init(id: UUID, firstName: String, lastName: String, email: String, passwordHash: String, image: String?) {
            self.id = id
            self.firstName = firstName
            self.lastName = lastName
            self.email = email
            self.passwordHash = passwordHash
            self.image = image
        }
    }

    /// Stores a new account.
    /// - Throws: ``ParleyError`` `email_taken` when the email (case-insensitive) is in use.
    public func create(_ new: NewUser) async throws -> User {
        try await database.run {
            do {
                let rows = try await database.client.query(
                    """
                    INSERT INTO users AS u (id, first_name, last_name, email, password_hash, image)
                    VALUES (\(new.id), \(new.firstName), \(new.lastName), \(new.email), \(new.passwordHash), \(new.image))
                    RETURNING \(unescaped: Rows.userColumns)
                    """, logger: database.logger)
                return try await Rows.users(rows, viewer: new.id)[0]
            } catch let error as PSQLError where error.isUniqueViolation(of: "users_email_key") {
                throw ParleyError(.emailTaken, "Email is already registered")
            }
        }
    }

    /// The user with that email (case-insensitive) and their password hash.
    public func credentials(email: String) async throws -> (user: User, passwordHash: String)? {
        try await database.run {
            let rows = try await database.client.query(
                "SELECT \(unescaped: Rows.userColumns), u.password_hash FROM users u WHERE lower(u.email) = lower(\(email))",
                logger: database.logger)
            for try await r in rows.decode((UUID, String, String, String, String?, Bool, Date?, Date, Date, String).self) {
                return (Rows.user((r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8), viewer: r.0), r.9)
            }
            return nil
        }
    }

    /// The user with that id as `viewer` sees them.
    public func find(id: UUID, viewer: UUID?) async throws -> User? {
        try await database.run {
            let rows = try await database.client.query(
                "SELECT \(unescaped: Rows.userColumns) FROM users u WHERE u.id = \(id)", logger: database.logger)
            return try await Rows.users(rows, viewer: viewer).first
        }
    }

    /// What a profile update changes; `nil` leaves a field as it is.
    public struct ProfileChange: Sendable {
        public var firstName: String?
        public var lastName: String?
        /// `.some(nil)` clears the image.
        public var image: String??
        public var showLastSeen: Bool?

        public init(firstName: String? = nil, lastName: String? = nil, image: String?? = nil, showLastSeen: Bool? = nil) {
            self.firstName = firstName
            self.lastName = lastName
            self.image = image
            self.showLastSeen = showLastSeen
        }
    }

    /// Applies a profile change; `nil` when the user does not exist.
    public func update(id: UUID, _ change: ProfileChange) async throws -> User? {
        let setImage = change.image != nil
        let image: String? = change.image ?? nil
        return try await database.run {
            let rows = try await database.client.query(
                """
                UPDATE users u SET
                    first_name = COALESCE(\(change.firstName), u.first_name),
                    last_name = COALESCE(\(change.lastName), u.last_name),
                    image = CASE WHEN \(setImage) THEN \(image) ELSE u.image END,
                    show_last_seen = COALESCE(\(change.showLastSeen), u.show_last_seen),
                    updated_at = now()
                WHERE u.id = \(id)
                RETURNING \(unescaped: Rows.userColumns)
                """, logger: database.logger)
            return try await Rows.users(rows, viewer: id).first
        }
    }

    /// Which of `ids` are users.
    public func existing(_ ids: [UUID]) async throws -> Set<UUID> {
        try await database.run {
            let rows = try await database.client.query("SELECT id FROM users WHERE id = ANY(\(ids))", logger: database.logger)
            var found = Set<UUID>()
            for try await id in rows.decode(UUID.self) { found.insert(id) }
            return found
        }
    }

    /// Users whose name or email contains `text` (case-insensitive), never `viewer`, in id order
    /// after `after`: keyset pages of `limit`.
    public func search(_ text: String, viewer: UUID, after: UUID?, limit: Int) async throws -> [User] {
        // The text is matched literally: LIKE's wildcards in it are escaped.
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "%", with: "\\%").replacingOccurrences(of: "_", with: "\\_")
        let pattern = "%\(escaped)%"
        let lower = after ?? UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        return try await database.run {
            let rows = try await database.client.query(
                """
                SELECT \(unescaped: Rows.userColumns) FROM users u
                WHERE u.id <> \(viewer) AND u.id > \(lower)
                  AND (u.first_name || ' ' || u.last_name || ' ' || u.email) ILIKE \(pattern)
                ORDER BY u.id LIMIT \(limit)
                """, logger: database.logger)
            return try await Rows.users(rows, viewer: viewer)
        }
    }
}
