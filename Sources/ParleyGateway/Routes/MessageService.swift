import Foundation
import ParleyCore
import ParleyStore

/// Sending a message, the same for the REST route and the socket event: validate, check
/// membership, publish `message.create`, wait for the worker's persisted message.
struct MessageService: Sendable {
    let database: Database
    let bus: CommandBus

    struct SendRequest: Decodable {
        var chatId: String
        var text: String
        var clientMessageId: String?
    }

    /// - Returns: the persisted message, and false when it was stored before (a repeated
    ///   `clientMessageId`).
    func send(_ request: SendRequest, from sender: UUID) async throws -> (message: Message, created: Bool) {
        let chatId = try parseID(request.chatId, name: "chatId")
        var v = Validator()
        v.check(!request.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "text is required")
        v.check(request.text.count <= Limits.messageText, "text must be at most \(Limits.messageText) characters")
        if let key = request.clientMessageId {
            v.check(!key.isEmpty && key.count <= Limits.clientMessageId, "clientMessageId must be 1 to \(Limits.clientMessageId) characters")
        }
        try v.validate()
        try await requireMember(chatId: chatId, userId: sender)

        let create = MessageCreate(
            messageId: UUIDv7.make(), chatId: chatId, senderId: sender, messageType: .text,
            text: request.text, clientMessageId: request.clientMessageId
        )
        switch try await bus.send(.messageCreate(create)) {
        case .message(let message, let created):
            return (message, created)
        case .failed(let error):
            throw error
        case .chat:
            throw ParleyError(.internal, "Unexpected reply to message creation")
        }
    }

    func requireMember(chatId: UUID, userId: UUID) async throws {
        try await database.chats.requireMember(chatId: chatId, userId: userId)
    }
}
