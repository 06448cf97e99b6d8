import ParleyCore
import ParleyStore
import ParleyTestSupport
import XCTest

final class ChatRepositoryTests: XCTestCase {
    func testConcurrentCreatesOfOneDirectChatAgreeOnOneChat() async throws {
        try await TestServices.withDatabase { database in
            let a = try await TestServices.makeUser(database, name: "A")
            let b = try await TestServices.makeUser(database, name: "B")
            let results = try await withThrowingTaskGroup(of: (id: UUID, created: Bool).self) { group in
                for i in 0..<12 {
                    // Half ask as a→b, half as b→a, each with its own proposed id.
                    group.addTask {
                        i.isMultiple(of: 2)
                            ? try await database.chats.createDirect(chatId: UUIDv7.make(), between: a.id, and: b.id)
                            : try await database.chats.createDirect(chatId: UUIDv7.make(), between: b.id, and: a.id)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(Set(results.map(\.id)).count, 1)
            XCTAssertEqual(results.filter(\.created).count, 1)
            let id = results[0].id
            let members = try await database.chats.memberIds(chatId: id)
            let found = try await database.chats.findDirect(between: b.id, and: a.id)
            XCTAssertEqual(Set(members), [a.id, b.id])
            XCTAssertEqual(found, id)
        }
    }

    func testMembershipTellsMissingChatFromStranger() async throws {
        try await TestServices.withDatabase { database in
            let a = try await TestServices.makeUser(database)
            let b = try await TestServices.makeUser(database)
            let stranger = try await TestServices.makeUser(database)
            let (id, _) = try await database.chats.createDirect(chatId: UUIDv7.make(), between: a.id, and: b.id)
            let asA = try await database.chats.membership(chatId: id, userId: a.id)
            let asStranger = try await database.chats.membership(chatId: id, userId: stranger.id)
            let missing = try await database.chats.membership(chatId: UUIDv7.make(), userId: a.id)
            XCTAssertEqual(asA, .member)
            XCTAssertEqual(asStranger, .notMember)
            XCTAssertEqual(missing, .noSuchChat)

            let chat = try await database.chats.chat(id: id, viewer: a.id)
            XCTAssertEqual(chat?.isGroupChat, false)
            XCTAssertEqual(Set(chat?.users.map(\.id) ?? []), [a.id, b.id])
            XCTAssertNil(chat?.groupAdmin)
        }
    }
}
