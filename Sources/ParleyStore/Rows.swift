import Foundation
import ParleyCore
import PostgresNIO

/// Column lists and row decoding shared by the repositories, so that every query returning a
/// user or a message builds the same shape.
enum Rows {
    /// `u.*` as a ``User``: 9 columns.
    static let userColumns = "u.id, u.first_name, u.last_name, u.email, u.image, u.show_last_seen, u.last_seen, u.created_at, u.updated_at"
    typealias UserRow = (UUID, String, String, String, String?, Bool, Date?, Date, Date)

    /// `m.*` then `u.*` (the sender) as a ``Message``: 10 + 9 columns.
    static let messageColumns = "m.id, m.chat_id, m.message_type, m.text, m.file_id, m.client_message_id, m.edited_at, m.deleted_at, m.created_at, m.updated_at, " + userColumns
    typealias MessageRow = (UUID, UUID, String, String?, UUID?, String?, Date?, Date?, Date, Date,
                            UUID, String, String, String, String?, Bool, Date?, Date, Date)

    /// - Parameter viewer: who asks; `lastSeen` is hidden from others when the user hides it.
    static func user(_ r: UserRow, viewer: UUID?) -> User {
        let (id, firstName, lastName, email, image, showLastSeen, lastSeen, createdAt, updatedAt) = r
        return User(
            id: id, firstName: firstName, lastName: lastName, email: email, image: image,
            isOnline: false, lastSeen: showLastSeen || viewer == id ? lastSeen : nil,
            createdAt: createdAt, updatedAt: updatedAt
        )
    }

    static func message(_ r: MessageRow, viewer: UUID?) -> Message {
        let sender = user((r.10, r.11, r.12, r.13, r.14, r.15, r.16, r.17, r.18), viewer: viewer)
        let deleted = r.7 != nil
        return Message(
            id: r.0, chatId: r.1, sender: sender, messageType: MessageType(rawValue: r.2) ?? .text,
            content: deleted ? MessageContent() : MessageContent(text: r.3),
            isEdited: r.6 != nil, editedAt: r.6, isDeleted: deleted, deletedAt: r.7,
            clientMessageId: r.5, createdAt: r.8, updatedAt: r.9
        )
    }

    static func users(_ rows: PostgresRowSequence, viewer: UUID?) async throws -> [User] {
        var result: [User] = []
        for try await row in rows.decode(UserRow.self) { result.append(user(row, viewer: viewer)) }
        return result
    }

    static func messages(_ rows: PostgresRowSequence, viewer: UUID?) async throws -> [Message] {
        var result: [Message] = []
        for try await row in rows.decode(MessageRow.self) { result.append(message(row, viewer: viewer)) }
        return result
    }
}

extension Database {
    /// Runs a store operation within ``operationTimeout``, turning driver errors and time-outs
    /// into ``StoreError`` (503 for callers) while letting ``ParleyError`` (bad input,
    /// conflicts) through.
    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask { try await body() }
                group.addTask { [operationTimeout] in
                    try await Task.sleep(for: operationTimeout)
                    throw StoreError(description: "postgres: no answer within \(operationTimeout)")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as ParleyError {
            throw error
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError(error)
        }
    }
}
