import Foundation
import Hummingbird
import ParleyCore
import ParleyStore

/// `/api/chats`. Reads come from PostgreSQL; every change goes through the message worker,
/// which checks the actor's rights when it commits.
struct ChatController {
    let database: Database
    let bus: CommandBus
    let presence: LivePresence

    struct DirectChatRequest: Decodable {
        var userId: String
    }

    struct GroupRequest: Decodable {
        var chatName: String
        var users: [String]
    }

    struct RenameRequest: Decodable {
        var chatName: String
    }

    struct MemberRequest: Decodable {
        var userId: String
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post(use: openDirect)
        group.get(use: list)
        group.post("group", use: createGroup)
        group.get(":chatId", use: show)
        group.patch(":chatId", use: rename)
        group.post(":chatId/members", use: addMember)
        group.delete(":chatId/members/:userId", use: removeMember)
    }

    /// `?limit=&before=`: a page of the caller's chats, latest activity first; `nextBefore`
    /// fetches the next.
    @Sendable func list(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let query = request.uri.queryParameters
        let limit = try pageLimit(query.get("limit"), default: Limits.chatPage, max: Limits.chatPage)
        let before = try query.get("before").map { raw in
            guard let cursor = ChatRepository.ChatCursor(String(raw)) else { throw ParleyError.badRequest("before is not a valid cursor") }
            return cursor
        }
        let page = try await database.chats.chats(of: me, before: before, limit: limit)
        return JSONResponse.page(await presence.live(page.chats), cursors: ["nextBefore": page.nextBefore?.description])
    }

    /// One chat as the caller sees it; 403 for non-members.
    @Sendable func show(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("chatId"), name: "chatId")
        try await database.chats.requireMember(chatId: chatId, userId: me)
        guard let chat = try await database.chats.chat(id: chatId, viewer: me) else { throw ParleyError.notFound("Chat not found") }
        return await presence.data(chat)
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
            return await presence.data(chat)
        }
        let (chat, created) = try await send(.chatCreateDirect(ChatCreateDirect(chatId: UUIDv7.make(), userId: me, otherUserId: other)))
        return await presence.data(chat, status: created ? .created : .ok)
    }

    /// `{chatName, users}`: a group of the caller (its admin) and at least two others.
    @Sendable func createGroup(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let body = try await request.decodeJSON(GroupRequest.self, context: context)
        var v = Validator()
        let name = v.text(body.chatName, "chatName", max: Limits.chatName)
        let ids = try body.users.map { try parseID($0, name: "users[]") }
        var others: [UUID] = []
        for id in ids where id != me && !others.contains(id) { others.append(id) }
        v.check(others.count >= 2, "users must name at least 2 other users")
        v.check(others.count < Limits.groupMembers, "a group holds at most \(Limits.groupMembers) members")
        try v.validate()
        guard try await database.users.existing(others).count == others.count else { throw ParleyError.notFound("User not found") }
        let (chat, _) = try await send(.chatCreateGroup(ChatCreateGroup(chatId: UUIDv7.make(), adminId: me, chatName: name, memberIds: others)))
        return await presence.data(chat, status: .created)
    }

    /// `{chatName}`: the group's admin renames it.
    @Sendable func rename(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("chatId"), name: "chatId")
        let body = try await request.decodeJSON(RenameRequest.self, context: context)
        var v = Validator()
        let name = v.text(body.chatName, "chatName", max: Limits.chatName)
        try v.validate()
        try await database.chats.requireMember(chatId: chatId, userId: me)
        return await presence.data(try await send(.chatRename(ChatRename(chatId: chatId, actorId: me, chatName: name))).chat)
    }

    /// `{userId}`: the group's admin adds a user.
    @Sendable func addMember(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("chatId"), name: "chatId")
        let body = try await request.decodeJSON(MemberRequest.self, context: context)
        let userId = try parseID(body.userId, name: "userId")
        try await database.chats.requireMember(chatId: chatId, userId: me)
        guard try await database.users.existing([userId]).contains(userId) else { throw ParleyError.notFound("User not found") }
        return await presence.data(try await send(.chatAddMember(ChatMemberChange(chatId: chatId, actorId: me, userId: userId))).chat)
    }

    /// The admin removes a member, or a member leaves (`userId` is the caller). The answer is
    /// the chat as the caller sees it afterwards.
    @Sendable func removeMember(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        let chatId = try parseID(context.parameters.get("chatId"), name: "chatId")
        let userId = try parseID(context.parameters.get("userId"), name: "userId")
        try await database.chats.requireMember(chatId: chatId, userId: me)
        guard try await database.chats.membership(chatId: chatId, userId: userId) == .member else {
            throw ParleyError.notFound("That user is not a member of this chat")
        }
        return await presence.data(try await send(.chatRemoveMember(ChatMemberChange(chatId: chatId, actorId: me, userId: userId))).chat)
    }

    private func send(_ payload: Command.Payload) async throws -> (chat: Chat, created: Bool) {
        switch try await bus.send(payload) {
        case .chat(let chat, let created): return (chat, created)
        case .failed(let error): throw error
        default: throw ParleyError(.internal, "Unexpected reply to a chat command")
        }
    }
}
