import Foundation
import ParleyCore
import PostgresNIO

/// Messages: the message worker writes them; the gateway reads history.
public struct MessageRepository: Sendable {
    let database: Database

    /// What storing a `message.create` did.
    public enum CreateOutcome: Sendable, Equatable {
        case created(Message)
        /// The same command id, or the same `clientMessageId` from the same sender, was stored
        /// before: this is that message.
        case existing(Message)
        /// The sender is not a member of the chat (or the chat does not exist).
        case notMember
    }

    /// Stores a message once. A redelivered command or a repeated `clientMessageId` finds the
    /// stored message instead of writing a second one, also when the two race.
    public func create(_ command: MessageCreate) async throws -> CreateOutcome {
        try await database.run {
            let client = database.client
            let logger = database.logger
            let inserted = try await Rows.messages(client.query(
                """
                WITH m AS (
                    INSERT INTO messages (id, chat_id, sender_id, message_type, text, client_message_id, file_id)
                    SELECT \(command.messageId), \(command.chatId), \(command.senderId), \(command.messageType.rawValue),
                           \(command.text), \(command.clientMessageId), \(command.fileId)
                    WHERE EXISTS (SELECT 1 FROM chat_members WHERE chat_id = \(command.chatId) AND user_id = \(command.senderId))
                    ON CONFLICT DO NOTHING
                    RETURNING *
                )
                SELECT \(unescaped: Rows.messageColumns) FROM m \(unescaped: Rows.messageJoins)
                """, logger: logger), viewer: nil, links: database.fileLinks)
            if let message = inserted.first { return .created(message) }

            // Nothing inserted: either it exists (a concurrent twin has committed by now, the
            // unique index made us wait for it) or the sender may not post here.
            let existing = try await Rows.messages(client.query(
                """
                SELECT \(unescaped: Rows.messageColumns) FROM messages m \(unescaped: Rows.messageJoins)
                WHERE m.id = \(command.messageId)
                   OR (m.sender_id = \(command.senderId) AND m.client_message_id = \(command.clientMessageId))
                LIMIT 1
                """, logger: logger), viewer: nil, links: database.fileLinks)
            if let message = existing.first { return .existing(message) }
            return .notMember
        }
    }

    /// What a batch stored.
    public struct StoredBatch: Sendable {
        /// Each command's outcome, in the order of the commands.
        public var outcomes: [CreateOutcome]
        /// The members of every chat that got a new message, for the fan-out (read by the same
        /// statement, so the worker needs no second round trip).
        public var members: [UUID: [UUID]]
    }

    /// Stores many messages with one statement (a batch of the message worker), with the same
    /// outcomes, in the same order, as ``create(_:)`` one by one.
    public func create(_ commands: [MessageCreate]) async throws -> StoredBatch {
        guard !commands.isEmpty else { return StoredBatch(outcomes: [], members: [:]) }
        return try await database.run {
            let client = database.client
            let logger = database.logger
            var created: [UUID: Message] = [:]
            var members: [UUID: [UUID]] = [:]
            for try await (row, chatMembers) in try await client.execute(InsertMessages(commands), logger: logger) {
                let message = Rows.message(row, viewer: nil, links: database.fileLinks)
                created[message.id] = message
                members[message.chatId] = chatMembers
            }
            let missing = commands.filter { created[$0.messageId] == nil }
            var existing: [Message] = []
            if !missing.isEmpty {
                existing = try await Rows.messages(client.query(
                    """
                    SELECT \(unescaped: Rows.messageColumns) FROM messages m \(unescaped: Rows.messageJoins)
                    WHERE m.id = ANY(\(missing.map(\.messageId)))
                       OR (m.sender_id = ANY(\(missing.map(\.senderId))) AND m.client_message_id = ANY(\(missing.compactMap(\.clientMessageId))))
                    """, logger: logger), viewer: nil, links: database.fileLinks)
            }
            // A key repeated within the batch: the first command created it, the rest find it.
            var claimed = Set<UUID>()
            let outcomes = commands.map { command -> CreateOutcome in
                if let message = created[command.messageId] {
                    // The same command twice in one batch (a redelivery beside the original).
                    return claimed.insert(message.id).inserted ? .created(message) : .existing(message)
                }
                if let message = created.values.first(where: { Self.isTwin($0, of: command) })
                    ?? existing.first(where: { $0.id == command.messageId || Self.isTwin($0, of: command) }) {
                    return .existing(message)
                }
                return .notMember
            }
            return StoredBatch(outcomes: outcomes, members: members)
        }
    }

    /// The batch insert, prepared once per connection: the message worker runs it for every
    /// batch, and parsing and planning it each time was the larger part of PostgreSQL's work.
    /// Optional texts travel as a value and a flag: PostgreSQL arrays of NULLs are not something
    /// the driver binds.
    struct InsertMessages: PostgresPreparedStatement {
        /// The driver's default name is `String(reflecting:)` of the type, made anew for every
        /// execution.
        static let name = "parley_insert_messages"
        static let sql = """
            WITH v AS (
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::bool[],
                                     $7::text[], $8::bool[], $9::uuid[], $10::bool[])
                    AS v(id, chat_id, sender_id, message_type, text, has_text, client_message_id, has_key, file_id, has_file)
            ), m AS (
                INSERT INTO messages (id, chat_id, sender_id, message_type, text, client_message_id, file_id)
                SELECT v.id, v.chat_id, v.sender_id, v.message_type,
                       CASE WHEN v.has_text THEN v.text END, CASE WHEN v.has_key THEN v.client_message_id END,
                       CASE WHEN v.has_file THEN v.file_id END
                FROM v
                WHERE EXISTS (SELECT 1 FROM chat_members cm WHERE cm.chat_id = v.chat_id AND cm.user_id = v.sender_id)
                ORDER BY v.id
                ON CONFLICT DO NOTHING
                RETURNING *
            )
            SELECT \(Rows.messageColumns), ARRAY(SELECT cm.user_id FROM chat_members cm WHERE cm.chat_id = m.chat_id)
            FROM m \(Rows.messageJoins)
            """
        /// A new message and the members of its chat.
        typealias Row = (Rows.MessageRow, [UUID])
        let commands: [MessageCreate]
        init(_ commands: [MessageCreate]) { self.commands = commands }

        func makeBindings() -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 10)
            bindings.append(commands.map(\.messageId))
            bindings.append(commands.map(\.chatId))
            bindings.append(commands.map(\.senderId))
            bindings.append(commands.map(\.messageType.rawValue))
            bindings.append(commands.map { $0.text ?? "" })
            bindings.append(commands.map { $0.text != nil })
            bindings.append(commands.map { $0.clientMessageId ?? "" })
            bindings.append(commands.map { $0.clientMessageId != nil })
            bindings.append(commands.map { $0.fileId ?? MessageRepository.noFile })
            bindings.append(commands.map { $0.fileId != nil })
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row {
            var cells = row.makeIterator()
            return (try Rows.messageRow(&cells), try Rows.uuids(&cells))
        }
    }

    /// Stands in for an absent file id in the batch's arrays (its flag says it is absent).
    private static let noFile = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))

    /// The same sender's message under the same `clientMessageId`.
    private static func isTwin(_ message: Message, of command: MessageCreate) -> Bool {
        command.clientMessageId != nil && message.sender.id == command.senderId && message.clientMessageId == command.clientMessageId
    }

    /// What an edit or a delete did.
    public enum ChangeOutcome: Sendable, Equatable {
        case changed(Message)
        /// Already so: a delete of a message deleted before (a redelivery, a double click), or a
        /// redelivered edit.
        case unchanged(Message)
        case notFound
        /// The actor may not change this message.
        case forbidden
        /// An edit of a deleted message.
        case deleted
    }

    /// A message by id, as `viewer` sees its sender.
    public func find(id: UUID, viewer: UUID?) async throws -> Message? {
        try await database.run {
            try await Rows.messages(database.client.query(
                """
                SELECT \(unescaped: Rows.messageColumns) FROM messages m \(unescaped: Rows.messageJoins) WHERE m.id = \(id)
                """, logger: database.logger), viewer: viewer, links: database.fileLinks).first
        }
    }

    /// Replaces the text of a message; only its sender may, and not once it is deleted.
    /// - Parameter commandId: the edit's command id (a UUIDv7, so it orders edits by the time
    ///   they were asked), kept on the message: a redelivered edit, or one older than the edit
    ///   already applied, changes nothing (`.unchanged`).
    public func edit(_ command: MessageEdit, commandId: UUID) async throws -> ChangeOutcome {
        let updated = try await database.run {
            try await Rows.messages(database.client.query(
                """
                WITH m AS (
                    UPDATE messages SET text = \(command.text), edited_at = now(), updated_at = now(), last_edit_id = \(commandId)
                    WHERE id = \(command.messageId) AND sender_id = \(command.editorId) AND deleted_at IS NULL
                      AND (last_edit_id IS NULL OR last_edit_id < \(commandId))
                    RETURNING *
                )
                SELECT \(unescaped: Rows.messageColumns) FROM m \(unescaped: Rows.messageJoins)
                """, logger: database.logger), viewer: nil, links: database.fileLinks).first
        }
        if let updated { return .changed(updated) }
        let current = try await database.run {
            let rows = try await database.client.query(
                "SELECT last_edit_id FROM messages WHERE id = \(command.messageId)", logger: database.logger)
            for try await lastEdit in rows.decode(UUID?.self) { return lastEdit }
            return nil
        }
        guard let existing = try await find(id: command.messageId, viewer: nil) else { return .notFound }
        if existing.sender.id != command.editorId { return .forbidden }
        if let current, current >= commandId, !existing.isDeleted { return .unchanged(existing) }
        return .deleted
    }

    /// Soft-deletes a message: its content goes, its id and stamps stay. The sender or the
    /// group's admin may; deleting it again changes nothing.
    public func delete(_ command: MessageDelete) async throws -> ChangeOutcome {
        let deleted = try await database.run {
            try await Rows.messages(database.client.query(
                """
                WITH m AS (
                    UPDATE messages SET text = NULL, deleted_at = now(), updated_at = now()
                    WHERE id = \(command.messageId) AND deleted_at IS NULL
                      AND (sender_id = \(command.actorId)
                           OR EXISTS (SELECT 1 FROM chats c WHERE c.id = messages.chat_id AND c.group_admin_id = \(command.actorId)))
                    RETURNING *
                )
                SELECT \(unescaped: Rows.messageColumns) FROM m \(unescaped: Rows.messageJoins)
                """, logger: database.logger), viewer: nil, links: database.fileLinks).first
        }
        if let deleted { return .changed(deleted) }
        guard let existing = try await find(id: command.messageId, viewer: nil) else { return .notFound }
        return existing.isDeleted ? .unchanged(existing) : .forbidden
    }

    /// One page of a chat's history, oldest first.
    ///
    /// Keyset pagination on `(chat_id, id)`: with `before`, the `limit` messages just older
    /// than it; with `after`, the `limit` messages just newer; with neither, the newest. What
    /// the viewer cleared is not shown.
    public func history(chatId: UUID, viewer: UUID, before: UUID?, after: UUID?, limit: Int) async throws -> [Message] {
        try await database.run {
            let page = try await Rows.messages(
                database.client.query(Self.historyQuery(chatId: chatId, viewer: viewer, before: before, after: after, limit: limit),
                                      logger: database.logger),
                viewer: viewer, links: database.fileLinks)
            return after == nil ? page.reversed() : page
        }
    }

    /// The history query: newest first below `before` (or from the top), oldest first above
    /// `after`. The newest id the viewer cleared is a scalar subquery PostgreSQL runs once and
    /// uses as a bound of the index scan.
    static func historyQuery(chatId: UUID, viewer: UUID, before: UUID?, after: UUID?, limit: Int) -> PostgresQuery {
        if let after {
            return """
                SELECT \(unescaped: Rows.messageColumns) FROM messages m \(unescaped: Rows.messageJoins)
                WHERE m.chat_id = \(chatId) AND m.id > \(after)
                  AND m.id > COALESCE((SELECT cleared_through FROM chat_members WHERE chat_id = \(chatId) AND user_id = \(viewer)), \(ChatRepository.zero))
                ORDER BY m.id ASC LIMIT \(limit)
                """
        }
        // No `before` means from the newest: the largest UUID stands in for "after everything".
        let upper = before ?? UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))
        return """
            SELECT \(unescaped: Rows.messageColumns) FROM messages m \(unescaped: Rows.messageJoins)
            WHERE m.chat_id = \(chatId) AND m.id < \(upper)
              AND m.id > COALESCE((SELECT cleared_through FROM chat_members WHERE chat_id = \(chatId) AND user_id = \(viewer)), \(ChatRepository.zero))
            ORDER BY m.id DESC LIMIT \(limit)
            """
    }
}
