import Foundation
import Logging
import NIOCore
import NIOPosix
import ParleyCore
import ParleyIOThread
import ParleyQueue
import Synchronization

/// Sends commands to the workers and waits for their replies.
///
/// A command is published with publisher confirms and `replyTo` set to this node; the worker's
/// reply arrives on the node's Redis channel and is handed in through ``deliver(_:)``. A reply
/// may beat the confirm, so the wait is registered before publishing; its timeout runs from
/// the confirm.
public final class CommandBus: Sendable {
    /// A caller waiting for a reply. Replies are kept as they came and decoded by the caller:
    /// the node channel's one reader also carries every event this node delivers.
    private struct Waiting {
        let answer: @Sendable (Result<[UInt8], any Error>) -> Void
        /// None until the broker confirms the command: till then it is the broker's, and a
        /// broker that stops answering fails it as unavailable, not as a timeout.
        var deadline: NIODeadline?
    }

    private let publisher: QueuePublisher
    /// The gateway node this bus answers for (`NODE_ID`).
    public let nodeId: String
    private let timeout: Duration
    private let logger: Logger
    private let slots = Mutex<[UUID: Waiting]>([:])
    /// Ends the waits that passed their deadline, a few times per timeout. One sweep for every
    /// wait: a timer per command was set and cancelled from other threads, each time waking
    /// the loop that runs it.
    private let sweeper = Mutex<RepeatedTask?>(nil)

    public init(publisher: QueuePublisher, nodeId: String, timeout: Duration, logger: Logger) {
        self.publisher = publisher
        self.nodeId = nodeId
        replyChannel = Channels.node(nodeId)
        self.timeout = timeout
        self.logger = logger
        // A wait ends at most an eighth of the timeout (and never more than 250 ms) late.
        let interval = TimeAmount(min(max(timeout / 8, .milliseconds(5)), .milliseconds(250)))
        let task = MultiThreadedEventLoopGroup.singleton.any().scheduleRepeatedTask(initialDelay: interval, delay: interval) {
            [weak self] task in
            guard let self else { return task.cancel() }
            self.endOverdueWaits()
        }
        sweeper.withLock { $0 = task }
    }

    deinit {
        sweeper.withLock { $0?.cancel() }
    }

    /// The channel replies for this node arrive on; named once, as every Redis message the
    /// node receives is compared with it.
    public let replyChannel: String

    /// Publishes a command and waits for the worker's outcome.
    /// - Throws: ``QueueError`` when the broker is unreachable or refuses it (503 for the
    ///   client), ``ParleyError`` `timeout` when no reply comes in time (the command is durable
    ///   and will still be applied; a retry with the same key finds it).
    public func send(_ payload: Command.Payload) async throws -> CommandReply.Outcome {
        try Self.decode(try await sendRaw(payload))
    }

    /// ``send(_:)``, answered with the reply's JSON as the worker wrote it, for callers that
    /// forward part of it.
    public func sendRaw(_ payload: Command.Payload) async throws -> [UInt8] {
        let id = Mutex<UUID?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let commandId = sendRaw(payload) { continuation.resume(with: $0) }
                id.withLock { $0 = commandId }
                // Cancelled before the handler below knew the id: it found nothing to end.
                if Task.isCancelled, let commandId { settle(commandId, .failure(CancellationError())) }
            }
        } onCancel: {
            if let commandId = id.withLock({ $0 }) { settle(commandId, .failure(CancellationError())) }
        }
    }

    /// ``sendRaw(_:)`` for a caller that goes on without waiting: `answer` is called once, with
    /// the reply (on the thread that reads the node channel), or the ``QueueError`` of the
    /// publish, or the timeout.
    /// - Returns: the command's id.
    @discardableResult
    public func sendRaw(_ payload: Command.Payload, answer: @escaping @Sendable (Result<[UInt8], any Error>) -> Void) -> UUID? {
        let command = Command(replyTo: nodeId, payload: payload)
        let body: [UInt8]
        do { body = try command.encoded() } catch {
            answer(.failure(error))
            return nil
        }
        let id = command.id
        // Waiting before the publish: the reply may come before the confirm.
        slots.withLock { $0[id] = Waiting(answer: answer, deadline: nil) }
        publisher.publish(
            body, routingKey: command.type.rawValue, messageId: id.uppercased, batchable: CommandBatch.carries(command.type),
            wakeUp: Self.wakeUp
        ) { [self] result in
            switch result {
            case .success:
                let deadline = NIODeadline.now() + TimeAmount(timeout)
                slots.withLock { $0[id]?.deadline = deadline }
            case .failure(let error):
                settle(id, .failure(error))
            }
        }
        return id
    }

    /// Sends from a socket run on its event loop, several in one turn of the loop under load:
    /// they wake the publisher's thread once, after the turn's other jobs.
    private static var wakeUp: WakeUp {
        guard let loop = MultiThreadedEventLoopGroup.currentEventLoop else { return .now }
        return .deferred { wake in loop.execute(wake) }
    }

    /// Hands a reply from the node channel to the caller waiting for it.
    public func deliver(_ payload: [UInt8]) {
        guard let commandId = RawJSON.member("commandId", in: payload[...]).flatMap(UUID.init(quotedUTF8:)) else {
            logger.warning("reply without a command id on node channel")
            return
        }
        settle(commandId, .success(payload))
    }

    /// Ends the wait for `id` with `result`, if it is still waiting: whichever of the reply, the
    /// broker's refusal and the cancellation comes first is its answer (the sweep ends overdue
    /// waits the same way, many under one lock). A late reply to a caller that gave up, or a
    /// duplicate, finds nobody waiting.
    private func settle(_ id: UUID, _ result: Result<[UInt8], any Error>) {
        slots.withLock { $0.removeValue(forKey: id) }?.answer(result)
    }

    /// The outcome of a reply ``sendRaw(_:)`` gave.
    public static func decode(_ payload: [UInt8]) throws -> CommandReply.Outcome {
        do {
            return try JSON.decode(CommandReply.self, from: Data(payload)).outcome
        } catch {
            throw ParleyError(.internal, "Undecodable reply from a worker")
        }
    }

    private static let timedOut = ParleyError(.timeout, "The request was accepted but is taking too long; retry it")

    private func endOverdueWaits() {
        let now = NIODeadline.now()
        let overdue: [@Sendable (Result<[UInt8], any Error>) -> Void] = slots.withLock { slots in
            var overdue: [@Sendable (Result<[UInt8], any Error>) -> Void] = []
            for (id, waiting) in slots where waiting.deadline.map({ $0 <= now }) ?? false {
                overdue.append(waiting.answer)
                slots.removeValue(forKey: id)
            }
            return overdue
        }
        for waiter in overdue { waiter(.failure(Self.timedOut)) }
    }
}
