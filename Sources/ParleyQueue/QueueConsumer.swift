import CRabbitMQ
import Foundation
import Logging
import Metrics
import ParleyIOThread
import Synchronization

/// One message taken from a queue; settle it with ``QueueConsumer/ack(_:)`` or
/// ``QueueConsumer/reject(_:requeue:)`` once its effect is committed (or known to be impossible).
public struct Delivery: Sendable {
    public let body: [UInt8]
    public let routingKey: String
    public let redelivered: Bool
    /// How often the broker delivered this message before (quorum queues' `x-delivery-count`).
    public let deliveryCount: Int
    let tag: UInt64
    /// Tags are per connection: a settlement for an older connection is dropped, the broker has
    /// already put the message back.
    let generation: UInt64
}

/// Consumes one queue with manual acknowledgements and a prefetch window, on a dedicated thread.
///
/// Deliveries arrive through ``deliveries``. The thread reconnects by itself with backoff,
/// declares the topology again and resumes; unsettled deliveries of a lost connection come back
/// from the broker as redeliveries.
public final class QueueConsumer: IOThreadService, Sendable {
    private enum Settlement: Sendable {
        case ack(UInt64, generation: UInt64)
        case reject(UInt64, generation: UInt64, requeue: Bool)
    }

    /// Every delivery, in the order the broker sent them.
    public let deliveries: AsyncStream<Delivery>
    private let continuation: AsyncStream<Delivery>.Continuation
    private let endpoint: AMQPEndpoint
    /// Declared on every (re)connect.
    public let topology: Topology
    /// The queue consumed.
    public let queue: String
    let prefetch: UInt16
    let settleDelay: Duration
    private let delivered: Counter
    private let redelivered: Counter
    private let logger: Logger
    private let thread: IOThread
    private let settlements = Inbox<Settlement>()
    private let connected = Atomic<Bool>(false)

    /// - Parameters:
    ///   - endpoint: the broker.
    ///   - topology: declared on every (re)connect.
    ///   - queue: the queue to consume.
    ///   - prefetch: most unsettled deliveries held at once.
    ///   - settleDelay: how long an ack may wait for others to go with it (see
    ///     ``SettlementHold``); rejects go at once.
    ///   - logger: where connection changes are logged.
    public init(
        endpoint: AMQPEndpoint, topology: Topology = .parley, queue: String, prefetch: Int,
        settleDelay: Duration = .milliseconds(10), logger: Logger
    ) {
        (deliveries, continuation) = AsyncStream.makeStream(of: Delivery.self)
        self.endpoint = endpoint
        self.topology = topology
        self.queue = queue
        self.prefetch = UInt16(clamping: prefetch)
        self.settleDelay = settleDelay
        self.delivered = Counter(label: "parley_queue_delivered_total", dimensions: [("queue", queue)])
        self.redelivered = Counter(label: "parley_queue_redelivered_total", dimensions: [("queue", queue)])
        self.logger = logger
        // The queue's own part first: the system keeps 15 bytes of a thread's name.
        self.thread = IOThread(name: "amqp-\(queue.replacingOccurrences(of: "parley.", with: ""))-consumer")
    }

    public var isConnected: Bool { connected.load(ordering: .acquiring) }

    public func start() {
        thread.start { [self] in loop() }
    }

    /// Stops consuming; unsettled deliveries go back to the queue when the connection closes.
    public func stop() { thread.stop() }


    /// Acknowledges a delivery: the broker forgets the message.
    public func ack(_ delivery: Delivery) {
        settlements.put(.ack(delivery.tag, generation: delivery.generation), waking: thread)
    }

    /// Rejects a delivery; with `requeue` the broker delivers it again (counting the delivery),
    /// without it the queue dead-letters it to the parked queue.
    public func reject(_ delivery: Delivery, requeue: Bool) {
        settlements.put(.reject(delivery.tag, generation: delivery.generation, requeue: requeue), waking: thread)
    }

    /// Settles a delivery as its commands need (see ``Disposition``).
    public func settle(_ delivery: Delivery, _ disposition: Disposition) {
        switch disposition {
        case .ack: ack(delivery)
        case .deadLetter: reject(delivery, requeue: false)
        case .requeue: reject(delivery, requeue: true)
        }
    }

    // MARK: - Connection thread

    private func loop() {
        var backoff = Backoff()
        var generation: UInt64 = 0
        while !thread.isStopped {
            do {
                let connection = try AMQPConnection(endpoint)
                try connection.declare(topology)
                try connection.call { parley_amqp_qos($0, prefetch, $1, $2) }
                try connection.call { parley_amqp_consume($0, queue, $1, $2) }
                generation += 1
                connected.store(true, ordering: .releasing)
                backoff.reset()
                logger.info("consuming", metadata: ["queue": "\(queue)", "prefetch": "\(prefetch)"])
                try serve(connection, generation: generation)
            } catch {
                // The first failure after a success is worth a warning; the retries that follow, a debug line.
                let level: Logger.Level = isConnected || backoff.isFresh ? .warning : .debug
                logger.log(level: level, "RabbitMQ connection failed, retrying", metadata: ["queue": "\(queue)", "error": "\(error)"])
                connected.store(false, ordering: .releasing)
                if !thread.isStopped { thread.sleep(backoff.next()) }
            }
        }
        connected.store(false, ordering: .releasing)
        continuation.finish()
    }

    /// Moves what was settled since into `hold`; with `force`, or once the hold is due, sends it,
    /// folding acks into as few frames as ``AckWindow`` allows. Returns how many it sent.
    @discardableResult
    private func settle(
        on connection: AMQPConnection, generation: UInt64, window: inout AckWindow,
        hold: inout SettlementHold<Settlement>, force: Bool
    ) throws(QueueError) -> Int {
        let new = settlements.takeAll()
        hold.add(new, urgent: new.contains { if case .reject = $0 { true } else { false } }, at: .now)
        guard force || hold.wait(at: .now) == .zero else { return 0 }
        let pending = hold.take()
        var acks: [UInt64] = []
        var rejects: [(tag: UInt64, requeue: Bool)] = []
        for settlement in pending {
            switch settlement {
            case .ack(let tag, let g) where g == generation: acks.append(tag)
            case .reject(let tag, let g, let requeue) where g == generation: rejects.append((tag, requeue))
            default: continue
            }
        }
        for frame in window.settle(acks: acks, rejects: rejects) {
            switch frame {
            case .ack(let tag, let multiple):
                try connection.call { parley_amqp_ack($0, tag, multiple ? 1 : 0, $1, $2) }
            case .nack(let tag, let requeue):
                try connection.call { parley_amqp_nack($0, tag, 0, requeue ? 1 : 0, $1, $2) }
            }
        }
        return pending.count
    }

    private func serve(_ connection: AMQPConnection, generation: UInt64) throws(QueueError) {
        var delivery = parley_amqp_delivery()
        var lastSettled = ContinuousClock.now - .seconds(1)
        var window = AckWindow()
        var hold = SettlementHold<Settlement>(delay: settleDelay, limit: Int(prefetch) / 2)
        defer {
            // Settlements made before a stop still reach the broker. A quorum queue can treat an
            // ack that is followed at once by the connection's close as never sent (it handles
            // the consumer's departure first), so linger a moment after the last ones.
            if (try? settle(on: connection, generation: generation, window: &window, hold: &hold, force: true)) ?? 0 > 0 {
                lastSettled = .now
            }
            let linger = Duration.milliseconds(250) - (ContinuousClock.now - lastSettled)
            if linger > .zero { Thread.sleep(forTimeInterval: linger / .seconds(1)) }
        }
        while !thread.isStopped {
            if try settle(on: connection, generation: generation, window: &window, hold: &hold, force: false) > 0 {
                lastSettled = .now
            }
            let got = try connection.call { parley_amqp_next_delivery($0, 0, &delivery, $1, $2) }
            if got == 1 {
                let body = [UInt8](UnsafeRawBufferPointer(start: delivery.body, count: delivery.len))
                parley_amqp_free_body(delivery.body)
                let routingKey = withUnsafeBytes(of: delivery.routing_key) { raw in
                    String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                }
                delivered.increment()
                if delivery.redelivered != 0 { redelivered.increment() }
                continuation.yield(Delivery(
                    body: body, routingKey: routingKey, redelivered: delivery.redelivered != 0,
                    deliveryCount: delivery.delivery_count, tag: delivery.delivery_tag, generation: generation
                ))
                continue
            }
            if !connection.hasBuffered {
                thread.wait(readable: connection.fd, timeout: min(hold.wait(at: .now) ?? .seconds(1), .seconds(1)))
            }
        }
    }
}
