import Foundation
import Hummingbird
import ParleyCore
import ParleyStore

/// `/api/chats`. Reads come from PostgreSQL; creating a chat goes through the message worker.
struct ChatController {
    let database: Database
    let bus: CommandBus

    struct DirectChatRequest: Decodable {
        var userId: String
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post(use: openDirect)
        group.get(use: list)
        group.get(":chatId", use: show)
    }

    /// The caller's chats, latest activity first.
    @Sendable func list(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        return JSONResponse.data(try await database.chats.chats(of: me))
    }

    /// One chat as the caller sees it; 403 for non-members.
    @Sendable func show(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("chatId"), name: "chatId")
        try await database.chats.requireMember(chatId: chatId, userId: me)
        guard let chat = try await database.chats.chat(id: chatId, viewer: me) else { throw ParleyError.notFound("Chat not found") }
        return JSONResponse.data(chat)
    }

    /// The caller's 1:1 chat with `userId`: 200 when it existed, 201 when this call made it.
    @Sendable func openDirect(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let body = try await request.decodeJSON(DirectChatRequest.self, context: context)
        let other = try parseID(body.userId, name: "userId")
        guard other != me else { throw ParleyError.badRequest("You cannot open a chat with yourself") }
        guard try await database.users.find(id: other, viewer: me) != nil else {
            throw ParleyError.notFound("User not found")
        }
        if let existing = try await database.chats.findDirect(between: me, and: other),
           let chat = try await database.chats.chat(id: existing, viewer: me) {
            return JSONResponse.data(chat)
        }
        let outcome = try await bus.send(.chatCreateDirect(ChatCreateDirect(chatId: UUIDv7.make(), userId: me, otherUserId: other)))
        switch outcome {
        case .chat(let chat, let created):
            return JSONResponse.data(chat, status: created ? .created : .ok)
        case .failed(let error):
            throw error
        default:
            throw ParleyError(.internal, "Unexpected reply to chat creation")
        }
    }
}
