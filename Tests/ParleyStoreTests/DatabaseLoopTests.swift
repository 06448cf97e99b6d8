import Foundation
import ParleyCore
@testable import ParleyStore
import ParleyTestSupport
import XCTest

final class DatabaseLoopTests: XCTestCase {
    /// A database with an event loop of its own runs its store calls there, and the work of a
    /// caller that prefers that loop resumes there after each call.
    func testStoreCallsOfADatabaseWithALoopOfItsOwnRunOnIt() async throws {
        try await TestServices.withDatabase(ownLoop: true) { database in
            let loop = try XCTUnwrap(database.loop)
            let ranOnLoop = try await database.run { loop.inEventLoop }
            XCTAssertTrue(ranOnLoop, "the store call ran elsewhere")
            let user = try await TestServices.makeUser(database)
            try await withTaskExecutorPreference(database.executor) {
                let found = try await database.users.find(id: user.id, viewer: nil)
                XCTAssertEqual(found?.id, user.id)
                XCTAssertTrue(loop.inEventLoop, "the caller resumed elsewhere")
            }
        }
    }

    func testADatabaseWithoutALoopOfItsOwnRunsItsCallsOnTheSharedPool() async throws {
        try await TestServices.withDatabase { database in
            XCTAssertNil(database.loop)
            XCTAssertNil(database.executor)
            let answer = try await database.run { 42 }
            XCTAssertEqual(answer, 42)
        }
    }
}
