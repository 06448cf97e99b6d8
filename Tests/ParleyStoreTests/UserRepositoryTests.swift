import Foundation
import ParleyCore
import ParleyStore
import ParleyTestSupport
import XCTest

final class UserRepositoryTests: XCTestCase {
    func testCreateThenFindByEmailIgnoringCase() async throws {
        try await TestServices.withDatabase { database in
            let email = TestServices.uniqueEmail()
            let user = try await database.users.create(.init(
                id: UUIDv7.make(), firstName: "Ada", lastName: "Lovelace", email: email, passwordHash: "h", image: nil))
            let found = try await database.users.credentials(email: email.uppercased())
            XCTAssertEqual(found?.user.id, user.id)
            XCTAssertEqual(found?.passwordHash, "h")
            let byId = try await database.users.find(id: user.id, viewer: nil)
            XCTAssertEqual(byId?.email, email)
        }
    }

    func testAValuePostgreSQLCannotStoreIsTheRequestsFaultNotAnOutage() async throws {
        try await TestServices.withDatabase { database in
            do {
                _ = try await database.users.create(.init(
                    id: UUIDv7.make(), firstName: "A\u{0}B", lastName: "C", email: TestServices.uniqueEmail(), passwordHash: "h", image: nil))
                XCTFail("a NUL was stored")
            } catch let error as ParleyError {
                XCTAssertEqual(error.code, .badRequest)
                XCTAssertTrue(error.blamesTheRequest)
            }
            let viewer = try await TestServices.makeUser(database)
            do {
                _ = try await database.users.search("a\u{0}", viewer: viewer.id, after: nil, limit: 10)
                XCTFail("a NUL was searched for")
            } catch let error as ParleyError {
                XCTAssertEqual(error.code, .badRequest)
            }
            // The pool is fine afterwards.
            let found = try await database.users.find(id: viewer.id, viewer: nil)
            XCTAssertEqual(found?.id, viewer.id)
        }
    }

    func testTakenEmailIsAConflictWhateverItsCase() async throws {
        try await TestServices.withDatabase { database in
            let email = TestServices.uniqueEmail()
            _ = try await database.users.create(.init(id: UUIDv7.make(), firstName: "A", lastName: "B", email: email, passwordHash: "h", image: nil))
            do {
                _ = try await database.users.create(.init(id: UUIDv7.make(), firstName: "C", lastName: "D", email: email.uppercased(), passwordHash: "h", image: nil))
                XCTFail("a second account with the same email was stored")
            } catch let error as ParleyError {
                XCTAssertEqual(error.code, .emailTaken)
            }
        }
    }

    /// A time reaches the presence worker as the gateway wrote it, to the millisecond;
    /// PostgreSQL keeps it in microseconds, and what reads it back (`GET /api/users/status`, the
    /// offline event) must write the same text.
    func testATimeStoredToTheMillisecondIsWrittenBackAsItCame() async throws {
        try await TestServices.withDatabase { database in
            let user = try await database.users.create(.init(
                id: UUIDv7.make(), firstName: "Ada", lastName: "Lovelace", email: TestServices.uniqueEmail(), passwordHash: "h", image: nil))
            let start = (Date().timeIntervalSince1970 * 1000).rounded(.down)
            for step in 0..<200 {
                // Written from the middle of the millisecond, so that the text is that millisecond.
                let text = String(decoding: try JSON.encode([Date(timeIntervalSince1970: (start + Double(step * 7) + 0.5) / 1000)]), as: UTF8.self)
                let at = try JSON.decode([Date].self, from: Data(text.utf8))[0]
                let stored = try await database.users.recordLastSeen(userId: user.id, at: at)
                XCTAssertEqual(String(decoding: try JSON.encode([try XCTUnwrap(stored)]), as: UTF8.self), text)
                let read = try await database.users.lastSeen(of: [user.id], viewer: user.id)
                XCTAssertEqual(String(decoding: try JSON.encode([try XCTUnwrap(read.first?.1)]), as: UTF8.self), text)
            }
        }
    }
}
