import Foundation
import Logging
import Metrics
import ParleyCore

/// What a worker does with a command it could not apply.
///
/// A passing failure (a backing service down) sends the command through the delay queue of its
/// next attempt (1 s, 2 s, 4 s, ... by default) and acknowledges the delivery; after the last
/// attempt, or for a command that can never succeed (undecodable, misrouted), it goes to the
/// parked queue wrapped in a ``ParkedCommand`` that says why. Either way the new copy is
/// confirmed by the broker before the delivery is acknowledged, so nothing is lost in between.
/// A command of a ``CommandBatch`` is retried or parked alone; its delivery is settled once
/// every command in it has its ``Disposition``.
public struct FailedCommands: Sendable {
    let consumer: QueueConsumer
    let publisher: QueuePublisher
    let topology: Topology
    let queue: String
    let logger: Logger
    private let parked: Counter
    private let retried: Counter

    /// - Parameters:
    ///   - consumer: the consumer the deliveries came from; its queue's dead-letter queue is where
    ///     commands are parked.
    ///   - publisher: publishes retries and parked commands (with confirms), on the same topology.
    public init(consumer: QueueConsumer, publisher: QueuePublisher, logger: Logger) {
        self.consumer = consumer
        self.publisher = publisher
        self.topology = consumer.topology
        self.queue = consumer.queue
        self.logger = logger
        parked = Counter(label: "parley_commands_parked_total", dimensions: [("queue", consumer.queue)])
        retried = Counter(label: "parley_commands_retried_total", dimensions: [("queue", consumer.queue)])
    }

    private var parkedQueue: String {
        topology.queues.first { $0.name == queue }?.deadLetterQueue ?? Queues.parked
    }

    /// Decodes a delivery of one command and applies it: acknowledged once `apply` returns,
    /// parked when it can never apply (undecodable, ``MisroutedCommand``), retried after a delay
    /// when `apply` throws anything else (a backing service failing).
    /// - Parameter decoded: the delivery's command, when the caller has decoded it already.
    /// - Returns: the command and what `apply` returned, once acknowledged; `nil` otherwise.
    public func settle<T: Sendable>(
        _ delivery: Delivery, decoded: Command? = nil, _ apply: (Command) async throws -> T
    ) async -> (command: Command, result: T)? {
        let command: Command
        do {
            command = try decoded ?? JSON.decode(Command.self, from: Data(delivery.body))
        } catch {
            await park(delivery, reason: "undecodable command: \(error)")
            return nil
        }
        let (disposition, result) = await attempt(command, from: delivery, apply)
        consumer.settle(delivery, disposition)
        return result.map { (command, $0) }
    }

    /// Applies one command of `delivery` (its only one, or one of a ``CommandBatch``), retrying
    /// or parking it on its own if that fails; the caller settles the delivery once every
    /// command in it has its disposition.
    /// - Returns: what the command asks of its delivery, and what `apply` returned if it did.
    public func attempt<T: Sendable>(
        _ command: Command, from delivery: Delivery, _ apply: (Command) async throws -> T
    ) async -> (Disposition, T?) {
        do {
            return (.ack, try await apply(command))
        } catch let error as MisroutedCommand {
            return (await park(command, from: delivery, reason: "\(error)"), nil)
        } catch {
            return (await retry(command, from: delivery, error: error), nil)
        }
    }

    /// Applying `command` failed for a passing reason: send it through the next delay, or park
    /// it once the delays are used up.
    public func retry(_ command: Command, from delivery: Delivery, error: any Error) async -> Disposition {
        let attempt = command.attempt + 1
        guard attempt <= topology.retryDelays.count else {
            return await park(command, from: delivery, reason: "gave up after \(command.attempt) retries: \(error)")
        }
        var next = command
        next.attempt = attempt
        let delay = topology.retryDelays[attempt - 1]
        logger.warning("command failed, will retry", metadata: [
            "commandId": "\(command.id)", "type": "\(command.type.rawValue)", "attempt": "\(attempt)", "delay": "\(delay)s", "error": "\(error)",
        ])
        do {
            try await publisher.publish(
                [UInt8](JSON.encode(next)), routingKey: delivery.routingKey, messageId: command.id.uppercased,
                exchange: topology.retryExchange(seconds: delay))
            retried.increment()
            return .ack
        } catch {
            // The broker is unreachable too: hand the delivery back after a pause instead.
            try? await Task.sleep(for: .seconds(1))
            return .requeue
        }
    }

    /// A whole delivery can never be applied (it is not even a command): park it with `reason`.
    public func park(_ delivery: Delivery, reason: String) async {
        consumer.settle(delivery, await park(delivery.body, from: delivery, reason: reason))
    }

    /// One command of `delivery` can never be applied: park it alone with `reason`.
    func park(_ command: Command, from delivery: Delivery, reason: String) async -> Disposition {
        let body = (try? [UInt8](JSON.encode(command))) ?? delivery.body
        return await park(body, from: delivery, reason: reason)
    }

    private func park(_ body: [UInt8], from delivery: Delivery, reason: String) async -> Disposition {
        logger.error("parking command", metadata: ["queue": "\(queue)", "routingKey": "\(delivery.routingKey)", "reason": "\(reason)"])
        parked.increment()
        let record = ParkedCommand(reason: reason, queue: queue, routingKey: delivery.routingKey, body: String(decoding: body, as: UTF8.self))
        do {
            try await publisher.publish([UInt8](JSON.encode(record)), routingKey: parkedQueue, exchange: "")
            return .ack
        } catch {
            // Without a publisher the broker dead-letters the delivery to the same queue, without the reason.
            return .deadLetter
        }
    }
}

/// What a delivery needs once its commands are applied, retried or parked: the most cautious
/// need of any of them.
public enum Disposition: Int, Sendable, Comparable {
    /// Every command is applied, or handed to a delay queue or the parked queue.
    case ack
    /// A command could not be parked: the broker dead-letters the whole message to the parked
    /// queue (its applied commands are idempotent, so applying them again changes nothing).
    case deadLetter
    /// A command could not be handed on: the broker delivers the whole message again.
    case requeue

    public static func < (a: Disposition, b: Disposition) -> Bool { a.rawValue < b.rawValue }
}
