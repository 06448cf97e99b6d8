import Foundation
import Logging
import Metrics
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ServiceLifecycle

/// Applies chat and message commands from `parley.messages` to PostgreSQL, then fans the events
/// out to the members' Redis channels and replies to the gateway node that asked.
///
/// A delivery is acknowledged only after its effect is committed. Effects are idempotent (the
/// message id and `clientMessageId` are unique keys), so a redelivery changes nothing and still
/// replies.
public final class MessageWorker: Service, Sendable {
    let consumer: QueueConsumer
    let database: Database
    private let redis: RedisClient
    let presence: PresenceStore
    private let logger: Logger
    private let concurrency: Int
    private let batchSize: Int
    /// Batches applied at once unless told otherwise; each holds one database connection.
    public static let defaultConcurrency = 4
    let persisted = Counter(label: "parley_messages_persisted_total")
    let applied = Counter(label: "parley_commands_applied_total", dimensions: [("queue", Queues.messages)])
    let failed: FailedCommands

    /// - Parameters:
    ///   - consumer: a consumer of ``Queues/messages``; the worker starts and stops it.
    ///   - publisher: for retries and parked commands; run by the caller.
    ///   - database: where commands are applied.
    ///   - redis: where events and replies are published.
    ///   - concurrency: most batches applied at once; more than one only while a whole batch
    ///     is waiting (see ``QueueConsumer/runBatches(maxBatch:concurrency:_:)``).
    ///   - batchSize: most commands in one batch (bounded by the consumer's prefetch too); new
    ///     messages of a batch are stored with one statement.
    ///   - logger: for failures and parked commands.
    public init(
        consumer: QueueConsumer, publisher: QueuePublisher, database: Database, redis: RedisClient, concurrency: Int = MessageWorker.defaultConcurrency, batchSize: Int = 64, logger: Logger
    ) {
        self.consumer = consumer
        self.failed = FailedCommands(consumer: consumer, publisher: publisher, logger: logger)
        self.database = database
        self.redis = redis
        self.presence = PresenceStore(redis: redis)
        self.concurrency = max(1, concurrency)
        self.batchSize = max(1, batchSize)
        self.logger = logger
    }

    public func run() async throws {
        // Batches run where their store calls' answers arrive, if the database has a loop of its own.
        await withTaskExecutorPreference(database.executor) {
            await consumer.runBatches(maxBatch: batchSize, concurrency: concurrency) { batch in await self.handle(batch) }
        }
    }

    /// Applies one command of a delivery, then replies to the node that asked.
    /// - Returns: what the command asks of its delivery.
    func handle(_ command: Command, from delivery: Delivery) async -> Disposition {
        let (disposition, reply) = await failed.attempt(command, from: delivery) { command in
            do {
                return try await apply(command)
            } catch let refusal as ParleyError where refusal.blamesTheRequest {
                // The request's own fault (a value the database cannot store): the asker is
                // told, nothing is retried.
                return CommandReply(commandId: command.id, outcome: .failed(refusal))
            }
        }
        guard let reply else { return disposition }
        applied.increment()
        if let node = command.replyTo, let body = try? [UInt8](JSON.encode(reply)) {
            await publish(PublishBatch(body, to: Channels.node(node)))
        }
        return disposition
    }

    /// Commits the command's effect and publishes its events; returns the reply for the asker.
    func apply(_ command: Command) async throws -> CommandReply {
        switch command.payload {
        case .messageCreate(let create):
            let (outcomes, events) = try await store([create])
            await publish(events)
            // New messages arrive through `handle(_:)`'s batches; one applied on its own here
            // (no caller does so now) has its reply read back from its bytes.
            return try JSON.decode(CommandReply.self, from: Data(outcomes[0].reply(to: command.id)))

        case .messageEdit(let edit):
            return try await change(command, outcome: database.messages.edit(edit, commandId: command.id)) { .messageUpdated($0) }

        case .messageDelete(let delete):
            return try await change(command, outcome: database.messages.delete(delete)) { message in
                .messageDeleted(MessageDeletion(id: message.id, chatId: message.chatId, deletedAt: message.deletedAt ?? message.updatedAt))
            }

        case .chatRead(let read):
            guard let mark = try await database.chats.markRead(chatId: read.chatId, userId: read.userId, messageId: read.messageId) else {
                return CommandReply(commandId: command.id, outcome: .failed(.notFound("Message not found in this chat")))
            }
            let readMark = ReadMark(chatId: read.chatId, userId: read.userId, messageId: mark)
            if mark == read.messageId {
                let payload = [UInt8](try JSON.encode(UserEvent.messagesRead(readMark)))
                await publish(PublishBatch(payload, toUsers: try await database.chats.memberIds(chatId: read.chatId)))
            }
            return CommandReply(commandId: command.id, outcome: .read(readMark))

        case .chatCreateDirect(let create):
            let (chatId, created) = try await database.chats.createDirect(chatId: create.chatId, between: create.userId, and: create.otherUserId)
            return try await chatChanged(command, chatId: chatId, actor: create.userId, outcome: created ? .changed(leaving: []) : .unchanged)
        case .chatCreateGroup(let create):
            return try await chatChanged(command, chatId: create.chatId, actor: create.adminId, outcome: database.chats.createGroup(create))
        case .chatRename(let rename):
            return try await chatChanged(command, chatId: rename.chatId, actor: rename.actorId, outcome: database.chats.rename(rename))
        case .chatAddMember(let change):
            return try await chatChanged(command, chatId: change.chatId, actor: change.actorId, outcome: database.chats.addMember(change))
        case .chatRemoveMember(let change):
            return try await chatChanged(command, chatId: change.chatId, actor: change.actorId, outcome: database.chats.removeMember(change))
        case .chatClear(let clear):
            return try await cleared(command, clear)
        case .mediaProcess, .presenceConnect, .presenceDisconnect, .presenceHeartbeat:
            throw MisroutedCommand(type: command.type, worker: "message")
        }
    }

    /// The reply to an edit or delete, announcing a real change to every member.
    private func change(
        _ command: Command, outcome: MessageRepository.ChangeOutcome, event: (Message) -> UserEvent
    ) async throws -> CommandReply {
        switch outcome {
        case .changed(let stored):
            let message = await live(stored)
            let payload = [UInt8](try JSON.encode(event(message)))
            await publish(PublishBatch(payload, toUsers: try await database.chats.memberIds(chatId: message.chatId)))
            return CommandReply(commandId: command.id, outcome: .message(message, created: true))
        case .unchanged(let message):
            return CommandReply(commandId: command.id, outcome: .message(message, created: false))
        case .notFound:
            return CommandReply(commandId: command.id, outcome: .failed(.notFound("Message not found")))
        case .forbidden:
            return CommandReply(commandId: command.id, outcome: .failed(.forbidden("You may not change this message")))
        case .deleted:
            return CommandReply(commandId: command.id, outcome: .failed(ParleyError(.conflict, "The message was deleted")))
        }
    }

    /// `value` with its users' live `isOnline`; as stored (offline) if Redis does not answer,
    /// which the publish right after would hit too.
    func live<T: UserShaped>(_ value: T) async -> T {
        (try? await presence.withLiveStatus(value)) ?? value
    }

    /// Real-time delivery is best effort: a Redis failure is logged, clients resync on reconnect.
    func publish(_ batch: PublishBatch) async {
        guard !batch.isEmpty else { return }
        do {
            try await redis.publish(batch)
        } catch {
            logger.warning("cannot publish events", metadata: ["count": "\(batch.count)", "error": "\(error)"])
        }
    }
}
