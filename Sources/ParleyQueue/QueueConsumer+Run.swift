import ServiceLifecycle
import Synchronization

extension QueueConsumer {
    /// Consumes until graceful shutdown, handing each delivery to `handle` with at most
    /// `concurrency` in flight (the prefetch bounds it too). `handle` settles the delivery.
    public func run(concurrency: Int, _ handle: @escaping @Sendable (Delivery) async -> Void) async {
        start()
        let limit = max(1, concurrency)
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                var inFlight = 0
                let (done, doneContinuation) = AsyncStream.makeStream(of: Void.self)
                var doneIterator = done.makeAsyncIterator()
                for await delivery in deliveries {
                    if inFlight >= limit {
                        await doneIterator.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask {
                        await handle(delivery)
                        doneContinuation.yield()
                    }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }
}

extension QueueConsumer {
    /// Like ``run(concurrency:_:)``, but hands over every delivery that has arrived, up to
    /// `maxBatch`, at once: under load batches grow by themselves, when idle each delivery goes
    /// alone without waiting for company.
    public func runBatches(maxBatch: Int, concurrency: Int, _ handle: @escaping @Sendable ([Delivery]) async -> Void) async {
        start()
        let pending = PendingDeliveries()
        let (ready, readySignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await delivery in self.deliveries {
                        pending.append(delivery)
                        readySignal.yield()
                    }
                    readySignal.finish()
                }
                let slots = AsyncSemaphore(max(1, concurrency))
                for await _ in ready {
                    while true {
                        await slots.wait()
                        let batch = pending.take(max(1, maxBatch))
                        guard !batch.isEmpty else {
                            slots.signal()
                            break
                        }
                        group.addTask {
                            await handle(batch)
                            slots.signal()
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }
}

/// Deliveries received and not yet handed to a batch.
private final class PendingDeliveries: Sendable {
    private let queue = Mutex<[Delivery]>([])
    func append(_ delivery: Delivery) { queue.withLock { $0.append(delivery) } }
    func take(_ count: Int) -> [Delivery] {
        queue.withLock { queue in
            let batch = Array(queue.prefix(count))
            queue.removeFirst(batch.count)
            return batch
        }
    }
}

/// Bounds how many batches are handled at once.
private final class AsyncSemaphore: Sendable {
    private let state: Mutex<(permits: Int, waiters: [CheckedContinuation<Void, Never>])>

    init(_ permits: Int) { state = Mutex((permits, [])) }

    func wait() async {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                if state.permits > 0 {
                    state.permits -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            if state.waiters.isEmpty {
                state.permits += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }
}
