import Foundation
import ParleyCore
import PostgresNIO

/// Stored files: the media worker records them, the gateway serves them, clean-up purges the
/// bytes no message shows any more.
///
/// Writers of an object (the media worker) and its remover (clean-up) take the same advisory
/// lock on the object's key, so an upload of the same bytes never loses its object to a purge
/// that looked a moment before.
public struct FileRepository: Sendable {
    let database: Database

    /// Records `file` and, under the lock of its key, puts its bytes in place with `place`; a
    /// file recorded before (a redelivery) is left as it is.
    public func store(_ file: StoredFile, thumbnailKey: String?, place: @escaping @Sendable () async throws -> Void) async throws {
        try await database.run {
            let logger = database.logger
            try await database.client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(file.sha256), 0))", logger: logger)
                try await connection.query(
                    """
                    INSERT INTO files (id, sha256, size, mime_type, width, height, storage_key, thumbnail_key, original_name, uploader_id)
                    VALUES (\(file.id), \(file.sha256), \(Int64(file.size)), \(file.mimeType), \(file.dimensions.map { Int32($0.width) }),
                            \(file.dimensions.map { Int32($0.height) }), \(file.sha256), \(thumbnailKey), \(file.originalName), \(file.uploaderId))
                    ON CONFLICT (id) DO NOTHING
                    """, logger: logger)
                try await place()
            }
        }
    }

    /// Whether a file with this id was recorded (its upload was processed before).
    public func exists(id: UUID) async throws -> StoredFile? {
        try await database.run {
            let rows = try await database.client.query(
                """
                SELECT id, sha256, size, mime_type, width, height, thumbnail_key IS NOT NULL, original_name, uploader_id
                FROM files WHERE id = \(id)
                """, logger: database.logger)
            for try await r in rows.decode((UUID, String, Int64, String, Int32?, Int32?, Bool, String, UUID).self) {
                let dimensions = r.4.flatMap { w in r.5.map { MessageContent.Dimensions(width: Int(w), height: Int($0)) } }
                return StoredFile(
                    id: r.0, sha256: r.1, size: Int(r.2), mimeType: r.3, dimensions: dimensions, hasThumbnail: r.6,
                    originalName: r.7, uploaderId: r.8)
            }
            return nil
        }
    }

    /// A file as the gateway serves it: its bytes' keys and the message that shows it.
    public struct Servable: Sendable, Equatable {
        public var storageKey: String
        public var thumbnailKey: String?
        public var size: Int
        public var mimeType: String
        public var originalName: String
        /// The chat of the message that shows the file; nil when no message does (never attached).
        public var chatId: UUID?
        /// Set when that message was deleted, or the bytes were purged.
        public var goneAt: Date?
    }

    public func servable(id: UUID) async throws -> Servable? {
        try await database.run {
            let rows = try await database.client.query(
                """
                SELECT f.storage_key, f.thumbnail_key, f.size, f.mime_type, f.original_name, m.chat_id, COALESCE(m.deleted_at, f.purged_at)
                FROM files f LEFT JOIN messages m ON m.file_id = f.id
                WHERE f.id = \(id)
                ORDER BY m.deleted_at NULLS FIRST
                LIMIT 1
                """, logger: database.logger)
            for try await r in rows.decode((String, String?, Int64, String, String, UUID?, Date?).self) {
                return Servable(
                    storageKey: r.0, thumbnailKey: r.1, size: Int(r.2), mimeType: r.3, originalName: r.4, chatId: r.5, goneAt: r.6)
            }
            return nil
        }
    }

    /// Keys of objects that may be unused: they have a file recorded before `cutoff` that no live
    /// message shows. ``purge(key:cutoff:remove:)`` decides.
    public func purgeCandidates(before cutoff: Date, limit: Int = 1000) async throws -> [String] {
        try await database.run {
            let rows = try await database.client.query(
                """
                SELECT DISTINCT f.storage_key FROM files f
                WHERE f.purged_at IS NULL AND f.created_at < \(cutoff)
                  AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id AND m.deleted_at IS NULL)
                LIMIT \(limit)
                """, logger: database.logger)
            var keys: [String] = []
            for try await (key) in rows.decode(String.self) { keys.append(key) }
            return keys
        }
    }

    /// Removes the object `key` with `remove` if no live message shows it and no file recorded
    /// since `cutoff` (an upload under way) uses it; marks its files purged and forgets those no
    /// message ever showed.
    /// - Returns: whether the object was removed.
    public func purge(key: String, cutoff: Date, remove: @escaping @Sendable () async throws -> Void) async throws -> Bool {
        try await database.run {
            let logger = database.logger
            return try await database.client.withTransaction(logger: logger) { connection in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))", logger: logger)
                let rows = try await connection.query(
                    """
                    SELECT EXISTS (
                        SELECT 1 FROM files f
                        WHERE f.storage_key = \(key) AND f.purged_at IS NULL
                          AND (f.created_at >= \(cutoff)
                               OR EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id AND m.deleted_at IS NULL)))
                    """, logger: logger)
                var used = true
                for try await (value) in rows.decode(Bool.self) { used = value }
                guard !used else { return false }
                try await remove()
                try await connection.query(
                    "UPDATE files SET purged_at = now() WHERE storage_key = \(key) AND purged_at IS NULL", logger: logger)
                // Rows of deleted messages stay (their links answer 410); the rest go.
                try await connection.query(
                    """
                    DELETE FROM files f WHERE f.storage_key = \(key)
                      AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.file_id = f.id)
                    """, logger: logger)
                return true
            }
        }
    }
}
