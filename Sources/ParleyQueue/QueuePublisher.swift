import CRabbitMQ
import Logging
import Metrics
import ParleyIOThread
import Synchronization

/// Publishes to RabbitMQ with publisher confirms: ``publish(_:routingKey:messageId:)`` returns only
/// once the broker has confirmed the message (it is then on disk in a quorum queue).
///
/// The connection lives on a dedicated thread that keeps a window of unconfirmed publishes, so
/// many concurrent callers share one connection without waiting on each other's round trips.
/// While disconnected, publishes fail at once with ``QueueError/unavailable(_:)``; the thread
/// reconnects by itself with backoff.
public final class QueuePublisher: IOThreadService, Sendable {
    private struct Request: Sendable {
        let body: [UInt8]
        let exchange: String
        let routingKey: String
        let messageId: String?
        let continuation: CheckedContinuation<Void, any Error>
    }

    private let endpoint: AMQPEndpoint
    private let topology: Topology
    private let published = Counter(label: "parley_queue_published_total")
    private let publishFailures = Counter(label: "parley_queue_publish_failures_total")
    private let logger: Logger
    private let thread: IOThread
    private let inbox = Inbox<Request>()
    private let connected = Atomic<Bool>(false)

    /// - Parameters:
    ///   - endpoint: the broker.
    ///   - topology: declared on every (re)connect before anything is published.
    ///   - logger: where connection changes are logged.
    public init(endpoint: AMQPEndpoint, topology: Topology = .parley, logger: Logger) {
        self.endpoint = endpoint
        self.topology = topology
        self.logger = logger
        self.thread = IOThread(name: "amqp-publisher")
    }

    /// Whether the publisher holds a live connection now.
    public var isConnected: Bool { connected.load(ordering: .acquiring) }

    /// Starts the connection thread; ``run()`` does this too.
    public func start() {
        thread.start { [self] in loop() }
    }

    /// Stops the thread; publishes still waiting fail with ``QueueError/unavailable(_:)``.
    public func stop() { thread.stop() }


    /// Publishes one persistent message and waits for the broker's confirm.
    /// - Parameters:
    ///   - body: the message bytes (JSON).
    ///   - routingKey: the key on the exchange; a key no queue is bound to is an error.
    ///   - exchange: the topology's exchange unless given (`""` is the default exchange, which
    ///     routes to the queue named by the key).
    ///   - messageId: the AMQP `message-id` property (the command id).
    /// - Throws: ``QueueError`` when not connected, on nack or return, or if the connection drops
    ///   before the confirm.
    public func publish(_ body: [UInt8], routingKey: String, messageId: String? = nil, exchange: String? = nil) async throws {
        do {
            guard isConnected, !thread.isStopped else { throw QueueError.unavailable("not connected to RabbitMQ") }
            try await withCheckedThrowingContinuation { continuation in
                inbox.put(Request(
                    body: body, exchange: exchange ?? topology.exchange, routingKey: routingKey, messageId: messageId, continuation: continuation))
                thread.wake()
            }
            published.increment()
        } catch {
            publishFailures.increment()
            throw error
        }
    }

    /// Waits until connected, up to `timeout`; for start-up and tests.
    public func waitUntilConnected(timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while !isConnected {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    // MARK: - Connection thread

    private func loop() {
        var backoff = Backoff()
        while !thread.isStopped {
            do {
                let connection = try AMQPConnection(endpoint)
                try connection.declare(topology)
                try connection.call { parley_amqp_confirm_select($0, $1, $2) }
                connected.store(true, ordering: .releasing)
                backoff.reset()
                logger.info("connected to RabbitMQ", metadata: ["role": "publisher", "host": "\(endpoint.host):\(endpoint.port)"])
                try serve(connection)
            } catch {
                // The first failure after a success is worth a warning; the retries that follow, a debug line.
                let level: Logger.Level = isConnected || backoff.isFresh ? .warning : .debug
                logger.log(level: level, "RabbitMQ connection failed, retrying", metadata: ["role": "publisher", "error": "\(error)"])
                connected.store(false, ordering: .releasing)
                failQueued(with: error)
                if !thread.isStopped { thread.sleep(backoff.next()) }
            }
        }
        connected.store(false, ordering: .releasing)
        failQueued(with: QueueError.unavailable("publisher stopped"))
    }

    /// Publishes what arrives and settles confirms until the connection fails or the thread stops.
    private func serve(_ connection: AMQPConnection) throws {
        var nextTag: UInt64 = 1
        var outstanding: [UInt64: Request] = [:]
        var returned = false
        defer {
            for request in outstanding.values {
                request.continuation.resume(throwing: QueueError.unavailable("connection lost before confirm"))
            }
        }
        while !thread.isStopped || !outstanding.isEmpty {
            for request in inbox.takeAll() {
                do {
                    try connection.call { h, e, n in
                        request.body.withUnsafeBytes { body in
                            parley_amqp_publish(h, request.exchange, request.routingKey, body.baseAddress, body.count, request.messageId, e, n)
                        }
                    }
                } catch {
                    request.continuation.resume(throwing: QueueError.unavailable("\(error)"))
                    throw error
                }
                outstanding[nextTag] = request
                nextTag += 1
            }
            // Settle every confirm already received, then sleep until the socket or a caller wakes us.
            while true {
                var tag: UInt64 = 0
                var multiple: Int32 = 0
                let kind = try connection.call { parley_amqp_next_confirm($0, 0, &tag, &multiple, $1, $2) }
                if kind == Int32(PARLEY_CONFIRM_TIMEOUT) { break }
                if kind == Int32(PARLEY_CONFIRM_RETURN) { returned = true; continue }
                let tags = multiple != 0 ? outstanding.keys.filter { $0 <= tag } : [tag]
                for t in tags {
                    guard let request = outstanding.removeValue(forKey: t) else { continue }
                    if kind == Int32(PARLEY_CONFIRM_NACK) {
                        request.continuation.resume(throwing: QueueError.rejected("nacked by the broker"))
                    } else if returned && multiple == 0 {
                        // A mandatory message that no queue took comes back right before its ack.
                        request.continuation.resume(throwing: QueueError.rejected("no queue is bound to '\(request.routingKey)'"))
                    } else {
                        request.continuation.resume()
                    }
                }
                returned = false
            }
            if thread.isStopped && outstanding.isEmpty { break }
            if !connection.hasBuffered {
                thread.wait(readable: connection.fd, timeoutMilliseconds: 1000)
            }
        }
    }

    private func failQueued(with error: any Error) {
        for request in inbox.takeAll() {
            request.continuation.resume(throwing: QueueError.unavailable("\(error)"))
        }
    }
}
