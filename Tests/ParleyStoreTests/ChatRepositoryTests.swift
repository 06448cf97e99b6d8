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

    func testRedeliveredGroupCommandsChangeNothingTwice() async throws {
        try await TestServices.withDatabase { database in
            let admin = try await TestServices.makeUser(database, name: "Admin")
            let b = try await TestServices.makeUser(database, name: "B")
            let c = try await TestServices.makeUser(database, name: "C")
            let create = ChatCreateGroup(chatId: UUIDv7.make(), adminId: admin.id, chatName: "G", memberIds: [b.id, c.id])
            let first = try await database.chats.createGroup(create)
            let second = try await database.chats.createGroup(create)
            XCTAssertEqual(first, .changed(leaving: []))
            XCTAssertEqual(second, .unchanged)

            let rename = ChatRename(chatId: create.chatId, actorId: admin.id, chatName: "H")
            let renamed = try await database.chats.rename(rename)
            let renamedAgain = try await database.chats.rename(rename)
            XCTAssertEqual(renamed, .changed(leaving: []))
            XCTAssertEqual(renamedAgain, .unchanged)

            // A member leaving twice (the second a redelivery) is one change; it has no rights
            // over the others.
            let leave = ChatMemberChange(chatId: create.chatId, actorId: b.id, userId: b.id)
            let left = try await database.chats.removeMember(leave)
            let leftAgain = try await database.chats.removeMember(leave)
            XCTAssertEqual(left, .changed(leaving: [b.id]))
            XCTAssertEqual(leftAgain, .unchanged)
            let byOutsider = try await database.chats.removeMember(ChatMemberChange(chatId: create.chatId, actorId: b.id, userId: c.id))
            XCTAssertEqual(byOutsider, .forbidden)
            let members = try await database.chats.memberIds(chatId: create.chatId)
            XCTAssertEqual(Set(members), [admin.id, c.id])

            // The admin leaving hands the group on; the last one out leaves it without admin.
            _ = try await database.chats.removeMember(ChatMemberChange(chatId: create.chatId, actorId: admin.id, userId: admin.id))
            let afterAdmin = try await database.chats.chat(id: create.chatId, viewer: c.id)
            XCTAssertEqual(afterAdmin?.groupAdmin?.id, c.id)
            _ = try await database.chats.removeMember(ChatMemberChange(chatId: create.chatId, actorId: c.id, userId: c.id))
            let empty = try await database.chats.chat(id: create.chatId, viewer: c.id)
            XCTAssertEqual(empty?.users.count, 0)
            XCTAssertNil(empty?.groupAdmin)
        }
    }

    func testConcurrentAddsNeverOverfillAGroup() async throws {
        try await TestServices.withDatabase { database in
            let admin = try await TestServices.makeUser(database, name: "Admin")
            var users: [UUID] = []
            for i in 0..<Limits.groupMembers { users.append(try await TestServices.makeUser(database, name: "U\(i)").id) }
            let create = ChatCreateGroup(chatId: UUIDv7.make(), adminId: admin.id, chatName: "Big", memberIds: Array(users.prefix(Limits.groupMembers - 4)))
            _ = try await database.chats.createGroup(create)
            let outcomes = try await withThrowingTaskGroup(of: ChatRepository.GroupOutcome.self) { group in
                for user in users.suffix(4) {
                    group.addTask { try await database.chats.addMember(ChatMemberChange(chatId: create.chatId, actorId: admin.id, userId: user)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(outcomes.filter { $0 == .changed(leaving: []) }.count, 3)
            XCTAssertEqual(outcomes.filter { $0 == .full }.count, 1)
            let members = try await database.chats.memberIds(chatId: create.chatId)
            XCTAssertEqual(members.count, Limits.groupMembers)
        }
    }
}
