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
    /// `maxBatch`, at once: when idle each delivery goes alone without waiting for company.
    ///
    /// While a batch is being handled, new deliveries wait for it and go together as the next
    /// batch; another batch runs beside it (up to `concurrency` at once) only once a whole
    /// `maxBatch` is waiting. Most of a small batch's cost is per batch (round trips, thread
    /// wake-ups), so under moderate load fewer, larger batches cost less and, on busy cores,
    /// deliver sooner; a backlog still gets every slot. Batches hold at most half the prefetch
    /// window, so that a whole batch can be waiting beside one in flight.
    public func runBatches(maxBatch: Int, concurrency: Int, _ handle: @escaping @Sendable ([Delivery]) async -> Void) async {
        start()
        let queue = BatchQueue(maxBatch: max(1, min(maxBatch, Int(prefetch) / 2)), concurrency: max(1, concurrency))
        let (wake, wakeSignal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await delivery in self.deliveries {
                        queue.append(delivery)
                        wakeSignal.yield()
                    }
                    // Deliveries not handed over by now were never acknowledged: the broker,
                    // whose connection is closed, delivers them again.
                    wakeSignal.finish()
                }
                for await _ in wake {
                    while let batch = queue.nextBatch() {
                        group.addTask {
                            await handle(batch)
                            queue.batchDone()
                            wakeSignal.yield()
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }
}

/// Deliveries received and not yet handed to a batch, and the rule for when the next batch
/// starts (see ``QueueConsumer/runBatches(maxBatch:concurrency:_:)``).
final class BatchQueue: Sendable {
    private struct State {
        var waiting: [Delivery] = []
        var inFlight = 0
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let concurrency: Int

    init(maxBatch: Int, concurrency: Int) {
        self.maxBatch = maxBatch
        self.concurrency = concurrency
    }

    func append(_ delivery: Delivery) { state.withLock { $0.waiting.append(delivery) } }

    /// The next batch to start now, if one should: the first whenever nothing is in flight,
    /// another beside those in flight only for a whole `maxBatch` of waiting deliveries.
    func nextBatch() -> [Delivery]? {
        state.withLock { state in
            guard !state.waiting.isEmpty, state.inFlight < concurrency,
                  state.inFlight == 0 || state.waiting.count >= maxBatch
            else { return nil }
            let batch = Array(state.waiting.prefix(maxBatch))
            state.waiting.removeFirst(batch.count)
            state.inFlight += 1
            return batch
        }
    }

    func batchDone() { state.withLock { $0.inFlight -= 1 } }
}
