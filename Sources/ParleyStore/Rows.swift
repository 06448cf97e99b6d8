import Foundation
import NIOFoundationEssentialsCompat
import ParleyCore
import PostgresNIO

/// Column lists and row decoding shared by the repositories, so that every query returning a
/// user or a message builds the same shape.
enum Rows {
    /// `u.*` as a ``User``: 9 columns.
    static let userColumns = "u.id, u.first_name, u.last_name, u.email, u.image, u.show_last_seen, u.last_seen, u.created_at, u.updated_at"
    typealias UserRow = (UUID, String, String, String, String?, Bool, Date?, Date, Date)

    /// `m.*`, `u.*` (the sender) then `f.*` (its file) as a ``Message``: 10 + 9 + 6 columns,
    /// over ``messageJoins``.
    static let messageColumns = "m.id, m.chat_id, m.message_type, m.text, m.file_id, m.client_message_id, m.edited_at, m.deleted_at, m.created_at, m.updated_at, "
        + userColumns + ", f.size, f.mime_type, f.width, f.height, f.thumbnail_key, f.original_name"
    /// How many columns ``messageColumns`` are.
    static let messageColumnCount = messageColumns.split(separator: ",").count
    /// What follows `FROM messages m` (or a CTE named `m`) for ``messageColumns``.
    static let messageJoins = "JOIN users u ON u.id = m.sender_id LEFT JOIN files f ON f.id = m.file_id"
    typealias MessageRow = (UUID, UUID, String, String?, UUID?, String?, Date?, Date?, Date, Date,
                            UUID, String, String, String, String?, Bool, Date?, Date, Date,
                            Int64?, String?, Int32?, Int32?, String?, String?)

    /// - Parameter viewer: who asks; `lastSeen` is hidden from others when the user hides it.
    static func user(_ r: UserRow, viewer: UUID?) -> User {
        let (id, firstName, lastName, email, image, showLastSeen, lastSeen, createdAt, updatedAt) = r
        return User(
            id: id, firstName: firstName, lastName: lastName, email: email, image: image,
            isOnline: false, lastSeen: showLastSeen || viewer == id ? lastSeen : nil,
            createdAt: createdAt, updatedAt: updatedAt
        )
    }

    /// - Parameter links: signs the links to the message's file.
    static func message(_ r: MessageRow, viewer: UUID?, links: FileLinks) -> Message {
        let sender = user((r.10, r.11, r.12, r.13, r.14, r.15, r.16, r.17, r.18), viewer: viewer)
        let deleted = r.7 != nil
        var content = MessageContent(text: r.3)
        if let fileId = r.4, let size = r.19, let mimeType = r.20, let originalName = r.24 {
            content.fileUrl = links.url(fileId: fileId, variant: .original)
            content.fileName = MediaNames.storedName(fileId: fileId, mimeType: mimeType)
            content.originalName = originalName
            content.fileSize = Int(size)
            content.mimeType = mimeType
            content.thumbnail = r.23 == nil ? nil : links.url(fileId: fileId, variant: .thumbnail)
            if let width = r.21, let height = r.22 { content.dimensions = .init(width: Int(width), height: Int(height)) }
        }
        return Message(
            id: r.0, chatId: r.1, sender: sender, messageType: MessageType(rawValue: r.2) ?? .text,
            content: deleted ? MessageContent() : content,
            isEdited: r.6 != nil, editedAt: r.6, isDeleted: deleted, deletedAt: r.7,
            clientMessageId: r.5, createdAt: r.8, updatedAt: r.9
        )
    }

    static func users(_ rows: PostgresRowSequence, viewer: UUID?) async throws -> [User] {
        var result: [User] = []
        for try await row in rows.decode(UserRow.self) { result.append(user(row, viewer: viewer)) }
        return result
    }

    static func messages(_ rows: PostgresRowSequence, viewer: UUID?, links: FileLinks) async throws -> [Message] {
        var result: [Message] = []
        for try await row in rows {
            var cells = row.makeIterator()
            result.append(message(try messageRow(&cells), viewer: viewer, links: links))
        }
        return result
    }

    /// The ``messageColumns`` of a row, read cell by cell from `cells`, which then stand at the
    /// column after them. PostgresNIO's `decode` of a tuple looks up the generic metadata of
    /// each column's type at run time, for every row: a tenth of the message worker's CPU.
    static func messageRow(_ cells: inout PostgresRow.Iterator) throws -> MessageRow {
        (
            try next(UUID.self, &cells), try next(UUID.self, &cells), try next(String.self, &cells), try next(String?.self, &cells),
            try next(UUID?.self, &cells), try next(String?.self, &cells), try next(Date?.self, &cells), try next(Date?.self, &cells),
            try next(Date.self, &cells), try next(Date.self, &cells),
            try next(UUID.self, &cells), try next(String.self, &cells), try next(String.self, &cells), try next(String.self, &cells),
            try next(String?.self, &cells), try next(Bool.self, &cells), try next(Date?.self, &cells), try next(Date.self, &cells),
            try next(Date.self, &cells),
            try next(Int64?.self, &cells), try next(String?.self, &cells), try next(Int32?.self, &cells), try next(Int32?.self, &cells),
            try next(String?.self, &cells), try next(String?.self, &cells)
        )
    }

    /// The next cell of a row, as `type`.
    static func next<T: PostgresDecodable>(_ type: T.Type, _ cells: inout PostgresRow.Iterator) throws -> T {
        guard let cell = cells.next() else { throw MissingColumn() }
        return try cell.decode(T.self)
    }

    /// The next cell of a row, a `uuid[]` of one dimension without NULLs (the members of a chat,
    /// with every row of the message worker's batch insert), read from its binary form here:
    /// the driver's generic array decoding looked up each element's type at run time. Any
    /// other array goes to the driver, which refuses what it cannot read.
    static func uuids(_ cells: inout PostgresRow.Iterator) throws -> [UUID] {
        guard let cell = cells.next() else { throw MissingColumn() }
        if cell.format == .binary, cell.dataType == .uuidArray, var bytes = cell.bytes, let ids = plainUUIDArray(&bytes) {
            return ids
        }
        return try cell.decode([UUID].self)
    }

    /// The ids of a binary `uuid[]` of at most one dimension, lower bound 1 and no NULLs; nil for
    /// anything else.
    private static func plainUUIDArray(_ bytes: inout ByteBuffer) -> [UUID]? {
        guard let dimensions = bytes.readInteger(as: Int32.self), bytes.readInteger(as: Int32.self) == 0,
              bytes.readInteger(as: UInt32.self) == PostgresDataType.uuid.rawValue
        else { return nil }
        if dimensions == 0 { return [] }
        guard dimensions == 1, let count = bytes.readInteger(as: Int32.self), count >= 0, bytes.readInteger(as: Int32.self) == 1
        else { return nil }
        var ids: [UUID] = []
        ids.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard bytes.readInteger(as: Int32.self) == 16, let id = bytes.readUUIDBytes() else { return nil }
            ids.append(id)
        }
        return ids
    }

    /// A row with fewer columns than its query names: a query and its decoding out of step.
    struct MissingColumn: Error {}
}

extension Database {
    /// Runs a store operation within ``operationTimeout``, turning driver errors and time-outs
    /// into ``StoreError`` (503 for callers) while letting ``ParleyError`` (bad input,
    /// conflicts) through. A value PostgreSQL refuses (a data exception, such as text with a
    /// NUL character) is bad input too: retried, it would fail the same way forever.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            let timeout = operationTimeout
            return try await deadlines.run(within: timeout, timedOut: StoreError(description: "postgres: no answer within \(timeout)"), body)
        } catch let error as ParleyError {
            throw error
        } catch let error as StoreError {
            throw error
        } catch let error as PSQLError where error.isDataException {
            logger.info("a value was refused", metadata: ["error": "\(error.serverInfo?[.message] ?? "")"])
            throw ParleyError.badRequest("The request holds a value that cannot be stored, such as text with a NUL character")
        } catch {
            throw StoreError(error)
        }
    }
}
