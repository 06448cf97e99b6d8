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
}
