import Foundation
import HTTPTypes
import ParleyCore
import ParleyTestSupport
import XCTest

/// Groups, clearing and the chat list, through the gateway and the message worker.
final class GroupChatTests: XCTestCase {
    func testGroupIsCreatedRenamedAndChangedByItsAdminWithEveryMemberTold() async throws {
        try await GatewayRig.run { rig in
            let (a, b, c, d) = (try await rig.signup("A"), try await rig.signup("B"), try await rig.signup("C"), try await rig.signup("D"))
            await rig.listen(a, b, c, d)

            let created = try await rig.request(.post, "/api/chats/group", token: a.token, json: ["chatName": "  Team  ", "users": [b.id, c.id, b.id, a.id]])
            XCTAssertEqual(created.status, .created, String(decoding: created.body, as: UTF8.self))
            let chatId = try XCTUnwrap(created.data["id"] as? String)
            XCTAssertEqual(created.data["chatName"] as? String, "Team")
            XCTAssertEqual(created.data["isGroupChat"] as? Bool, true)
            XCTAssertEqual(memberIds(created.data), [a.id, b.id, c.id])
            XCTAssertEqual(adminId(created.data), a.id)
            for member in [a, b, c] {
                let update = await rig.chatUpdate(for: member, chatId: chatId)
                XCTAssertEqual(update?.chatName, "Team", "chat_updated for \(member.email)")
            }

            let byMember = try await rig.request(.patch, "/api/chats/\(chatId)", token: b.token, json: ["chatName": "Mine"])
            XCTAssertEqual(byMember.status, .forbidden)
            let renamed = try await rig.request(.patch, "/api/chats/\(chatId)", token: a.token, json: ["chatName": "Crew"])
            XCTAssertEqual(renamed.status, .ok)
            XCTAssertEqual(renamed.data["chatName"] as? String, "Crew")
            for member in [a, b, c] {
                let update = await rig.chatUpdate(for: member, chatId: chatId)
                XCTAssertEqual(update?.chatName, "Crew")
            }

            let addByMember = try await rig.request(.post, "/api/chats/\(chatId)/members", token: b.token, json: ["userId": d.id])
            XCTAssertEqual(addByMember.status, .forbidden)
            let added = try await rig.request(.post, "/api/chats/\(chatId)/members", token: a.token, json: ["userId": d.id])
            XCTAssertEqual(added.status, .ok)
            XCTAssertEqual(memberIds(added.data), [a.id, b.id, c.id, d.id])
            let toNewcomer = await rig.chatUpdate(for: d, chatId: chatId)
            XCTAssertEqual(toNewcomer.map { Set($0.users.map(\.id.lowercased)) }, [a.id, b.id, c.id, d.id])
            let addedAgain = try await rig.request(.post, "/api/chats/\(chatId)/members", token: a.token, json: ["userId": d.id])
            XCTAssertEqual(addedAgain.status, .ok)

            let removeByMember = try await rig.request(.delete, "/api/chats/\(chatId)/members/\(c.id)", token: b.token)
            XCTAssertEqual(removeByMember.status, .forbidden)
            _ = await rig.chatUpdate(for: c, chatId: chatId)  // D's arrival
            let removed = try await rig.request(.delete, "/api/chats/\(chatId)/members/\(c.id)", token: a.token)
            XCTAssertEqual(removed.status, .ok)
            XCTAssertEqual(memberIds(removed.data), [a.id, b.id, d.id])
            // The removed member hears of it too, and sees nothing of the chat any more.
            let toRemoved = await rig.chatUpdate(for: c, chatId: chatId)
            XCTAssertEqual(toRemoved.map { Set($0.users.map(\.id.lowercased)) }, [a.id, b.id, d.id])
            let history = try await rig.request(.get, "/api/messages/\(chatId)", token: c.token)
            XCTAssertEqual(history.status, .forbidden)
            let again = try await rig.request(.delete, "/api/chats/\(chatId)/members/\(c.id)", token: a.token)
            XCTAssertEqual(again.status, .notFound)
        }
    }

    func testAdminLeavingPassesTheGroupToTheLongestStandingMember() async throws {
        try await GatewayRig.run { rig in
            let (a, b, c) = (try await rig.signup("A"), try await rig.signup("B"), try await rig.signup("C"))
            let created = try await rig.request(.post, "/api/chats/group", token: a.token, json: ["chatName": "Club", "users": [b.id, c.id]])
            let chatId = try XCTUnwrap(created.data["id"] as? String)
            let d = try await rig.signup("D")
            _ = try await rig.request(.post, "/api/chats/\(chatId)/members", token: a.token, json: ["userId": d.id])

            let left = try await rig.request(.delete, "/api/chats/\(chatId)/members/\(a.id)", token: a.token)
            XCTAssertEqual(left.status, .ok)
            XCTAssertEqual(memberIds(left.data), [b.id, c.id, d.id])
            let heir = adminId(left.data)
            XCTAssertTrue(heir == b.id || heir == c.id, "the admin passes to a founding member, not to D")
            let seen = try await rig.request(.get, "/api/chats/\(chatId)", token: d.token)
            XCTAssertEqual(adminId(seen.data), heir)

            // The new admin has the admin's rights; the old one has none.
            let heirToken = heir == b.id ? b.token : c.token
            let renamed = try await rig.request(.patch, "/api/chats/\(chatId)", token: heirToken, json: ["chatName": "New club"])
            XCTAssertEqual(renamed.status, .ok)
            let formerAdmin = try await rig.request(.patch, "/api/chats/\(chatId)", token: a.token, json: ["chatName": "Mine"])
            XCTAssertEqual(formerAdmin.status, .forbidden)

            // A plain member leaves on its own.
            let dLeaves = try await rig.request(.delete, "/api/chats/\(chatId)/members/\(d.id)", token: d.token)
            XCTAssertEqual(dLeaves.status, .ok)
            XCTAssertFalse(memberIds(dLeaves.data).contains(d.id))
            let list = try await rig.request(.get, "/api/chats", token: d.token)
            XCTAssertEqual((list.json["data"] as? [Any])?.count, 0)
        }
    }

    func testGroupRequestsAreValidated() async throws {
        try await GatewayRig.run { rig in
            let (a, b, chatId) = try await rig.directChat()
            let c = try await rig.signup("C")
            for (body, status): ([String: Any], HTTPResponse.Status) in [
                (["chatName": "Two", "users": [b.id]], .badRequest),
                (["chatName": "Self", "users": [b.id, a.id]], .badRequest),
                (["chatName": " ", "users": [b.id, c.id]], .badRequest),
                (["chatName": String(repeating: "n", count: Limits.chatName + 1), "users": [b.id, c.id]], .badRequest),
                (["chatName": "Bad", "users": [b.id, "../x"]], .badRequest),
                (["chatName": "Bad", "users": "\(b.id),\(c.id)"], .badRequest),
                (["users": [b.id, c.id]], .badRequest),
                (["chatName": "Ghost", "users": [b.id, UUIDv7.make().lowercased]], .notFound),
            ] {
                let reply = try await rig.request(.post, "/api/chats/group", token: a.token, json: body)
                XCTAssertEqual(reply.status, status, "\(body)")
            }
            let renameDirect = try await rig.request(.patch, "/api/chats/\(chatId)", token: a.token, json: ["chatName": "Ours"])
            XCTAssertEqual(renameDirect.status, .badRequest)
            let addToDirect = try await rig.request(.post, "/api/chats/\(chatId)/members", token: a.token, json: ["userId": c.id])
            XCTAssertEqual(addToDirect.status, .badRequest)
            let list = try await rig.request(.get, "/api/chats", token: a.token)
            XCTAssertEqual((list.json["data"] as? [Any])?.count, 1, "nothing refused became a chat")
        }
    }

    func testClearHidesHistoryForTheCallerOnly() async throws {
        try await GatewayRig.run { rig in
            let (a, b, chatId) = try await rig.directChat()
            for text in ["one", "two"] {
                let sent = try await rig.request(.post, "/api/messages", token: b.token, json: ["chatId": chatId, "text": text])
                XCTAssertEqual(sent.status, .created)
            }
            let cleared = try await rig.request(.delete, "/api/messages/clear/\(chatId)", token: a.token)
            XCTAssertEqual(cleared.status, .ok, String(decoding: cleared.body, as: UTF8.self))
            XCTAssertTrue(cleared.data["latestMessage"] is NSNull)
            XCTAssertEqual(cleared.data["unreadCount"] as? Int, 0)

            let mine = try await rig.request(.get, "/api/messages/\(chatId)", token: a.token)
            XCTAssertEqual((mine.json["data"] as? [Any])?.count, 0)
            let theirs = try await rig.request(.get, "/api/messages/\(chatId)", token: b.token)
            XCTAssertEqual((theirs.json["data"] as? [[String: Any]])?.compactMap { ($0["content"] as? [String: Any])?["text"] as? String }, ["one", "two"])

            let later = try await rig.request(.post, "/api/messages", token: b.token, json: ["chatId": chatId, "text": "three"])
            let laterId = try XCTUnwrap(later.data["id"] as? String)
            let after = try await rig.request(.get, "/api/messages/\(chatId)", token: a.token)
            XCTAssertEqual((after.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [laterId])
            let list = try await rig.request(.get, "/api/chats", token: a.token)
            let chat = (list.json["data"] as? [[String: Any]])?.first
            XCTAssertEqual(chat?["unreadCount"] as? Int, 1)
            XCTAssertEqual((chat?["latestMessage"] as? [String: Any])?["id"] as? String, laterId)

            let stranger = try await rig.signup("C")
            let refused = try await rig.request(.delete, "/api/messages/clear/\(chatId)", token: stranger.token)
            XCTAssertEqual(refused.status, .forbidden)
        }
    }

    func testChatListPagesByLatestActivity() async throws {
        try await GatewayRig.run { rig in
            let me = try await rig.signup("Me")
            var chatIds: [String] = []
            for i in 0..<5 {
                let other = try await rig.signup("O\(i)")
                let chat = try await rig.request(.post, "/api/chats", token: me.token, json: ["userId": other.id])
                chatIds.append(try XCTUnwrap(chat.data["id"] as? String))
            }
            // A message moves the oldest chat to the top.
            _ = try await rig.request(.post, "/api/messages", token: me.token, json: ["chatId": chatIds[0], "text": "bump"])
            let expected = [chatIds[0], chatIds[4], chatIds[3], chatIds[2], chatIds[1]]

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let query = "limit=2" + (cursor.map { "&before=\($0)" } ?? "")
                let page = try await rig.request(.get, "/api/chats?\(query)", token: me.token)
                XCTAssertEqual(page.status, .ok)
                seen += (page.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                cursor = page.json["nextBefore"] as? String
                pages += 1
            } while cursor != nil && pages < 10
            XCTAssertEqual(seen, expected)
            XCTAssertEqual(pages, 3)

            // The last: Foundation's reading of ids on Linux takes it (as FB705507-…).
            for query in ["before=nonsense", "before=12.not-an-id", "limit=0", "limit=201", "before=12.-5705507-4504-488e-9527-96706523a758"] {
                let reply = try await rig.request(.get, "/api/chats?\(query)", token: me.token)
                XCTAssertEqual(reply.status, .badRequest, query)
            }
        }
    }
}

private func memberIds(_ chat: [String: Any]) -> Set<String> {
    Set((chat["users"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
}

private func adminId(_ chat: [String: Any]) -> String? {
    (chat["groupAdmin"] as? [String: Any])?["id"] as? String
}

extension GatewayRig {
    /// Records what the worker publishes to these users' channels.
    func listen(_ accounts: Account...) async {
        for account in accounts { await recorder.subscribe(Channels.user(UUID(uuidString: account.id)!)) }
    }

    /// Waits for the `chat_updated` of `chatId` on `account`'s channel.
    func chatUpdate(for account: Account, chatId: String) async -> Chat? {
        let event = await recorder.next(UserEvent.self, on: Channels.user(UUID(uuidString: account.id)!)) { event in
            if case .chatUpdated(let chat) = event { return chat.id.lowercased == chatId }
            return false
        }
        guard case .chatUpdated(let chat)? = event else { return nil }
        return chat
    }
}
