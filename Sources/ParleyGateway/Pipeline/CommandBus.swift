import Foundation
import Logging
import NIOCore
import NIOPosix
import ParleyCore
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
        case waiting(CheckedContinuation<[UInt8], any Error>, Scheduled<Void>)
    }

    private let publisher: QueuePublisher
    /// The gateway node this bus answers for (`NODE_ID`).
    public let nodeId: String
    private let timeout: Duration
    private let logger: Logger
    private let slots = Mutex<[UUID: Slot]>([:])
    /// Runs the reply timeouts: a timer on a loop costs less than a sleeping task per command.
    private let timers: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()

    public init(publisher: QueuePublisher, nodeId: String, timeout: Duration, logger: Logger) {
        self.publisher = publisher
        self.nodeId = nodeId
        self.timeout = timeout
        self.logger = logger
    }

    /// The channel replies for this node arrive on.
    public var replyChannel: String { Channels.node(nodeId) }

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
        let body = try JSON.encode(command)
        slots.withLock { $0[command.id] = .expected }
        do {
            try await publisher.publish([UInt8](body), routingKey: command.type.rawValue, messageId: command.id.uuidString)
        } catch {
            slots.withLock { _ = $0.removeValue(forKey: command.id) }
            throw error
        }
        return try await waitForReply(command.id)
    }

    /// Hands a reply from the node channel to the caller waiting for it.
    public func deliver(_ payload: [UInt8]) {
        guard let commandId = RawJSON.string("commandId", in: payload[...]).flatMap(UUID.init(text:)) else {
            logger.warning("reply without a command id on node channel")
            return
        }
        let waiter: CheckedContinuation<[UInt8], any Error>? = slots.withLock { slots in
            switch slots[commandId] {
            case .expected:
                slots[commandId] = .arrived(payload)
                return nil
            case .waiting(let continuation, let timer):
                slots.removeValue(forKey: commandId)
                timer.cancel()
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
                let timer = timers.scheduleTask(in: TimeAmount(timeout)) { self.give(up: id, with: Self.timedOut) }
                let early: [UInt8]? = slots.withLock { slots in
                    switch slots[id] {
                    case .arrived(let outcome):
                        slots.removeValue(forKey: id)
                        return outcome
                    case .expected:
                        slots[id] = .waiting(continuation, timer)
                        return nil
                    default:
                        continuation.resume(throwing: CancellationError())
                        return nil
                    }
                }
                if let early {
                    timer.cancel()
                    continuation.resume(returning: early)
                }
            }
        } onCancel: {
            give(up: id, with: CancellationError())
        }
    }

    private static let timedOut = ParleyError(.timeout, "The request was accepted but is taking too long; retry it")

    /// Ends the wait for `id`, if it is still on, with `error`.
    private func give(up id: UUID, with error: any Error) {
        let waiter: CheckedContinuation<[UInt8], any Error>? = slots.withLock { slots in
            guard case .waiting(let continuation, let timer) = slots[id] else {
                slots.removeValue(forKey: id)
                return nil
            }
            slots.removeValue(forKey: id)
            timer.cancel()
            return continuation
        }
        waiter?.resume(throwing: error)
    }
}
