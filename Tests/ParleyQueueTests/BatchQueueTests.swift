@testable import ParleyQueue
import XCTest

final class BatchQueueTests: XCTestCase {
    static func delivery(_ tag: UInt64) -> Delivery {
        Delivery(body: [], routingKey: "k", redelivered: false, deliveryCount: 0, tag: tag, generation: 1)
    }

    static func tags(_ batch: [Delivery]?) -> [UInt64]? { batch?.map(\.tag) }

    func testWhenIdleADeliveryGoesAtOnceAlone() {
        let queue = BatchQueue(maxBatch: 4, concurrency: 2)
        XCTAssertEqual(Self.tags(queue.append(Self.delivery(1))), [1])
        XCTAssertNil(queue.batchDone())
        XCTAssertEqual(Self.tags(queue.append(Self.delivery(2))), [2])
    }

    func testWhileABatchIsInFlightDeliveriesWaitForItAndGoTogether() {
        let queue = BatchQueue(maxBatch: 4, concurrency: 2)
        XCTAssertEqual(Self.tags(queue.append(Self.delivery(1))), [1])
        for tag in UInt64(2)...4 {
            XCTAssertNil(queue.append(Self.delivery(tag)), "a second batch started for less than a whole batch")
        }
        // The task that ends a batch takes the waiting ones as its next.
        XCTAssertEqual(Self.tags(queue.batchDone()), [2, 3, 4])
        XCTAssertNil(queue.batchDone())
    }

    func testAWholeBatchWaitingRunsBesideUpToTheConcurrency() {
        let queue = BatchQueue(maxBatch: 2, concurrency: 2)
        XCTAssertEqual(Self.tags(queue.append(Self.delivery(1))), [1])
        XCTAssertNil(queue.append(Self.delivery(2)))
        XCTAssertEqual(Self.tags(queue.append(Self.delivery(3))), [2, 3])
        XCTAssertNil(queue.append(Self.delivery(4)))
        XCTAssertNil(queue.append(Self.delivery(5)), "more batches than the concurrency")
        XCTAssertEqual(Self.tags(queue.batchDone()), [4, 5])
        XCTAssertNil(queue.append(Self.delivery(6)))
        XCTAssertNil(queue.batchDone(), "a second batch started for less than a whole batch")
        XCTAssertEqual(Self.tags(queue.batchDone()), [6])
        XCTAssertNil(queue.batchDone())
    }
}
