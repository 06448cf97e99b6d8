import Foundation
import ParleyCore
import ParleyStore
import ParleyTestSupport
import Synchronization
import XCTest

/// PostgreSQL that stops answering without closing its connections (here: its processes
/// stopped with SIGSTOP) fails store calls at their timeout instead of holding them.
final class StalledServerTests: XCTestCase {
    func testStalledServerFailsOperationsAtTheirTimeoutAndTheyWorkOnceItAnswers() async throws {
        try await stalledServerFailsOperationsAtTheirTimeout(ownLoop: false)
    }

    /// The same for the message worker's database, its connections on a loop of their own.
    func testStalledServerFailsOperationsOfADatabaseWithALoopOfItsOwn() async throws {
        try await stalledServerFailsOperationsAtTheirTimeout(ownLoop: true)
    }

    private func stalledServerFailsOperationsAtTheirTimeout(ownLoop: Bool) async throws {
        try await TestServices.withDatabase(ownLoop: ownLoop, operationTimeout: .seconds(1)) { database in
            // The pool holds an open connection, so the calls below are sent and then wait.
            let user = try await TestServices.makeUser(database)
            let port = try XCTUnwrap(TestServices.config.databaseURL.port)
            let server = try StoppedServer(listeningOn: port, name: "PostgreSQL", children: true)
            // Whatever happens below, the server runs again for the tests after this one.
            defer { server.resume() }

            let ended = Mutex<(Duration, (any Error)?)?>(nil)
            let start = ContinuousClock.now
            let call = Task {
                do {
                    _ = try await database.users.find(id: user.id, viewer: nil)
                    ended.withLock { $0 = (ContinuousClock.now - start, nil) }
                } catch {
                    ended.withLock { $0 = (ContinuousClock.now - start, error) }
                }
            }
            // Far past the timeout: a call that waits for the stalled query is still waiting.
            for _ in 0..<40 where ended.withLock({ $0 == nil }) { try await Task.sleep(for: .milliseconds(100)) }
            let whileStopped = ended.withLock { $0 }
            let pinged = await database.ping(timeout: .milliseconds(500))
            server.resume()
            await call.value

            let (waited, error) = try XCTUnwrap(whileStopped, "the call was still waiting 4 s after its 1 s timeout")
            XCTAssertTrue(error is StoreError, "expected a StoreError (503), got \(String(describing: error))")
            XCTAssertLessThan(waited, .seconds(2))
            XCTAssertFalse(pinged, "ping answered true while the server was stopped")
            try await eventually(timeout: .seconds(20), "the store did not answer again once the server ran") {
                (try? await database.users.find(id: user.id, viewer: nil))?.id == user.id
            }
        }
    }
}
