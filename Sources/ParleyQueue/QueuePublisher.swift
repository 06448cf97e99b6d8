import CRabbitMQ
import Logging
import Metrics
import ParleyCore
import ParleyIOThread
import Synchronization

/// Publishes to RabbitMQ with publisher confirms: ``publish(_:routingKey:messageId:)`` returns only
/// once the broker has confirmed the message (it is then on disk in a quorum queue).
///
/// The connection lives on a dedicated thread that keeps a window of unconfirmed publishes, so
/// many concurrent callers share one connection without waiting on each other's round trips.
/// While disconnected, publishes fail at once with ``QueueError/unavailable(_:)``; the thread
/// reconnects by itself with backoff. A broker that stops confirming without closing the
/// connection (stalled, or a network dropping packets) counts as gone once a publish has waited
/// `confirmTimeout`: what waits fails, and the connection is made anew.
///
/// Batchable commands for the same routing key that arrive while a batch of theirs awaits its
/// confirm are held and then published together as one ``CommandBatch``: under load the broker
/// handles a message per confirm round trip instead of one per command; a command that finds
/// nothing in flight goes at once, alone.
public final class QueuePublisher: IOThreadService, Sendable {
    private struct Request: Sendable {
        let body: [UInt8]
        let exchange: String
        let routingKey: String
        let messageId: String?
        let batchable: Bool
        /// Told once: confirmed, or why not.
        let done: @Sendable (Result<Void, any Error>) -> Void
    }

    /// Where batchable requests meet: one exchange and routing key.
    private struct BatchKey: Hashable {
        let exchange: String
        let routingKey: String
    }

    /// A published message and the requests its confirm settles.
    private struct Sent {
        let requests: [Request]
        let batch: BatchKey?
        let at: ContinuousClock.Instant
    }

    private let endpoint: AMQPEndpoint
    private let topology: Topology
    private let published = Counter(label: "parley_queue_published_total")
    private let publishFailures = Counter(label: "parley_queue_publish_failures_total")
    private let logger: Logger
    private let thread: IOThread
    private let inbox = Inbox<Request>()
    private let connected = Atomic<Bool>(false)
    private let batchesInFlight: Int
    private let maxBatch: Int
    private let confirmTimeout: Duration

    /// - Parameters:
    ///   - endpoint: the broker.
    ///   - topology: declared on every (re)connect before anything is published.
    ///   - batchesInFlight: most unconfirmed messages per routing key for batchable commands;
    ///     what arrives beyond them waits and goes as one batch.
    ///   - maxBatch: most commands in one batch.
    ///   - confirmTimeout: longest a publish waits for its confirm before the connection is
    ///     given up (up to a second later: the thread looks once a second).
    ///   - logger: where connection changes are logged.
    public init(
        endpoint: AMQPEndpoint, topology: Topology = .parley, batchesInFlight: Int = 1, maxBatch: Int = 64,
        confirmTimeout: Duration = .seconds(5), logger: Logger
    ) {
        self.endpoint = endpoint
        self.topology = topology
        self.batchesInFlight = max(1, batchesInFlight)
        self.maxBatch = max(1, maxBatch)
        self.confirmTimeout = confirmTimeout
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
    ///   - messageId: the AMQP `message-id` property (the command id); a batch has none.
    ///   - batchable: whether `body` is a command that may share a message with others for the
    ///     same routing key (``CommandBatch``); its consumer must take batches apart.
    ///   - wakeUp: when the publisher's thread is woken for it, if it finds nothing queued
    ///     before it; deferred, the publishes of a caller's burst share one wake-up.
    /// - Throws: ``QueueError`` when not connected, on nack or return, or if the connection drops
    ///   before the confirm.
    public func publish(
        _ body: [UInt8], routingKey: String, messageId: String? = nil, exchange: String? = nil, batchable: Bool = false, wakeUp: WakeUp = .now
    ) async throws {
        try await withCheckedThrowingContinuation { continuation in
            publish(body, routingKey: routingKey, messageId: messageId, exchange: exchange, batchable: batchable, wakeUp: wakeUp) {
                continuation.resume(with: $0)
            }
        }
    }

    /// ``publish(_:routingKey:messageId:exchange:batchable:wakeUp:)`` for a caller that goes on
    /// without waiting: `completion` is called once, on the publisher's thread (or the caller's
    /// when not connected), with the confirm or the ``QueueError``.
    public func publish(
        _ body: [UInt8], routingKey: String, messageId: String? = nil, exchange: String? = nil, batchable: Bool = false, wakeUp: WakeUp = .now,
        completion: @escaping @Sendable (Result<Void, any Error>) -> Void
    ) {
        guard isConnected, !thread.isStopped else {
            publishFailures.increment()
            return completion(.failure(QueueError.unavailable("not connected to RabbitMQ")))
        }
        let published = published, publishFailures = publishFailures
        inbox.put(Request(
            body: body, exchange: exchange ?? topology.exchange, routingKey: routingKey, messageId: messageId, batchable: batchable
        ) { result in
            switch result {
            case .success: published.increment()
            case .failure: publishFailures.increment()
            }
            completion(result)
        }, waking: thread, when: wakeUp)
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
        var outstanding: [UInt64: Sent] = [:]
        var held: [BatchKey: [Request]] = [:]
        var inFlight: [BatchKey: Int] = [:]
        var returned = false
        var nextOverdueCheck = ContinuousClock.now + .seconds(1)
        defer {
            let unsettled = outstanding.values.flatMap(\.requests) + held.values.joined()
            for request in unsettled {
                request.done(.failure(QueueError.unavailable("connection lost before confirm")))
            }
        }
        func send(_ requests: [Request], batch: BatchKey?) throws {
            let first = requests[0]
            let body = requests.count == 1 ? first.body : CommandBatch.encode(requests.map(\.body))
            do {
                try connection.call { h, e, n in
                    body.withUnsafeBytes { body in
                        parley_amqp_publish(
                            h, first.exchange, first.routingKey, body.baseAddress, body.count, requests.count == 1 ? first.messageId : nil, e, n)
                    }
                }
            } catch {
                for request in requests { request.done(.failure(QueueError.unavailable("\(error)"))) }
                throw error
            }
            outstanding[nextTag] = Sent(requests: requests, batch: batch, at: .now)
            nextTag += 1
            if let batch { inFlight[batch, default: 0] += 1 }
        }
        /// Sends what is held for every routing key with room in its window.
        func sendHeld() throws {
            for key in Array(held.keys) {
                while var waiting = held[key], inFlight[key, default: 0] < batchesInFlight {
                    let batch = Array(waiting.prefix(maxBatch))
                    waiting.removeFirst(batch.count)
                    held[key] = waiting.isEmpty ? nil : waiting
                    try send(batch, batch: key)
                }
            }
        }
        while !thread.isStopped || !outstanding.isEmpty || !held.isEmpty {
            let taken = inbox.takeAll()
            for (index, request) in taken.enumerated() {
                if request.batchable {
                    held[BatchKey(exchange: request.exchange, routingKey: request.routingKey), default: []].append(request)
                    continue
                }
                do {
                    try send([request], batch: nil)
                } catch {
                    // Those taken behind it would otherwise wait forever.
                    for later in taken[(index + 1)...] { later.done(.failure(QueueError.unavailable("\(error)"))) }
                    throw error
                }
            }
            try sendHeld()
            // Settle every confirm already received, then sleep until the socket or a caller wakes us.
            var settled = false
            while true {
                var tag: UInt64 = 0
                var multiple: Int32 = 0
                let kind = try connection.call { parley_amqp_next_confirm($0, 0, &tag, &multiple, $1, $2) }
                if kind == Int32(PARLEY_CONFIRM_TIMEOUT) { break }
                if kind == Int32(PARLEY_CONFIRM_RETURN) { returned = true; continue }
                let tags = multiple != 0 ? outstanding.keys.filter { $0 <= tag } : [tag]
                for t in tags {
                    guard let sent = outstanding.removeValue(forKey: t) else { continue }
                    settled = true
                    if let batch = sent.batch { inFlight[batch, default: 1] -= 1 }
                    for request in sent.requests {
                        if kind == Int32(PARLEY_CONFIRM_NACK) {
                            request.done(.failure(QueueError.rejected("nacked by the broker")))
                        } else if returned && multiple == 0 {
                            // A mandatory message that no queue took comes back right before its ack.
                            request.done(.failure(QueueError.rejected("no queue is bound to '\(request.routingKey)'")))
                        } else {
                            request.done(.success(()))
                        }
                    }
                }
                returned = false
            }
            if settled { try sendHeld() }
            if thread.isStopped && outstanding.isEmpty && held.isEmpty { break }
            let now = ContinuousClock.now
            if now >= nextOverdueCheck {
                nextOverdueCheck = now + .seconds(1)
                if outstanding.values.contains(where: { now - $0.at > confirmTimeout }) {
                    // Now, not after closing the connection (which waits for the broker too): callers fail at once meanwhile.
                    let error = QueueError.unavailable("RabbitMQ confirmed nothing within \(confirmTimeout)")
                    connected.store(false, ordering: .releasing)
                    failQueued(with: error)
                    throw error
                }
            }
            if !connection.hasBuffered {
                thread.wait(readable: connection.fd, timeout: .seconds(1))
            }
        }
    }

    private func failQueued(with error: any Error) {
        for request in inbox.takeAll() {
            request.done(.failure(QueueError.unavailable("\(error)")))
        }
    }
}
