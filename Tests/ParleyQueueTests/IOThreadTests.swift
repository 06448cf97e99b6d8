import Foundation
@testable import ParleyIOThread
import Synchronization
import XCTest

/// The waits the queue's connection threads are built on.
final class IOThreadTests: XCTestCase {
    func testPollTimeoutsRoundUp() {
        XCTAssertEqual(Duration.milliseconds(-3).pollMilliseconds, 0)
        XCTAssertEqual(Duration.zero.pollMilliseconds, 0)
        XCTAssertEqual(Duration.microseconds(1).pollMilliseconds, 1)
        XCTAssertEqual(Duration.milliseconds(10).pollMilliseconds, 10)
        XCTAssertEqual(Duration.microseconds(10_001).pollMilliseconds, 11)
        XCTAssertEqual(Duration.seconds(2).pollMilliseconds, 2000)
    }

    func testAWaitLastsItsTimeoutUnlessWokenAndSeesItsSocket() throws {
        let thread = IOThread(name: "test")
        let clock = ContinuousClock()

        // A deadline 1.2 ms away is not cut to 1 ms.
        let waited = clock.measure { XCTAssertFalse(thread.wait(timeout: .microseconds(1200))) }
        XCTAssertGreaterThanOrEqual(waited, .microseconds(1200))

        // A wake-up given before the wait ends it at once, and is used up by it.
        thread.wake()
        let woken = clock.measure { XCTAssertFalse(thread.wait(timeout: .seconds(5))) }
        XCTAssertLessThan(woken, .seconds(1))
        XCTAssertGreaterThanOrEqual(clock.measure { thread.wait(timeout: .milliseconds(20)) }, .milliseconds(20))

        var fds: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&fds), 0)
        defer { fds.forEach { close($0) } }
        XCTAssertFalse(thread.wait(readable: fds[0], timeout: .milliseconds(5)))
        var byte: UInt8 = 1
        XCTAssertEqual(write(fds[1], &byte, 1), 1)
        XCTAssertTrue(thread.wait(readable: fds[0], timeout: .seconds(5)))
    }

    /// Profiles and `top -H` show which connection's thread is which (they showed the name of
    /// the thread that started it, a dispatch worker's).
    func testTheThreadCarriesItsNameForTheSystem() {
        let thread = IOThread(name: "redis-subscriber")
        let seen = Mutex<String?>(nil)
        let done = expectation(description: "the thread ran")
        thread.start {
            let name = try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)
            seen.withLock { $0 = name?.trimmingCharacters(in: .newlines) }
            done.fulfill()
        }
        wait(for: [done], timeout: 5)
        XCTAssertEqual(seen.withLock { $0 }, "redis-subscribe")
    }

    func testItemsPutBeforeADeferredWakeUpShareItAndNoneIsLost() {
        let thread = IOThread(name: "test")
        let inbox = Inbox<Int>()
        let owed = Mutex<[@Sendable () -> Void]>([])
        let later = WakeUp.deferred { wake in owed.withLock { $0.append(wake) } }
        let clock = ContinuousClock()

        for item in 0..<3 { inbox.put(item, waking: thread, when: later) }
        XCTAssertEqual(owed.withLock { $0.count }, 1, "only the item that found the inbox empty owes a wake-up")
        XCTAssertGreaterThanOrEqual(clock.measure { thread.wait(timeout: .milliseconds(20)) }, .milliseconds(20), "woken before its time")

        for wake in owed.withLock({ $0 }) { wake() }
        XCTAssertLessThan(clock.measure { thread.wait(timeout: .seconds(5)) }, .seconds(1), "the deferred wake-up never came")
        XCTAssertEqual(inbox.takeAll(), [0, 1, 2])

        inbox.put(3, waking: thread, when: later)
        XCTAssertEqual(owed.withLock { $0.count }, 2, "an item put after the inbox was taken owes a wake-up of its own")
        inbox.put(4, waking: thread)
        XCTAssertEqual(inbox.takeAll(), [3, 4])
    }
}
