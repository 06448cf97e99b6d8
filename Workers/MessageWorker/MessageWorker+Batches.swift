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
        var others: [Delivery] = []
        for delivery in batch {
            if let command = try? JSON.decode(Command.self, from: Data(delivery.body)), case .messageCreate(let create) = command.payload {
                creates.append((delivery, command, create))
            } else {
                others.append(delivery)
            }
        }
        let newMessages = creates
        await withDiscardingTaskGroup { group in
            for delivery in others { group.addTask { await self.handle(delivery) } }
            if !newMessages.isEmpty { group.addTask { await self.applyCreates(newMessages) } }
        }
    }

    /// Commits the new messages of a batch, acknowledges each command, then publishes every
    /// event and reply at once. If the store fails, each command is retried on its own.
    private func applyCreates(_ items: [(delivery: Delivery, command: Command, create: MessageCreate)]) async {
        let outcomes: [MessageRepository.CreateOutcome]
        let members: [UUID: [UUID]]
        do {
            outcomes = try await database.messages.create(items.map(\.create))
            let chats = outcomes.compactMap { if case .created(let message) = $0 { message.chatId } else { nil } }
            members = try await database.chats.memberIds(of: Set(chats))
        } catch {
            for item in items { await failed.retry(item.delivery, command: item.command, error: error) }
            return
        }
        let messages = await live(outcomes.compactMap { outcome -> Message? in
            switch outcome {
            case .created(let message), .existing(let message): message
            case .notMember: nil
            }
        })
        let byId = Dictionary(messages.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var outgoing: [(String, [UInt8])] = []
        for (item, outcome) in zip(items, outcomes) {
            let reply: CommandReply.Outcome
            switch outcome {
            case .created(let stored):
                let message = byId[stored.id] ?? stored
                persisted.increment()
                if let event = try? [UInt8](JSON.encode(UserEvent.messageReceived(message))) {
                    outgoing += (members[message.chatId] ?? []).map { (Channels.user($0), event) }
                }
                reply = .message(message, created: true)
            case .existing(let stored):
                reply = .message(byId[stored.id] ?? stored, created: false)
            case .notMember:
                reply = .failed(.forbidden("You are not a member of this chat"))
            }
            applied.increment()
            consumer.ack(item.delivery)
            if let node = item.command.replyTo, let body = try? [UInt8](JSON.encode(CommandReply(commandId: item.command.id, outcome: reply))) {
                outgoing.append((Channels.node(node), body))
            }
        }
        await publish(outgoing)
    }
}
