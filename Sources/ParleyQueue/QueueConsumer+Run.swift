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
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await delivery in deliveries {
                    guard let first = queue.append(delivery) else { continue }
                    // The task that handled a batch takes the next one itself, if it is due:
                    // under load batches follow each other without a hand-over between tasks.
                    group.addTask {
                        var batch = first
                        while true {
                            await handle(batch)
                            guard let next = queue.batchDone() else { return }
                            batch = next
                        }
                    }
                }
                // Once the consumer stops, the tasks still running finish what is waiting (its
                // acks go nowhere: the broker, whose connection is closed, delivers it again).
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

    /// Adds a delivery; returns a batch to start now, if one is due.
    func append(_ delivery: Delivery) -> [Delivery]? {
        state.withLock { state in
            state.waiting.append(delivery)
            return take(from: &state)
        }
    }

    /// Ends a batch; returns the next one for the same task, if one is due.
    func batchDone() -> [Delivery]? {
        state.withLock { state in
            state.inFlight -= 1
            return take(from: &state)
        }
    }

    /// The first batch is due whenever nothing is in flight; another beside those in flight
    /// only for a whole `maxBatch` of waiting deliveries.
    private func take(from state: inout State) -> [Delivery]? {
        guard !state.waiting.isEmpty, state.inFlight < concurrency,
              state.inFlight == 0 || state.waiting.count >= maxBatch
        else { return nil }
        let batch = Array(state.waiting.prefix(maxBatch))
        state.waiting.removeFirst(batch.count)
        state.inFlight += 1
        return batch
    }
}
