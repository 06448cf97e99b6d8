import Foundation
import Metrics
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore

extension MessageWorker {
    /// A batch of deliveries, each one command or a ``CommandBatch`` of them: the new messages
    /// among them are stored with one statement and fanned out with one pipelined batch of
    /// PUBLISHes; every other command is applied on its own, beside them. A delivery is settled
    /// once each of its commands is applied, retried or parked.
    func handle(_ batch: [Delivery]) async {
        var creates: [NewMessage] = []
        var others: [(delivery: Int, command: Command)] = []
        var undecodable: [Int: any Error] = [:]
        for (index, delivery) in batch.enumerated() {
            let commands: [Command]
            do { commands = try CommandBatch.decode(delivery.body) } catch {
                undecodable[index] = error
                continue
            }
            for command in commands {
                if case .messageCreate(let create) = command.payload {
                    creates.append(NewMessage(delivery: index, command: command, create: create))
                } else {
                    others.append((index, command))
                }
            }
        }
        let newMessages = creates
        let rest = others
        let settled: [(delivery: Int, Disposition)]
        if !rest.isEmpty {
            settled = await applyBeside(newMessages, rest, from: batch)
        } else if !newMessages.isEmpty {
            // The usual batch, only new messages: applied on this task, without a child task's hop.
            settled = await applyCreates(newMessages, from: batch)
        } else {
            settled = []
        }
        var dispositions = [Disposition](repeating: .ack, count: batch.count)
        for (index, disposition) in settled { dispositions[index] = max(dispositions[index], disposition) }
        for (index, delivery) in batch.enumerated() {
            if let error = undecodable[index] {
                await failed.park(delivery, reason: "undecodable command: \(error)")
            } else {
                consumer.settle(delivery, dispositions[index])
            }
        }
    }

    /// Applies the batch's new messages and its other commands side by side.
    /// - Returns: what each command asks of its delivery.
    private func applyBeside(
        _ newMessages: [NewMessage], _ rest: [(delivery: Int, command: Command)], from batch: [Delivery]
    ) async -> [(delivery: Int, Disposition)] {
        await withTaskGroup(of: [(delivery: Int, Disposition)].self) { group in
            for (index, command) in rest {
                group.addTask { [(index, await self.handle(command, from: batch[index]))] }
            }
            if !newMessages.isEmpty { group.addTask { await self.applyCreates(newMessages, from: batch) } }
            return await group.reduce(into: []) { $0 += $1 }
        }
    }

    /// A new message's command and the delivery (its index in the batch) it came in.
    struct NewMessage: Sendable {
        let delivery: Int
        let command: Command
        let create: MessageCreate
    }

    /// What a new message's command is answered with: the message's JSON, encoded once for its
    /// event and its reply, or another outcome.
    enum CreateOutcome {
        case message(json: [UInt8], created: Bool)
        case other(CommandReply.Outcome)

        func reply(to commandId: UUID) throws -> [UInt8] {
            switch self {
            case .message(let json, let created): CommandReply.encodedMessageReply(commandId: commandId, messageJSON: json, created: created)
            case .other(let outcome): [UInt8](try JSON.encode(CommandReply(commandId: commandId, outcome: outcome)))
            }
        }
    }

    /// Stores new messages with one statement.
    /// - Returns: each command's outcome, and the `message_received` events for the members of
    ///   the chats that got a message.
    func store(_ creates: [MessageCreate]) async throws -> (outcomes: [CreateOutcome], events: PublishBatch) {
        // A sender who sent over a live socket is online. The others' presence is read while
        // the insert runs (both are on the batch's path); a sender Redis cannot tell of stays
        // as stored, offline.
        var online = Set(creates.lazy.filter { $0.senderOnline == true }.map(\.senderId))
        let unknown = Set(creates.lazy.filter { $0.senderOnline != true }.map(\.senderId)).subtracting(online)
        let batch: MessageRepository.StoredBatch
        if unknown.isEmpty {
            batch = try await database.messages.create(creates)
        } else {
            async let senderPresence = try? presence.online(unknown)
            batch = try await database.messages.create(creates)
            online.formUnion(await senderPresence ?? [])
        }
        var messages = batch.outcomes.compactMap { outcome -> Message? in
            switch outcome {
            case .created(let message), .existing(let message): message
            case .notMember: nil
            }
        }
        messages.setOnline(online)
        let byId = Dictionary(messages.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        // The gateway leaves membership to this insert; a refused one says why (rare).
        var refusals: [Int: ParleyError] = [:]
        for (index, outcome) in batch.outcomes.enumerated() where outcome == .notMember {
            let create = creates[index]
            refusals[index] = switch try await database.chats.membership(chatId: create.chatId, userId: create.senderId) {
            case .noSuchChat: .notFound("Chat not found")
            default: .forbidden("You are not a member of this chat")
            }
        }
        var events = PublishBatch()
        let outcomes = try batch.outcomes.enumerated().map { index, outcome -> CreateOutcome in
            switch outcome {
            case .created(let message):
                let message = byId[message.id] ?? message
                persisted.increment()
                let json = try message.encoded()
                let event = UserEvent.encodedMessageReceived(messageJSON: json)
                events.add(event, toUsers: batch.members[message.chatId] ?? [])
                return .message(json: json, created: true)
            case .existing(let message):
                return .message(json: try (byId[message.id] ?? message).encoded(), created: false)
            case .notMember:
                return .other(.failed(refusals[index] ?? .forbidden("You are not a member of this chat")))
            }
        }
        return (outcomes, events)
    }

    /// Commits the new messages of a batch, then publishes every event and reply at once. If
    /// the store fails, each command is retried on its own; if it refused a value, each is
    /// applied on its own, so that only the message that holds it is refused.
    /// - Returns: what each command asks of its delivery.
    private func applyCreates(_ items: [NewMessage], from batch: [Delivery]) async -> [(delivery: Int, Disposition)] {
        let outcomes: [CreateOutcome]
        var outgoing: PublishBatch
        do {
            (outcomes, outgoing) = try await store(items.map(\.create))
        } catch {
            let refused = (error as? ParleyError)?.blamesTheRequest ?? false
            var dispositions: [(delivery: Int, Disposition)] = []
            for item in items {
                let delivery = batch[item.delivery]
                let disposition = refused
                    ? await handle(item.command, from: delivery)
                    : await failed.retry(item.command, from: delivery, error: error)
                dispositions.append((item.delivery, disposition))
            }
            return dispositions
        }
        for (item, outcome) in zip(items, outcomes) {
            applied.increment()
            if let node = item.command.replyTo, let body = try? outcome.reply(to: item.command.id) {
                outgoing.add(body, to: Channels.node(node))
            }
        }
        await publish(outgoing)
        return items.map { ($0.delivery, .ack) }
    }
}
