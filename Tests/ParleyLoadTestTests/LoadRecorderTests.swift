@testable import ParleyLoadTest
import XCTest

final class LoadRecorderTests: XCTestCase {
    let now = ContinuousClock.now

    func testEachRecipientCountsOnceAndARepeatCannotHideAMissingCopy() {
        let recorder = LoadRecorder()
        recorder.sent("run-1-0", recipients: [1, 2, 3], at: now)
        recorder.delivered("run-1-0", to: 1, at: now)
        recorder.delivered("run-1-0", to: 1, at: now)  // user 1 again; user 3 never gets it
        recorder.delivered("run-1-0", to: 2, at: now)
        recorder.delivered("run-1-0", to: 0, at: now)  // the sender's (user 0, last in the key) own copy is no delivery
        recorder.acked("run-1-0", upload: false, at: now)
        let report = Self.report(recorder)
        XCTAssertEqual(report.delivered, 2)
        XCTAssertEqual(report.missing, 1)
        XCTAssertEqual(report.repeated, 1)
        XCTAssertEqual(report.late, 0)
    }

    func testCopiesAfterAMessageIsDoneAreRepeatsAndAfterAFailureLate() {
        let recorder = LoadRecorder()
        recorder.sent("run-2-0", recipients: [1], at: now)
        recorder.delivered("run-2-0", to: 1, at: now)  // before the ack: still awaited
        recorder.acked("run-2-0", upload: false, at: now)
        recorder.delivered("run-2-0", to: 1, at: now)
        recorder.sent("run-3-0", recipients: [1, 2], at: now)
        recorder.failed("run-3-0", kind: "ack: timeout")
        recorder.delivered("run-3-0", to: 2, at: now)
        let report = Self.report(recorder)
        XCTAssertEqual(report.expectedDeliveries, 1, "a failed send expects nothing")
        XCTAssertEqual(report.delivered, 1)
        XCTAssertEqual(report.missing, 0)
        XCTAssertEqual(report.repeated, 1)
        XCTAssertEqual(report.late, 1)
        XCTAssertEqual(report.errors, ["ack: timeout": 1])
    }

    static func report(_ recorder: LoadRecorder) -> LoadReport {
        LoadReport(
            plan: LoadTestPlan(urls: ["http://127.0.0.1:1"], users: 4, chatSize: 4, rate: 1, duration: 1, rampUp: 0, messageSize: 1, uploadShare: 0),
            state: recorder.state.withLock { $0 }, sendingSeconds: 1, connectionsFailed: 0, cpuSeconds: 0, eventLoops: 1)
    }

    func testKeysAreReadForTheirNumberAndSenderAndNumbersAreKeptAsBits() {
        XCTAssertEqual(LoadRecorder.parts(of: "1a2b3c4d-1234-56").map { [$0.number, $0.sender] }, [1234, 56])
        XCTAssertNil(LoadRecorder.parts(of: "no-number-x"))
        XCTAssertNil(LoadRecorder.parts(of: "plain"))
        var numbers = MessageNumbers()
        let inserted = [0, 63, 64, 1000, 100_000]
        for n in inserted { numbers.insert(n) }
        for n in inserted { XCTAssertTrue(numbers.contains(n), "\(n)") }
        for n in [1, 62, 65, 999, 99_999, 100_001, 10_000_000, -1] { XCTAssertFalse(numbers.contains(n), "\(n)") }
    }
}
