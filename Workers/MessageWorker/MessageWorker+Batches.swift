import Foundation
import Metrics
import ParleyCore
import ParleyQueue
import ParleyStore

extension MessageWorker {
    /// A batch of deliveries: the new messages among them are stored with one statement and
    /// fanned out with one pipelined batch of PUBLISHes; every other command is applied on its
    /// own, beside them.
    func handle(_ batch: [Delivery]) async {
        var creates: [(delivery: Delivery, command: Command, create: MessageCreate)] = []
        var others: [(delivery: Delivery, command: Command?)] = []
        for delivery in batch {
            let command = try? JSON.decode(Command.self, from: Data(delivery.body))
            if let command, case .messageCreate(let create) = command.payload {
                creates.append((delivery, command, create))
            } else {
                others.append((delivery, command))
            }
        }
        let newMessages = creates
        let rest = others
        await withDiscardingTaskGroup { group in
            for (delivery, command) in rest { group.addTask { await self.handle(delivery, decoded: command) } }
            if !newMessages.isEmpty { group.addTask { await self.applyCreates(newMessages) } }
        }
    }

    /// Stores new messages with one statement.
    /// - Returns: each command's outcome, and the `message_received` events for the members of
    ///   the chats that got a message.
    func store(_ creates: [MessageCreate]) async throws -> (outcomes: [CommandReply.Outcome], events: [(String, [UInt8])]) {
        let stored = try await database.messages.create(creates)
        let chats = stored.compactMap { if case .created(let message) = $0 { message.chatId } else { nil } }
        let members = try await database.chats.memberIds(of: Set(chats))
        let messages = await live(stored.compactMap { outcome -> Message? in
            switch outcome {
            case .created(let message), .existing(let message): message
            case .notMember: nil
            }
        })
        let byId = Dictionary(messages.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // The gateway leaves membership to this insert; a refused one says why (rare).
        var refusals: [Int: ParleyError] = [:]
        for (index, outcome) in stored.enumerated() where outcome == .notMember {
            let create = creates[index]
            refusals[index] = switch try await database.chats.membership(chatId: create.chatId, userId: create.senderId) {
            case .noSuchChat: .notFound("Chat not found")
            default: .forbidden("You are not a member of this chat")
            }
        }
        var events: [(String, [UInt8])] = []
        let outcomes = stored.enumerated().map { index, outcome -> CommandReply.Outcome in
            switch outcome {
            case .created(let message):
                let message = byId[message.id] ?? message
                persisted.increment()
                if let event = try? [UInt8](JSON.encode(UserEvent.messageReceived(message))) {
                    events += (members[message.chatId] ?? []).map { (Channels.user($0), event) }
                }
                return .message(Self.answer(message), created: true)
            case .existing(let message):
                return .message(Self.answer(byId[message.id] ?? message), created: false)
            case .notMember:
                return .failed(refusals[index] ?? .forbidden("You are not a member of this chat"))
            }
        }
        return (outcomes, events)
    }

    /// A message as its sender is answered: the sender is online, acting now (its gateway
    /// forwards this to the sender's socket as it is).
    static func answer(_ message: Message) -> Message {
        var message = message
        message.sender.isOnline = true
        return message
    }

    /// Commits the new messages of a batch, acknowledges each command, then publishes every
    /// event and reply at once. If the store fails, each command is retried on its own.
    private func applyCreates(_ items: [(delivery: Delivery, command: Command, create: MessageCreate)]) async {
        let outcomes: [CommandReply.Outcome]
        var outgoing: [(String, [UInt8])]
        do {
            (outcomes, outgoing) = try await store(items.map(\.create))
        } catch {
            for item in items { await failed.retry(item.delivery, command: item.command, error: error) }
            return
        }
        for (item, outcome) in zip(items, outcomes) {
            applied.increment()
            consumer.ack(item.delivery)
            if let node = item.command.replyTo, let body = try? [UInt8](JSON.encode(CommandReply(commandId: item.command.id, outcome: outcome))) {
                outgoing.append((Channels.node(node), body))
            }
        }
        await publish(outgoing)
    }
}
