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
/// may beat the caller to the wait, so a slot is opened before publishing.
public final class CommandBus: Sendable {
    /// Replies are kept as they came and decoded by the caller that waits for them: the node
    /// channel's one reader also carries every event this node delivers.
    private enum Slot {
        case expected
        case arrived([UInt8])
        case waiting(CheckedContinuation<[UInt8], any Error>, deadline: NIODeadline)
    }

    private let publisher: QueuePublisher
    /// The gateway node this bus answers for (`NODE_ID`).
    public let nodeId: String
    private let timeout: Duration
    private let logger: Logger
    private let slots = Mutex<[UUID: Slot]>([:])
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
        let command = Command(replyTo: nodeId, payload: payload)
        let body = try command.encoded()
        slots.withLock { $0[command.id] = .expected }
        do {
            try await publisher.publish(
                body, routingKey: command.type.rawValue, messageId: command.id.uppercased, batchable: CommandBatch.carries(command.type),
                wakeUp: Self.wakeUp)
        } catch {
            slots.withLock { _ = $0.removeValue(forKey: command.id) }
            throw error
        }
        return try await waitForReply(command.id)
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
        let waiter: CheckedContinuation<[UInt8], any Error>? = slots.withLock { slots in
            switch slots[commandId] {
            case .expected:
                slots[commandId] = .arrived(payload)
                return nil
            case .waiting(let continuation, _):
                slots.removeValue(forKey: commandId)
                return continuation
            case .arrived, nil:
                // A late reply to a caller that gave up, or a duplicate: nobody is waiting.
                return nil
            }
        }
        waiter?.resume(returning: payload)
    }

    /// The outcome of a reply ``sendRaw(_:)`` gave.
    public static func decode(_ payload: [UInt8]) throws -> CommandReply.Outcome {
        do {
            return try JSON.decode(CommandReply.self, from: Data(payload)).outcome
        } catch {
            throw ParleyError(.internal, "Undecodable reply from a worker")
        }
    }

    /// Waits for the reply to `id` until the timeout.
    private func waitForReply(_ id: UUID) async throws -> [UInt8] {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let deadline = NIODeadline.now() + TimeAmount(timeout)
                let early: [UInt8]? = slots.withLock { slots in
                    switch slots[id] {
                    case .arrived(let outcome):
                        slots.removeValue(forKey: id)
                        return outcome
                    case .expected:
                        slots[id] = .waiting(continuation, deadline: deadline)
                        return nil
                    default:
                        continuation.resume(throwing: CancellationError())
                        return nil
                    }
                }
                if let early { continuation.resume(returning: early) }
            }
        } onCancel: {
            let slot = slots.withLock { $0.removeValue(forKey: id) }
            if case .waiting(let continuation, _) = slot { continuation.resume(throwing: CancellationError()) }
        }
    }

    private static let timedOut = ParleyError(.timeout, "The request was accepted but is taking too long; retry it")

    private func endOverdueWaits() {
        let now = NIODeadline.now()
        let overdue: [CheckedContinuation<[UInt8], any Error>] = slots.withLock { slots in
            var overdue: [CheckedContinuation<[UInt8], any Error>] = []
            for (id, slot) in slots {
                if case .waiting(let continuation, let deadline) = slot, deadline <= now {
                    overdue.append(continuation)
                    slots.removeValue(forKey: id)
                }
            }
            return overdue
        }
        for waiter in overdue { waiter.resume(throwing: Self.timedOut) }
    }
}
