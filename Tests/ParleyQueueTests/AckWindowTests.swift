@testable import ParleyQueue
import XCTest

final class AckWindowTests: XCTestCase {
    func testAcksInOrderGoAsOneMultipleAck() {
        var window = AckWindow()
        XCTAssertEqual(window.settle(acks: [1, 2, 3], rejects: []), [.ack(3, multiple: true)])
        XCTAssertEqual(window.settle(acks: [5, 4], rejects: []), [.ack(5, multiple: true)])
        XCTAssertEqual(window.floor, 5)
    }

    func testAckBehindAnUnsettledDeliveryGoesAloneAndAtOnce() {
        var window = AckWindow()
        XCTAssertEqual(window.settle(acks: [1, 3, 4], rejects: []), [.ack(1, multiple: true), .ack(3, multiple: false), .ack(4, multiple: false)])
        // Once the gap closes, the acks already sent are passed over, not sent again.
        XCTAssertEqual(window.settle(acks: [2], rejects: []), [.ack(2, multiple: true)])
        XCTAssertEqual(window.floor, 4)
        XCTAssertEqual(window.settle(acks: [5], rejects: []), [.ack(5, multiple: true)])
    }

    func testRejectsGoFirstAndOnTheirOwnAndCloseGaps() {
        var window = AckWindow()
        XCTAssertEqual(window.settle(acks: [1, 3], rejects: [(2, true)]), [.nack(2, requeue: true), .ack(3, multiple: true)])
        XCTAssertEqual(window.settle(acks: [], rejects: [(4, false)]), [.nack(4, requeue: false)])
        XCTAssertEqual(window.floor, 4)
    }

    func testAMultipleAckNeverCoversAnUnsettledTag() {
        // Settle 1...40 in a shuffled order, a few at a time: every frame may settle only tags
        // that were settled by then.
        var generator = SystemRandomNumberGenerator()
        let tags = Array(UInt64(1)...40).shuffled(using: &generator)
        var window = AckWindow()
        var settled = Set<UInt64>()
        var acknowledged = Set<UInt64>()
        for chunk in stride(from: 0, to: tags.count, by: 3).map({ Array(tags[$0..<min($0 + 3, tags.count)]) }) {
            settled.formUnion(chunk)
            for frame in window.settle(acks: chunk, rejects: []) {
                guard case .ack(let tag, let multiple) = frame else { return XCTFail("\(frame)") }
                let covered = multiple ? Set(UInt64(1)...tag) : [tag]
                XCTAssertTrue(covered.isSubset(of: settled), "\(frame) settles \(covered.subtracting(settled).sorted())")
                acknowledged.formUnion(covered)
            }
        }
        XCTAssertEqual(acknowledged, Set(UInt64(1)...40))
        XCTAssertEqual(window.floor, 40)
    }
}
