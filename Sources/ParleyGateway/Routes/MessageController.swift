import Foundation
import HTTPTypes
import Hummingbird
import ParleyCore
import ParleyStore

/// `/api/messages`: sending goes through the queue to the message worker; history is read from
/// PostgreSQL.
struct MessageController {
    let database: Database
    let messages: MessageService
    let presence: LivePresence

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post(use: send)
        // One parameter name at one place of the path: GET takes a chat id there, PUT and DELETE
        // a message id (the paths of the client contract).
        group.get(":id", use: history)
        group.put(":id", use: edit)
        group.delete(":id", use: delete)
        group.post(":id/read", use: markRead)
        group.delete("clear/:chatId", use: clear)
    }

    /// 201 with the persisted message. A repeated `clientMessageId` answers the same message
    /// again (also 201, marked `Idempotent-Replayed: true`).
    @Sendable func send(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let body = try await request.decodeJSON(MessageService.SendRequest.self, context: context)
        let (message, created) = try await messages.send(body, from: me)
        return await presence.data(message, status: .created, headers: created ? [:] : [.idempotentReplayed: "true"])
    }

    /// The sender replaces the text; `isEdited` and `editedAt` are set.
    @Sendable func edit(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let messageId = try parseID(context.parameters.get("id"), name: "messageId")
        let body = try await request.decodeJSON(MessageService.EditRequest.self, context: context)
        return await presence.data(try await messages.edit(messageId: messageId, text: body.text, by: me))
    }

    /// Soft delete by the sender or the group admin: the answer is the message without content.
    @Sendable func delete(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let messageId = try parseID(context.parameters.get("id"), name: "messageId")
        return await presence.data(try await messages.delete(messageId: messageId, by: me))
    }

    /// `{messageId}`: the caller has read the chat up to it.
    @Sendable func markRead(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("id"), name: "chatId")
        let body = try await request.decodeJSON(MessageService.ReadRequest.self, context: context)
        let messageId = try parseID(body.messageId, name: "messageId")
        return JSONResponse.data(try await messages.markRead(chatId: chatId, messageId: messageId, by: me))
    }

    /// Hides the history up to now for the caller only; answers the chat as they now see it.
    @Sendable func clear(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("chatId"), name: "chatId")
        return await presence.data(try await messages.clear(chatId: chatId, by: me))
    }

    /// `?limit=50&before=<id>` or `?after=<id>`: one page, oldest first.
    @Sendable func history(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("id"), name: "chatId")
        let query = request.uri.queryParameters
        let before = try query.get("before").map { try parseID(String($0), name: "before") }
        let after = try query.get("after").map { try parseID(String($0), name: "after") }
        guard before == nil || after == nil else { throw ParleyError.badRequest("Use either before or after, not both") }
        let limit = try pageLimit(query.get("limit"), default: 50, max: Limits.historyPage)
        try await messages.requireMember(chatId: chatId, userId: me)
        let page = try await database.messages.history(chatId: chatId, viewer: me, before: before, after: after, limit: limit)
        let older: UUID? = after != nil ? page.first?.id : (page.count == limit ? page.first?.id : nil)
        return JSONResponse.page(await presence.live(page), cursors: [
            "nextBefore": older?.lowercased, "nextAfter": (page.last?.id ?? after)?.lowercased,
        ])
    }
}

extension HTTPField.Name {
    /// Marks an answer that repeats an earlier one for the same idempotency key.
    static let idempotentReplayed = Self("Idempotent-Replayed")!
}
