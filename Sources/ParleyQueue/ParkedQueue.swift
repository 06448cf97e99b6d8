import Foundation
import Logging
import Synchronization
import ParleyCore

/// The parked queue as an operator sees it: what is there and why, and a way to send it back.
public struct ParkedQueue: Sendable {
    let endpoint: AMQPEndpoint
    let topology: Topology
    let queue: String
    let logger: Logger

    public init(endpoint: AMQPEndpoint, topology: Topology = .parley, queue: String = Queues.parked, logger: Logger) {
        self.endpoint = endpoint
        self.topology = topology
        self.queue = queue
        self.logger = logger
    }

    /// One parked message.
    public struct Entry: Sendable {
        public var record: ParkedCommand
        /// The command's id and type, when the body is a command.
        public var commandId: UUID?
        public var type: String?
    }

    /// Every parked message, left in the queue.
    public func list() async -> [Entry] {
        await drain { _ in false }.map(\.entry)
    }

    /// Publishes the parked commands (all, or the one with `commandId`) again under their
    /// routing keys and removes them from the parked queue.
    /// - Returns: how many were sent back.
    public func replay(_ commandId: UUID? = nil, through publisher: QueuePublisher) async throws -> Int {
        var replayed = 0
        _ = await drain { entry in commandId == nil || entry.commandId == commandId } replay: { entry in
            try await publisher.publish(Array(entry.record.body.utf8), routingKey: entry.record.routingKey, messageId: entry.commandId?.uppercased)
            replayed += 1
        }
        return replayed
    }

    /// What a message in the parked queue says: a ``ParkedCommand`` written by a worker, or a
    /// bare command the broker dead-lettered after too many deliveries.
    static func entry(of delivery: Delivery) -> Entry {
        let record = (try? JSON.decode(ParkedCommand.self, from: Data(delivery.body))) ?? {
            let command = try? JSON.decode(Command.self, from: Data(delivery.body))
            return ParkedCommand(
                reason: "dead-lettered by the broker (delivery limit reached)", queue: "?",
                routingKey: command?.type.rawValue ?? delivery.routingKey, parkedAt: Date(timeIntervalSince1970: 0),
                body: String(decoding: delivery.body, as: UTF8.self))
        }()
        let command = try? JSON.decode(Command.self, from: Data(record.body.utf8))
        return Entry(record: record, commandId: command?.id, type: command?.type.rawValue)
    }

    /// Takes every message of the queue (until none has come for a second); those `select`ed are
    /// handed to `replay` and acknowledged, the others go back when the consumer stops.
    private func drain(
        select: (Entry) -> Bool, replay: ((Entry) async throws -> Void)? = nil
    ) async -> [(entry: Entry, delivery: Delivery)] {
        let consumer = QueueConsumer(endpoint: endpoint, topology: topology, queue: queue, prefetch: 1000, logger: logger)
        consumer.start()
        defer { consumer.stop() }
        let collected = Collected()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await delivery in consumer.deliveries { collected.append(delivery) }
            }
            var seen = 0
            var quietSince = ContinuousClock.now
            while true {
                try? await Task.sleep(for: .milliseconds(100))
                let count = collected.all.count
                if count != seen {
                    seen = count
                    quietSince = ContinuousClock.now
                } else if ContinuousClock.now - quietSince > (count == 0 ? .seconds(3) : .seconds(1)) {
                    break
                }
            }
            group.cancelAll()
        }
        var taken: [(entry: Entry, delivery: Delivery)] = []
        for delivery in collected.all {
            let entry = Self.entry(of: delivery)
            taken.append((entry, delivery))
            guard let replay, select(entry) else { continue }
            do {
                try await replay(entry)
                consumer.ack(delivery)
            } catch {
                logger.error("cannot replay a parked command", metadata: ["commandId": "\(entry.commandId?.uuidString ?? "?")", "error": "\(error)"])
            }
        }
        return taken
    }
}

/// Deliveries gathered by one task while another watches their number.
private final class Collected: Sendable {
    private let deliveries = Mutex<[Delivery]>([])
    func append(_ delivery: Delivery) { deliveries.withLock { $0.append(delivery) } }
    var all: [Delivery] { deliveries.withLock { $0 } }
}
