@testable import ParleyQueue
import XCTest

final class SettlementHoldTests: XCTestCase {
    let start = ContinuousClock.now

    func testAcksWaitForTheDelayFromTheFirstOfThem() {
        var hold = SettlementHold<Int>(delay: .milliseconds(10), limit: 100)
        XCTAssertNil(hold.wait(at: start))
        hold.add([1], urgent: false, at: start)
        XCTAssertEqual(hold.wait(at: start), .milliseconds(10))
        // Later arrivals do not push the deadline back.
        hold.add([2, 3], urgent: false, at: start + .milliseconds(6))
        XCTAssertEqual(hold.wait(at: start + .milliseconds(6)), .milliseconds(4))
        XCTAssertEqual(hold.wait(at: start + .milliseconds(12)), .zero)
        XCTAssertEqual(hold.take(), [1, 2, 3])
        XCTAssertNil(hold.wait(at: start + .milliseconds(12)))
        // The next hold counts from its own first settlement.
        hold.add([4], urgent: false, at: start + .milliseconds(20))
        XCTAssertEqual(hold.wait(at: start + .milliseconds(25)), .milliseconds(5))
    }

    func testAnUrgentSettlementMakesEverythingHeldDueAtOnce() {
        var hold = SettlementHold<Int>(delay: .seconds(1), limit: 100)
        hold.add([1, 2], urgent: false, at: start)
        hold.add([3], urgent: true, at: start)
        XCTAssertEqual(hold.wait(at: start), .zero)
        XCTAssertEqual(hold.take(), [1, 2, 3])
        hold.add([4], urgent: false, at: start)
        XCTAssertEqual(hold.wait(at: start), .seconds(1), "urgency ends with the hold it was in")
    }

    func testAFullHoldIsDueAtOnceAndANoDelayHoldNeverWaits() {
        var full = SettlementHold<Int>(delay: .seconds(1), limit: 3)
        full.add([1, 2], urgent: false, at: start)
        XCTAssertEqual(full.wait(at: start), .seconds(1))
        full.add([3], urgent: false, at: start)
        XCTAssertEqual(full.wait(at: start), .zero)

        var none = SettlementHold<Int>(delay: .zero, limit: 3)
        none.add([1], urgent: false, at: start)
        XCTAssertEqual(none.wait(at: start), .zero)

        // A prefetch of one must not wait for company that cannot come.
        var single = SettlementHold<Int>(delay: .seconds(1), limit: 1 / 2)
        single.add([1], urgent: false, at: start)
        XCTAssertEqual(single.wait(at: start), .zero)
    }
}
