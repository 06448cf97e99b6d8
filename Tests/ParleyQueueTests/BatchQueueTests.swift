@testable import ParleyQueue
import XCTest

final class BatchQueueTests: XCTestCase {
    static func delivery(_ tag: UInt64) -> Delivery {
        Delivery(body: [], routingKey: "k", redelivered: false, deliveryCount: 0, tag: tag, generation: 1)
    }

    static func tags(_ batch: [Delivery]?) -> [UInt64]? { batch?.map(\.tag) }

    func testWhenIdleADeliveryGoesAtOnceAlone() {
        let queue = BatchQueue(maxBatch: 4, concurrency: 2)
        XCTAssertNil(queue.nextBatch())
        queue.append(Self.delivery(1))
        XCTAssertEqual(Self.tags(queue.nextBatch()), [1])
    }

    func testWhileABatchIsInFlightDeliveriesWaitForItAndGoTogether() {
        let queue = BatchQueue(maxBatch: 4, concurrency: 2)
        queue.append(Self.delivery(1))
        XCTAssertEqual(Self.tags(queue.nextBatch()), [1])
        for tag in UInt64(2)...4 { queue.append(Self.delivery(tag)) }
        XCTAssertNil(queue.nextBatch(), "a second batch started for less than a whole batch")
        queue.batchDone()
        XCTAssertEqual(Self.tags(queue.nextBatch()), [2, 3, 4])
    }

    func testAWholeBatchWaitingRunsBesideUpToTheConcurrency() {
        let queue = BatchQueue(maxBatch: 2, concurrency: 2)
        queue.append(Self.delivery(1))
        XCTAssertEqual(Self.tags(queue.nextBatch()), [1])
        for tag in UInt64(2)...6 { queue.append(Self.delivery(tag)) }
        XCTAssertEqual(Self.tags(queue.nextBatch()), [2, 3])
        XCTAssertNil(queue.nextBatch(), "more batches than the concurrency")
        queue.batchDone()
        XCTAssertEqual(Self.tags(queue.nextBatch()), [4, 5])
        queue.batchDone()
        queue.batchDone()
        XCTAssertEqual(Self.tags(queue.nextBatch()), [6])
        XCTAssertNil(queue.nextBatch())
    }
}
