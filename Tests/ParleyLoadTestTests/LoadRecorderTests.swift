@testable import ParleyLoadTest
import XCTest

final class LoadRecorderTests: XCTestCase {
    let now = ContinuousClock.now

    func testEachRecipientCountsOnceAndARepeatCannotHideAMissingCopy() {
        let recorder = LoadRecorder()
        recorder.sent(MessageKey(number: 1, sender: 0), recipients: [1, 2, 3], at: now)
        recorder.delivered(MessageKey(number: 1, sender: 0), to: 1, at: now)
        recorder.delivered(MessageKey(number: 1, sender: 0), to: 1, at: now)  // user 1 again; user 3 never gets it
        recorder.delivered(MessageKey(number: 1, sender: 0), to: 2, at: now)
        recorder.delivered(MessageKey(number: 1, sender: 0), to: 0, at: now)  // the sender's (user 0) own copy is no delivery
        recorder.acked(MessageKey(number: 1, sender: 0), upload: false, at: now)
        let report = Self.report(recorder)
        XCTAssertEqual(report.delivered, 2)
        XCTAssertEqual(report.missing, 1)
        XCTAssertEqual(report.repeated, 1)
        XCTAssertEqual(report.late, 0)
    }

    func testCopiesAfterAMessageIsDoneAreRepeatsAndAfterAFailureLate() {
        let recorder = LoadRecorder()
        recorder.sent(MessageKey(number: 2, sender: 0), recipients: [1], at: now)
        recorder.delivered(MessageKey(number: 2, sender: 0), to: 1, at: now)  // before the ack: still awaited
        recorder.acked(MessageKey(number: 2, sender: 0), upload: false, at: now)
        recorder.delivered(MessageKey(number: 2, sender: 0), to: 1, at: now)
        recorder.sent(MessageKey(number: 3, sender: 0), recipients: [1, 2], at: now)
        recorder.failed(MessageKey(number: 3, sender: 0), kind: "ack: timeout")
        recorder.delivered(MessageKey(number: 3, sender: 0), to: 2, at: now)
        let report = Self.report(recorder)
        XCTAssertEqual(report.expectedDeliveries, 1, "a failed send expects nothing")
        XCTAssertEqual(report.delivered, 1)
        XCTAssertEqual(report.missing, 0)
        XCTAssertEqual(report.repeated, 1)
        XCTAssertEqual(report.late, 1)
        XCTAssertEqual(report.errors, ["ack: timeout": 1])
    }

    func testUploadsAreTimedApartFromSocketSends() {
        let recorder = LoadRecorder()
        recorder.sent(MessageKey(number: 4, sender: 0), recipients: [1], at: now)
        recorder.sent(MessageKey(number: 5, sender: 0), recipients: [1], at: now)
        recorder.acked(MessageKey(number: 4, sender: 0), upload: false, at: now + .milliseconds(2))
        recorder.acked(MessageKey(number: 5, sender: 0), upload: true, at: now + .milliseconds(300))
        let report = Self.report(recorder)
        XCTAssertEqual(report.acked, 2)
        XCTAssertEqual(report.uploads, 1)
        XCTAssertEqual(report.ack.count, 1)
        XCTAssertEqual(report.ack.max, 2, accuracy: 0.01)
        XCTAssertEqual(report.upload.count, 1)
        XCTAssertEqual(report.upload.max, 300, accuracy: 0.5)
        XCTAssertTrue(report.table.contains("upload → 201"), report.table)
        XCTAssertTrue(LatencyChart.svg(report).contains("upload → 201"))
        // Without uploads the table has no such row.
        XCTAssertFalse(Self.report(LoadRecorder()).table.contains("upload → 201"))
    }

    func testTheTableSaysHowManySendsThePlanAskedForRampIncluded() {
        let recorder = LoadRecorder()
        for n in 0..<3 { recorder.sent(MessageKey(number: n, sender: 0), recipients: [1], at: now) }
        // 6,000 a second after a 3 s climb over 20 s: 9,000 + 102,000.
        let plan = LoadTestPlan(urls: ["http://127.0.0.1:1"], users: 4, chatSize: 4, rate: 6000, duration: 20, rampUp: 3, messageSize: 1, uploadShare: 0)
        let report = Self.report(recorder, plan: plan)
        XCTAssertEqual(report.due, 111_000)
        XCTAssertTrue(report.table.contains("sent 3 of 111000 due"), report.table)
    }

    static func report(
        _ recorder: LoadRecorder,
        plan: LoadTestPlan = LoadTestPlan(urls: ["http://127.0.0.1:1"], users: 4, chatSize: 4, rate: 1, duration: 1, rampUp: 0, messageSize: 1, uploadShare: 0)
    ) -> LoadReport {
        LoadReport(plan: plan, state: recorder.state.withLock { $0 }, sendingSeconds: 1, connectionsFailed: 0, cpuSeconds: 0, eventLoops: 1)
    }

    func testKeysAreReadFromTheRunsMessagesOnly() {
        let run = Array("1a2b3c4d".utf8)
        func key(_ json: String) -> MessageKey? { MessageKey(inMessage: Array(json.utf8)[...], run: run) }
        XCTAssertEqual(key(#"{"id":"x","clientMessageId":"1a2b3c4d-1234-56","text":"hi"}"#), MessageKey(number: 1234, sender: 56))
        XCTAssertEqual(key(#"{"clientMessageId":"1a2b3c4d-0-0"}"#), MessageKey(number: 0, sender: 0))
        let written = MessageKey(number: 987_654, sender: 199)
        XCTAssertEqual(key(#"{"clientMessageId":"\#(written.text(run: "1a2b3c4d"))"}"#), written)
        // Another run's message, a key of no run, malformed and absent ones.
        for json in [
            #"{"clientMessageId":"9f9f9f9f-1234-56"}"#, #"{"clientMessageId":"1a2b3c4d5-1-2"}"#, #"{"clientMessageId":"1a2b3c4d"}"#,
            #"{"clientMessageId":"1a2b3c4d-12x-5"}"#, #"{"clientMessageId":"1a2b3c4d--5"}"#, #"{"clientMessageId":"1a2b3c4d-12-"}"#,
            #"{"clientMessageId":"1a2b3c4d-12-5"#, #"{"clientMessageId":"1a2b3c4d-1234567890123456789-5"}"#,
            #"{"clientMessageId":null}"#, #"{"text":"1a2b3c4d-1-2"}"#, "",
        ] {
            XCTAssertNil(key(json), json)
        }
    }

    func testMessageNumbersAreKeptAsBits() {
        var numbers = MessageNumbers()
        let inserted = [0, 63, 64, 1000, 100_000]
        for n in inserted { numbers.insert(n) }
        for n in inserted { XCTAssertTrue(numbers.contains(n), "\(n)") }
        for n in [1, 62, 65, 999, 99_999, 100_001, 10_000_000, -1] { XCTAssertFalse(numbers.contains(n), "\(n)") }
    }
}
