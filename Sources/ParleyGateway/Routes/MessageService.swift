import Foundation
import Metrics
import ParleyCore
import ParleyQueue
import ParleyStore

/// Sending a message, the same for the REST route and the socket event: validate, publish
/// `message.create`, wait for the worker's persisted message (the worker checks membership).
struct MessageService: Sendable {
    let database: Database
    let bus: CommandBus
    private static let accepted = Counter(label: "parley_messages_accepted_total")

    struct SendRequest: Decodable {
        var chatId: String
        var text: String
        var clientMessageId: String?
    }

    struct EditRequest: Decodable {
        var messageId: String?
        var text: String
    }

    struct DeleteRequest: Decodable {
        var messageId: String
    }

    struct ReadRequest: Decodable {
        var chatId: String?
        var messageId: String
    }

    /// - Returns: the persisted message, and false when it was stored before (a repeated
    ///   `clientMessageId`).
    func send(_ request: SendRequest, from sender: UUID) async throws -> (message: Message, created: Bool) {
        try Self.newMessage(from: try await bus.send(.messageCreate(try Self.create(request, from: sender))))
    }

    /// ``send(_:from:)`` for a socket, without a task: `answer` is given the stored message's
    /// JSON as the worker wrote it (users' `isOnline` live, as in its event), to go into the
    /// sender's ack without decoding and encoding it again, or the error; once, from the thread
    /// the reply, the broker's refusal or the timeout comes on. The sender is online: the
    /// message came over their live socket.
    func sendAnswer(_ request: SendRequest, from sender: UUID, answer: @escaping @Sendable (Result<[UInt8], any Error>) -> Void) {
        let create: MessageCreate
        do { create = try Self.create(request, from: sender, online: true) } catch { return answer(.failure(error)) }
        bus.sendRaw(.messageCreate(create)) { reply in
            answer(reply.flatMap { reply in Result { try Self.answer(toCreation: reply) } })
        }
    }

    /// The stored message's JSON in a worker's reply to `message.create`.
    private static func answer(toCreation reply: [UInt8]) throws -> [UInt8] {
        // `{"commandId":…,"outcome":{"message":{"_0":{message},"created":…}}}`, the message read
        // over once.
        if let outcome = RawJSON.object(at: ["outcome", "message"], in: reply[...]) {
            let parts = RawJSON.members(["_0", "created"], in: outcome)
            if let message = parts[0] {
                if parts[1]?.elementsEqual("true".utf8) == true { Self.accepted.increment() }
                return Array(message)
            }
        }
        // A refusal, or a shape this gateway does not know: decoded as usual.
        _ = try Self.newMessage(from: try CommandBus.decode(reply))
        throw ParleyError(.internal, "Unexpected reply to message creation")
    }

    private static func create(_ request: SendRequest, from sender: UUID, online: Bool? = nil) throws -> MessageCreate {
        let chatId = try parseID(request.chatId, name: "chatId")
        var v = Validator()
        v.messageText(request.text)
        if let key = request.clientMessageId {
            v.check(!key.isEmpty && key.count <= Limits.clientMessageId, "clientMessageId must be 1 to \(Limits.clientMessageId) characters")
            v.withoutNUL(key, "clientMessageId")
        }
        try v.validate()
        // Membership is checked by the worker's insert itself (403, or 404 for no such chat):
        // asking PostgreSQL here first would cost every message a round trip.
        return MessageCreate(
            messageId: UUIDv7.make(), chatId: chatId, senderId: sender, messageType: .text,
            text: request.text, clientMessageId: request.clientMessageId, senderOnline: online
        )
    }

    /// The message a creation answered with, counted as accepted when it is new.
    private static func newMessage(from outcome: CommandReply.Outcome) throws -> (message: Message, created: Bool) {
        switch outcome {
        case .message(let message, let created):
            if created { accepted.increment() }
            return (message, created)
        case .failed(let error):
            throw error
        default:
            throw ParleyError(.internal, "Unexpected reply to message creation")
        }
    }

    /// Queues a staged upload for the media worker and waits for the message it becomes.
    /// - Parameter handedOver: called once the command may have reached the broker: from then on
    ///   the staged file is the worker's to keep or remove.
    /// - Returns: the stored message, and false when a repeated `clientMessageId` found it.
    func sendMedia(_ job: MediaProcess, handedOver: () -> Void) async throws -> (message: Message, created: Bool) {
        let outcome: CommandReply.Outcome
        do {
            outcome = try await bus.send(.mediaProcess(job))
        } catch let error as QueueError {
            throw error
        } catch {
            handedOver()
            throw error
        }
        handedOver()
        return try Self.newMessage(from: outcome)
    }

    /// Replaces a message's text: its sender only (403 otherwise), not once deleted (409).
    func edit(messageId: UUID, text: String, by editor: UUID) async throws -> Message {
        var v = Validator()
        v.messageText(text)
        try v.validate()
        try await requireVisible(messageId: messageId, to: editor)
        return try await changed(.messageEdit(MessageEdit(messageId: messageId, editorId: editor, text: text)))
    }

    /// Soft-deletes a message: its sender or the group's admin (403 otherwise); again is a no-op.
    func delete(messageId: UUID, by actor: UUID) async throws -> Message {
        try await requireVisible(messageId: messageId, to: actor)
        return try await changed(.messageDelete(MessageDelete(messageId: messageId, actorId: actor)))
    }

    /// Marks `chatId` read up to `messageId` for `reader`; members get `messages_read`. The mark
    /// never moves back: the answer is where it stands.
    func markRead(chatId: UUID, messageId: UUID, by reader: UUID) async throws -> ReadMark {
        try await requireMember(chatId: chatId, userId: reader)
        switch try await bus.send(.chatRead(ReadMark(chatId: chatId, userId: reader, messageId: messageId))) {
        case .read(let mark): return mark
        case .failed(let error): throw error
        default: throw ParleyError(.internal, "Unexpected reply to a read mark")
        }
    }

    /// Hides the chat's history up to now for `userId` only; the answer is the chat as they see
    /// it afterwards.
    func clear(chatId: UUID, by userId: UUID) async throws -> Chat {
        try await requireMember(chatId: chatId, userId: userId)
        let clear = ChatClear(chatId: chatId, userId: userId, through: UUIDv7.upperBound(at: Date()))
        switch try await bus.send(.chatClear(clear)) {
        case .chat(let chat, _): return chat
        case .failed(let error): throw error
        default: throw ParleyError(.internal, "Unexpected reply to clearing a chat")
        }
    }

    /// 404 for an unknown message, 403 when the user is not in its chat.
    private func requireVisible(messageId: UUID, to userId: UUID) async throws {
        guard let message = try await database.messages.find(id: messageId, viewer: userId) else {
            throw ParleyError.notFound("Message not found")
        }
        try await requireMember(chatId: message.chatId, userId: userId)
    }

    private func changed(_ payload: Command.Payload) async throws -> Message {
        switch try await bus.send(payload) {
        case .message(let message, _): return message
        case .failed(let error): throw error
        default: throw ParleyError(.internal, "Unexpected reply to a message change")
        }
    }

    func requireMember(chatId: UUID, userId: UUID) async throws {
        try await database.chats.requireMember(chatId: chatId, userId: userId)
    }
}
