import Logging
import PostgresNIO

/// Versioned, forward-only schema changes. A released migration is never edited: a change is a
/// new one at the end.
public enum Migrations {
    struct Migration {
        let version: Int
        let name: String
        let statements: [PostgresQuery]
    }

    static let all: [Migration] = [
        Migration(version: 1, name: "users, chats, members, files, messages", statements: [
            """
            CREATE TABLE users (
                id uuid PRIMARY KEY,
                first_name text NOT NULL,
                last_name text NOT NULL,
                email text NOT NULL,
                password_hash text NOT NULL,
                image text,
                show_last_seen boolean NOT NULL DEFAULT true,
                last_seen timestamptz,
                last_login_ip text,
                device_info text,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE UNIQUE INDEX users_email_key ON users (lower(email))",
            """
            CREATE TABLE chats (
                id uuid PRIMARY KEY,
                chat_name text NOT NULL,
                is_group boolean NOT NULL,
                group_admin_id uuid REFERENCES users (id),
                direct_key text UNIQUE,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                CHECK (is_group = (direct_key IS NULL))
            )
            """,
            """
            CREATE TABLE chat_members (
                chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
                user_id uuid NOT NULL REFERENCES users (id),
                role text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
                joined_at timestamptz NOT NULL DEFAULT now(),
                cleared_at timestamptz,
                last_read_message_id uuid,
                PRIMARY KEY (chat_id, user_id)
            )
            """,
            "CREATE INDEX chat_members_user_idx ON chat_members (user_id, chat_id)",
            """
            CREATE TABLE files (
                id uuid PRIMARY KEY,
                sha256 text NOT NULL,
                size bigint NOT NULL,
                mime_type text NOT NULL,
                width integer,
                height integer,
                storage_key text NOT NULL,
                thumbnail_key text,
                original_name text NOT NULL,
                uploader_id uuid REFERENCES users (id),
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX files_sha256_idx ON files (sha256)",
            """
            CREATE TABLE messages (
                id uuid PRIMARY KEY,
                chat_id uuid NOT NULL REFERENCES chats (id) ON DELETE CASCADE,
                sender_id uuid NOT NULL REFERENCES users (id),
                message_type text NOT NULL CHECK (message_type IN ('text', 'image', 'file', 'video', 'audio')),
                text text,
                file_id uuid REFERENCES files (id),
                client_message_id text,
                edited_at timestamptz,
                deleted_at timestamptz,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX messages_chat_id_idx ON messages (chat_id, id)",
            """
            CREATE UNIQUE INDEX messages_client_message_id_key ON messages (sender_id, client_message_id)
                WHERE client_message_id IS NOT NULL
            """,
        ]),
        Migration(version: 2, name: "clearing history by message id, user search index", statements: [
            // The newest message id a member cleared: hiding by id keeps history and unread
            // counts on the (chat_id, id) index.
            "ALTER TABLE chat_members ADD COLUMN cleared_through uuid",
            // pg_trgm is a trusted extension: the database's owner may create it.
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            """
            CREATE INDEX users_search_idx ON users
                USING gin ((first_name || ' ' || last_name || ' ' || email) gin_trgm_ops)
            """,
        ]),
        Migration(version: 3, name: "the command id of a message's last edit", statements: [
            // A redelivered edit finds its own id here and changes nothing.
            "ALTER TABLE messages ADD COLUMN last_edit_id uuid",
        ]),
        Migration(version: 4, name: "serving and cleaning up stored files", statements: [
            // File serving and clean-up find a file's message by its file id.
            "CREATE INDEX messages_file_id_idx ON messages (file_id) WHERE file_id IS NOT NULL",
            // When clean-up removed the bytes of a file no message shows any more.
            "ALTER TABLE files ADD COLUMN purged_at timestamptz",
        ]),
    ]

    /// The newest schema version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }

    /// Applies every migration not applied yet, all in one transaction (all or none), and returns
    /// the versions it applied. Safe to run from several processes at once: an advisory lock makes
    /// them take turns.
    @discardableResult
    public static func apply(on database: Database) async throws -> [Int] {
        let logger = database.logger
        return try await database.client.withTransaction(logger: logger) { connection in
            // One lock id for Parley's migrations, held until this transaction ends.
            try await connection.query("SELECT pg_advisory_xact_lock(7355608)", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            var done: [Int] = []
            for migration in all where !applied.contains(migration.version) {
                for statement in migration.statements {
                    try await connection.query(statement, logger: logger)
                }
                try await connection.query(
                    "INSERT INTO schema_migrations (version, name) VALUES (\(migration.version), \(migration.name))",
                    logger: logger)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                done.append(migration.version)
            }
            return done
        }
    }
}
