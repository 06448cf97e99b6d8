import XCTest

@testable import SocketIO

final class HeartbeatTests: XCTestCase {
    let start = ContinuousClock.now

    func at(_ milliseconds: Int) -> ContinuousClock.Instant { start + .milliseconds(milliseconds) }

    func testPingsAnIntervalAfterOpenAndAfterEachPong() {
        var heartbeat = Heartbeat(now: start, interval: .milliseconds(100), timeout: .milliseconds(50), connectTimeout: nil)
        XCTAssertEqual(heartbeat.due(at: at(99)) { true }, .none)
        XCTAssertEqual(heartbeat.due(at: at(100)) { true }, .ping)
        // One ping at a time: nothing more is due while it waits for its pong.
        XCTAssertEqual(heartbeat.due(at: at(120)) { true }, .none)
        heartbeat.pong(at: at(130))
        XCTAssertEqual(heartbeat.due(at: at(229)) { true }, .none)
        XCTAssertEqual(heartbeat.due(at: at(230)) { true }, .ping)
    }

    func testAnUnansweredPingClosesAfterTheTimeout() {
        var heartbeat = Heartbeat(now: start, interval: .milliseconds(100), timeout: .milliseconds(50), connectTimeout: nil)
        XCTAssertEqual(heartbeat.due(at: at(100)) { true }, .ping)
        XCTAssertEqual(heartbeat.due(at: at(149)) { true }, .none)
        XCTAssertEqual(heartbeat.due(at: at(150)) { true }, .close("ping timeout", cutOff: true))
    }

    func testAPongWithoutAPingChangesNothing() {
        var heartbeat = Heartbeat(now: start, interval: .milliseconds(100), timeout: .milliseconds(50), connectTimeout: nil)
        heartbeat.pong(at: at(90))
        XCTAssertEqual(heartbeat.due(at: at(100)) { true }, .ping)
    }

    func testTheConnectDeadlineClosesOnlyASessionWithoutSockets() {
        var joined = Heartbeat(now: start, interval: .seconds(25), timeout: .seconds(20), connectTimeout: .milliseconds(300))
        XCTAssertEqual(joined.due(at: at(300)) { true }, .none)
        // Checked once: leaving the namespace later does not bring the deadline back.
        XCTAssertEqual(joined.due(at: at(400)) { false }, .none)

        var idle = Heartbeat(now: start, interval: .seconds(25), timeout: .seconds(20), connectTimeout: .milliseconds(300))
        var asked = 0
        XCTAssertEqual(idle.due(at: at(299)) { asked += 1; return false }, .none)
        XCTAssertEqual(asked, 0)
        XCTAssertEqual(idle.due(at: at(300)) { asked += 1; return false }, .close("connect timeout", cutOff: false))
        XCTAssertEqual(asked, 1)
    }

    func testTheSweepIsATenthOfTheShortestTimeBetweenFiveMillisecondsAndASecond() {
        var configuration = SocketIOConfiguration()
        XCTAssertEqual(Heartbeat.sweepInterval(configuration), .seconds(1))
        configuration.pingInterval = .milliseconds(300)
        configuration.pingTimeout = .milliseconds(200)
        XCTAssertEqual(Heartbeat.sweepInterval(configuration), .milliseconds(20))
        configuration.connectTimeout = .milliseconds(10)
        XCTAssertEqual(Heartbeat.sweepInterval(configuration), .milliseconds(5))
    }
}
