import ParleyLoadTest
import XCTest

final class LoadTestPlanTests: XCTestCase {
    func plan(drain: Double = 5) -> LoadTestPlan {
        LoadTestPlan(urls: ["http://127.0.0.1:3000"], users: 10, chatSize: 2, rate: 100, duration: 10, rampUp: 2, messageSize: 100, uploadShare: 0, drain: drain)
    }

    func testTheDrainIsBoundedAndAZeroDrainIsAllowed() {
        XCTAssertEqual(plan().problems, [])
        XCTAssertEqual(plan(drain: 0).problems, [])
        XCTAssertEqual(plan(drain: -1).problems, ["--drain must be from 0 to 600"])
        XCTAssertEqual(plan(drain: 601).problems, ["--drain must be from 0 to 600"])
    }

    func testTheRateRampsUpLinearlyThenHolds() {
        let plan = plan()
        XCTAssertEqual(plan.due(at: 0), 0)
        XCTAssertEqual(plan.due(at: 1), 25, accuracy: 1e-9)  // 100/s reached at 2 s: 100 · 1² / 4
        XCTAssertEqual(plan.due(at: 2), 100, accuracy: 1e-9)
        XCTAssertEqual(plan.due(at: 10), 900, accuracy: 1e-9)
        XCTAssertEqual(plan.due(at: 60), 900, accuracy: 1e-9, "nothing is due after the duration")
    }
}
