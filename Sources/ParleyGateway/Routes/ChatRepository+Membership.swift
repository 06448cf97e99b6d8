import Foundation
import ParleyCore
import ParleyStore

extension ChatRepository {
    /// Passes for members; 404 for an unknown chat, 403 for a chat the user is not in.
    func requireMember(chatId: UUID, userId: UUID) async throws {
        switch try await membership(chatId: chatId, userId: userId) {
        case .member: return
        case .notMember: throw ParleyError.forbidden("You are not a member of this chat")
        case .noSuchChat: throw ParleyError.notFound("Chat not found")
        }
    }
}
