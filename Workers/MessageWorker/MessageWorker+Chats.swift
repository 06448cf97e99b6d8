import Foundation
import ParleyCore
import ParleyPubSub
import ParleyStore

extension MessageWorker {
    /// The reply to a chat command: the chat as the actor sees it now. A real change is
    /// announced with `chat_updated` to every member, each with their own view, and to those
    /// who just left.
    func chatChanged(_ command: Command, chatId: UUID, actor: UUID, outcome: ChatRepository.GroupOutcome) async throws -> CommandReply {
        let created = command.type == .chatCreateDirect || command.type == .chatCreateGroup
        switch outcome {
        case .changed(let leaving):
            var views = try await database.chats.memberViews(of: chatId)
            for userId in leaving {
                if let view = try await database.chats.chat(id: chatId, viewer: userId) { views.append((userId, view)) }
            }
            // One presence lookup for all views: they show the same users.
            views = await live(views.map(\.chat)).enumerated().map { (views[$0.offset].userId, $0.element) }
            var events = PublishBatch()
            for (userId, view) in views {
                events.add([UInt8](try JSON.encode(UserEvent.chatUpdated(view))), toUser: userId)
            }
            let actorView = views.first { $0.userId == actor }?.chat
            await publish(events)
            guard let actorView else { return failure(command, .notFound("Chat not found")) }
            return CommandReply(commandId: command.id, outcome: .chat(actorView, created: created))
        case .unchanged:
            guard let stored = try await database.chats.chat(id: chatId, viewer: actor) else {
                return failure(command, .notFound("Chat not found"))
            }
            let view = await live(stored)
            return CommandReply(commandId: command.id, outcome: .chat(view, created: false))
        case .noSuchChat: return failure(command, .notFound("Chat not found"))
        case .notGroup: return failure(command, .badRequest("A 1:1 chat has no name or members to change"))
        case .forbidden: return failure(command, .forbidden("Only the group's admin may do this"))
        case .noSuchUser: return failure(command, .notFound("User not found"))
        case .full: return failure(command, ParleyError(.conflict, "The group has \(Limits.groupMembers) members already"))
        }
    }

    /// Clearing changes what one member sees: only their own sockets hear of it.
    func cleared(_ command: Command, _ clear: ChatClear) async throws -> CommandReply {
        guard try await database.chats.clear(clear),
              let stored = try await database.chats.chat(id: clear.chatId, viewer: clear.userId)
        else { return failure(command, .forbidden("You are not a member of this chat")) }
        let view = await live(stored)
        await publish(PublishBatch([UInt8](try JSON.encode(UserEvent.chatUpdated(view))), toUsers: [clear.userId]))
        return CommandReply(commandId: command.id, outcome: .chat(view, created: false))
    }

    private func failure(_ command: Command, _ error: ParleyError) -> CommandReply {
        CommandReply(commandId: command.id, outcome: .failed(error))
    }
}
