import ServiceLifecycle

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
