import Foundation
import HTTPTypes
import Logging
import ParleyCore
import ParleyPubSub
import ParleyStore
import SocketIO

/// Chat over Socket.IO: authenticates at CONNECT, keeps the node subscribed to the Redis channel
/// of every user it holds a socket of, and answers client events through their acks.
struct ChatSocketHandler: SocketIOHandler {
    let tokens: TokenService
    let users: UserRepository
    let chats: ChatRepository
    let messages: MessageService
    let hub: SocketHub
    let subscriber: RedisSubscriber
    /// For typing notices, which go straight to the other members' channels: ephemeral, so not
    /// through the queue and not stored.
    let redis: RedisClient
    let reporter: PresenceReporter
    let presence: LivePresence
    let logger: Logger

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision {
        let token = auth?["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? socket.handshake.headers.bearerToken
        guard let token else { return .reject(message: "Authentication token required") }
        guard let userId = await tokens.verify(token) else { return .reject(message: "Invalid authentication token") }
        do {
            guard try await users.find(id: userId, viewer: userId) != nil else { return .reject(message: "User not found") }
        } catch {
            return .reject(message: "Service unavailable, try again")
        }
        if hub.add(socket, for: userId) {
            await subscriber.subscribe(Channels.user(userId))
        }
        return .accept(userData: userId)
    }

    func connected(_ socket: SocketIOSocket, auth: JSONValue?) async {
        guard let userId = socket.userData as? UUID else { return }
        reporter.connected(
            userId: userId, socketId: socket.id, ip: socket.handshake.remoteAddress,
            userAgent: socket.handshake.headers[.userAgent].map { String($0.prefix(Limits.deviceInfo)) })
    }

    func disconnected(_ socket: SocketIOSocket, reason: String) async {
        guard let userId = socket.userData as? UUID else { return }
        reporter.disconnected(userId: userId, socketId: socket.id)
        if hub.remove(socket, for: userId, reason: reason) {
            subscriber.unsubscribe(Channels.user(userId))
        }
    }

    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
        guard let userId = socket.userData as? UUID else { return }
        do {
            // Answers are encoded once, straight into the ack. `send_message` never comes here:
            // ``eventWithoutTask(_:name:arguments:ack:done:)`` takes it.
            let data: [UInt8]
            switch name {
            case "edit_message":
                let request = try decode(MessageService.EditRequest.self, from: arguments)
                let messageId = try parseID(request.messageId, name: "messageId")
                data = try Self.json(Self.sentHere(try await messages.edit(messageId: messageId, text: request.text, by: userId)))
            case "mark_read":
                let request = try decode(MessageService.ReadRequest.self, from: arguments)
                let chatId = try parseID(request.chatId, name: "chatId")
                let messageId = try parseID(request.messageId, name: "messageId")
                data = try Self.json(try await messages.markRead(chatId: chatId, messageId: messageId, by: userId))
            case "typing", "stop_typing":
                let request = try decode(TypingRequest.self, from: arguments)
                try await relayTyping(started: name == "typing", chatId: try parseID(request.chatId, name: "chatId"), userId: userId)
                data = Array("null".utf8)
            case "delete_message":
                let request = try decode(MessageService.DeleteRequest.self, from: arguments)
                let messageId = try parseID(request.messageId, name: "messageId")
                data = try Self.json(await presence.live(try await messages.delete(messageId: messageId, by: userId)))
            case "get_status":
                let request = try decode(StatusRequest.self, from: arguments)
                data = try Self.json(try await presence.statuses(of: request.userIds, viewer: userId))
            default:
                throw ParleyError(.badRequest, "Unknown event '\(name)'")
            }
            answer(ack, data)
        } catch {
            refuse(ack, name: name, error)
        }
    }

    /// `send_message`, the event clients send most, without a task: its work is waiting for the
    /// broker and the worker, and the answer is written from the thread the reply comes on.
    func eventWithoutTask(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?, done: @escaping @Sendable () -> Void) -> Bool {
        guard name == "send_message", let userId = socket.userData as? UUID else { return false }
        let request: MessageService.SendRequest
        do { request = try sendRequest(from: arguments) } catch {
            refuse(ack, name: name, error)
            done()
            return true
        }
        messages.sendAnswer(request, from: userId) { [self] result in
            switch result {
            case .success(let data): answer(ack, data)
            case .failure(let error): refuse(ack, name: name, error)
            }
            done()
        }
        return true
    }

    /// Answers an event with `{ok: true, data}`, `data` being JSON already.
    private func answer(_ ack: Ack?, _ data: [UInt8]) {
        ack?.send(rawJSON: Array(#"{"ok":true,"data":"#.utf8) + data + [UInt8(ascii: "}")])
    }

    /// Answers an event that failed: `{ok: false, error: {code, message}}`.
    private func refuse(_ ack: Ack?, name: String, _ error: any Error) {
        let parleyError = ParleyHTTPError.parleyError(from: error)
        if parleyError.code == .internal {
            logger.error("socket event failed", metadata: ["event": "\(name)", "error": "\(error)"])
        }
        ack?(.object(["ok": .bool(false), "error": .object([
            "code": .string(parleyError.code.rawValue), "message": .string(parleyError.message),
        ])]))
    }

    /// A message whose sender is the user on this socket: online, without asking Redis.
    private static func sentHere(_ message: Message) -> Message {
        var message = message
        message.sender.isOnline = true
        return message
    }

    private static func json(_ value: some Encodable) throws -> [UInt8] {
        [UInt8](try JSON.encode(value))
    }

    struct TypingRequest: Decodable {
        var chatId: String
    }

    struct StatusRequest: Decodable {
        var userIds: [String]
    }

    /// Tells the other members' sockets that `userId` started or stopped typing in `chatId`.
    private func relayTyping(started: Bool, chatId: UUID, userId: UUID) async throws {
        let members = try await chats.memberIds(chatId: chatId)
        guard members.contains(userId) else {
            try await chats.requireMember(chatId: chatId, userId: userId)
            return
        }
        let notice = TypingNotice(chatId: chatId, userId: userId)
        let payload = [UInt8](try JSON.encode(started ? UserEvent.typing(notice) : UserEvent.stopTyping(notice)))
        try await redis.publish(PublishBatch(payload, toUsers: members.filter { $0 != userId }))
    }

    /// `send_message`'s payload, read straight from the parsed arguments when it has the usual
    /// shape (serializing it again for `JSONDecoder` was 6% of the gateway in 1:1 chats);
    /// anything else goes through the decoder, for its error messages.
    private func sendRequest(from arguments: [JSONValue]) throws -> MessageService.SendRequest {
        if case .object(let fields)? = arguments.first, case .string(let chatId)? = fields["chatId"], case .string(let text)? = fields["text"] {
            switch fields["clientMessageId"] {
            case nil, .null?: return MessageService.SendRequest(chatId: chatId, text: text, clientMessageId: nil)
            case .string(let key)?: return MessageService.SendRequest(chatId: chatId, text: text, clientMessageId: key)
            default: break
            }
        }
        return try decode(MessageService.SendRequest.self, from: arguments)
    }

    /// The event's first argument as `T`; anything else is a 400-style error ack.
    private func decode<T: Decodable>(_ type: T.Type, from arguments: [JSONValue]) throws -> T {
        guard let first = arguments.first, case .object = first else {
            throw ParleyError.badRequest("The event needs an object payload")
        }
        return try JSONDecoding.decode(T.self, from: first.serialized)
    }
}
