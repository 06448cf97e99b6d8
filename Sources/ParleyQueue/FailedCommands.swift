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

    /// Decodes a delivery and applies it: acknowledged once `apply` returns, parked when it can
    /// never apply (undecodable, ``MisroutedCommand``), retried after a delay when `apply` throws
    /// anything else (a backing service failing).
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
        do {
            let result = try await apply(command)
            consumer.ack(delivery)
            return (command, result)
        } catch let error as MisroutedCommand {
            await park(delivery, reason: "\(error)")
        } catch {
            await retry(delivery, command: command, error: error)
        }
        return nil
    }

    /// Applying `command` failed for a passing reason: try again after the next delay, or park
    /// it once the delays are used up.
    public func retry(_ delivery: Delivery, command: Command, error: any Error) async {
        let attempt = command.attempt + 1
        guard attempt <= topology.retryDelays.count else {
            await park(delivery, reason: "gave up after \(command.attempt) retries: \(error)")
            return
        }
        var next = command
        next.attempt = attempt
        let delay = topology.retryDelays[attempt - 1]
        logger.warning("command failed, will retry", metadata: [
            "commandId": "\(command.id)", "type": "\(command.type.rawValue)", "attempt": "\(attempt)", "delay": "\(delay)s", "error": "\(error)",
        ])
        do {
            try await publisher.publish(
                [UInt8](JSON.encode(next)), routingKey: delivery.routingKey, messageId: command.id.uuidString,
                exchange: topology.retryExchange(seconds: delay))
            retried.increment()
            consumer.ack(delivery)
        } catch {
            // The broker is unreachable too: hand the delivery back after a pause instead.
            try? await Task.sleep(for: .seconds(1))
            consumer.reject(delivery, requeue: true)
        }
    }

    /// The delivery can never be applied: park it with `reason`.
    public func park(_ delivery: Delivery, reason: String) async {
        logger.error("parking command", metadata: ["queue": "\(queue)", "routingKey": "\(delivery.routingKey)", "reason": "\(reason)"])
        parked.increment()
        let record = ParkedCommand(reason: reason, queue: queue, routingKey: delivery.routingKey, body: String(decoding: delivery.body, as: UTF8.self))
        do {
            try await publisher.publish([UInt8](JSON.encode(record)), routingKey: parkedQueue, exchange: "")
            consumer.ack(delivery)
        } catch {
            // Without a publisher the broker dead-letters it to the same queue, without the reason.
            consumer.reject(delivery, requeue: false)
        }
    }
}
