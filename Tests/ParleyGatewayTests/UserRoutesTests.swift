import Foundation
import ParleyCore
import ParleyTestSupport
import XCTest

final class UserRoutesTests: XCTestCase {
    func testProfileUpdateChangesOnlyWhatIsSentAndHidesLastSeenFromOthers() async throws {
        try await GatewayRig.run { rig in
            let a = try await rig.signup("Ada")
            let b = try await rig.signup("Bea")
            let renamed = try await rig.request(.patch, "/api/users/me", token: a.token, json: ["firstName": " Augusta ", "image": "https://img/a.png"])
            XCTAssertEqual(renamed.status, .ok)
            XCTAssertEqual(renamed.data["firstName"] as? String, "Augusta")
            XCTAssertEqual(renamed.data["lastName"] as? String, "User", "absent fields stay")
            XCTAssertEqual(renamed.data["image"] as? String, "https://img/a.png")

            let cleared = try await rig.request(.patch, "/api/users/me", token: a.token, json: ["image": NSNull()])
            XCTAssertTrue(cleared.data["image"] is NSNull)
            XCTAssertEqual(cleared.data["firstName"] as? String, "Augusta")

            // A last-seen stamp to hide.
            _ = try await rig.database.client.query("UPDATE users SET last_seen = now() WHERE id = \(UUID(uuidString: a.id)!)", logger: TestServices.logger("t"))
            let visible = try await rig.request(.get, "/api/users/\(a.id)", token: b.token)
            XCTAssertFalse(visible.data["lastSeen"] is NSNull)
            _ = try await rig.request(.patch, "/api/users/me", token: a.token, json: ["showLastSeen": false])
            let hidden = try await rig.request(.get, "/api/users/\(a.id)", token: b.token)
            XCTAssertTrue(hidden.data["lastSeen"] is NSNull, "hidden from others")
            let own = try await rig.request(.get, "/api/users/me", token: a.token)
            XCTAssertFalse(own.data["lastSeen"] is NSNull, "but not from the user")

            for bad: [String: Any] in [["firstName": ""], ["lastName": String(repeating: "x", count: 101)], ["showLastSeen": "no"], ["image": 3]] {
                let reply = try await rig.request(.patch, "/api/users/me", token: a.token, json: bad)
                XCTAssertEqual(reply.status, .badRequest, "\(bad)")
            }
            let unknown = try await rig.request(.get, "/api/users/\(UUIDv7.make().lowercased)", token: a.token)
            XCTAssertEqual(unknown.status, .notFound)
            let malformed = try await rig.request(.get, "/api/users/42", token: a.token)
            XCTAssertEqual(malformed.status, .badRequest)
            let anonymous = try await rig.request(.get, "/api/users/\(a.id)")
            XCTAssertEqual(anonymous.status, .unauthorized)
        }
    }

    func testSearchMatchesNameOrEmailCaseInsensitivelyNeverTheCallerInPages() async throws {
        try await GatewayRig.run { rig in
            let tag = "zq\(UUID().uuidString.prefix(6).lowercased())"
            let me = try await rig.signup(tag.capitalized)
            var others: [String] = []
            for i in 0..<5 { others.append(try await rig.signup("\(tag.uppercased())x\(i)").id) }
            _ = try await rig.signup("Unrelated")

            var found: [String] = []
            var after: String?
            repeat {
                let reply = try await rig.request(.get, "/api/users?search=\(tag)&limit=2" + (after.map { "&after=\($0)" } ?? ""), token: me.token)
                XCTAssertEqual(reply.status, .ok)
                let page = (reply.json["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                XCTAssertLessThanOrEqual(page.count, 2)
                found += page
                after = reply.json["nextAfter"] as? String
            } while after != nil
            XCTAssertEqual(found, others, "every match once, in id order, the caller left out")

            // The caller's address (unique per run) matches only the caller, who is never listed.
            let ownPart = try XCTUnwrap(me.email.split(separator: "@").first).uppercased()
            let byOwnEmail = try await rig.request(.get, "/api/users?search=\(ownPart)", token: me.token)
            XCTAssertEqual((byOwnEmail.json["data"] as? [Any])?.count, 0)
            let byEmail = try await rig.request(.get, "/api/users?search=\(ownPart)", token: try await rig.signup("Other").token)
            XCTAssertEqual(((byEmail.json["data"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }, [me.id], "email matches, any case")
            let wildcard = try await rig.request(.get, "/api/users?search=%25", token: me.token)
            XCTAssertEqual(wildcard.status, .ok)
            XCTAssertFalse(((wildcard.json["data"] as? [[String: Any]]) ?? []).contains { ($0["id"] as? String) == others[0] }, "% is matched literally")
            let badLimit = try await rig.request(.get, "/api/users?limit=1000", token: me.token)
            XCTAssertEqual(badLimit.status, .badRequest)
        }
    }

    func testChatIsShownToMembersOnly() async throws {
        try await GatewayRig.run { rig in
            let (a, b, chatId) = try await rig.directChat()
            let c = try await rig.signup("C")
            _ = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": "unread by B"])

            let asB = try await rig.request(.get, "/api/chats/\(chatId)", token: b.token)
            XCTAssertEqual(asB.status, .ok)
            XCTAssertEqual(asB.data["unreadCount"] as? Int, 1)
            XCTAssertEqual(((asB.data["latestMessage"] as? [String: Any])?["content"] as? [String: Any])?["text"] as? String, "unread by B")
            let asA = try await rig.request(.get, "/api/chats/\(chatId)", token: a.token)
            XCTAssertEqual(asA.data["unreadCount"] as? Int, 0, "one's own messages are not unread")
            let asC = try await rig.request(.get, "/api/chats/\(chatId)", token: c.token)
            XCTAssertEqual(asC.status, .forbidden)
            let missing = try await rig.request(.get, "/api/chats/\(UUIDv7.make().lowercased)", token: a.token)
            XCTAssertEqual(missing.status, .notFound)
        }
    }

    func testChatListPutsLatestActivityFirstWithUnreadCounts() async throws {
        try await GatewayRig.run { rig in
            let me = try await rig.signup("Me")
            let b = try await rig.signup("B")
            let c = try await rig.signup("C")
            let empty = try await rig.request(.get, "/api/chats", token: me.token)
            XCTAssertEqual((empty.json["data"] as? [Any])?.count, 0)

            let chatB = try await rig.request(.post, "/api/chats", token: me.token, json: ["userId": b.id])
            let chatC = try await rig.request(.post, "/api/chats", token: me.token, json: ["userId": c.id])
            let withB = try XCTUnwrap(chatB.data["id"] as? String)
            let withC = try XCTUnwrap(chatC.data["id"] as? String)
            _ = try await rig.request(.post, "/api/messages", token: b.token, json: ["chatId": withB, "text": "one"])
            _ = try await rig.request(.post, "/api/messages", token: b.token, json: ["chatId": withB, "text": "two"])
            var list = try await rig.request(.get, "/api/chats", token: me.token)
            var chats = list.json["data"] as? [[String: Any]] ?? []
            XCTAssertEqual(chats.compactMap { $0["id"] as? String }, [withB, withC], "the chat with news first")
            XCTAssertEqual(chats.first?["unreadCount"] as? Int, 2)
            XCTAssertEqual(((chats.first?["latestMessage"] as? [String: Any])?["content"] as? [String: Any])?["text"] as? String, "two")
            XCTAssertTrue(chats.last?["latestMessage"] is NSNull)
            XCTAssertEqual((chats.last?["users"] as? [Any])?.count, 2)

            _ = try await rig.request(.post, "/api/messages", token: me.token, json: ["chatId": withC, "text": "hi C"])
            list = try await rig.request(.get, "/api/chats", token: me.token)
            chats = list.json["data"] as? [[String: Any]] ?? []
            XCTAssertEqual(chats.compactMap { $0["id"] as? String }, [withC, withB])
            XCTAssertEqual(chats.first?["unreadCount"] as? Int, 0, "one's own message is not unread")

            let theirs = try await rig.request(.get, "/api/chats", token: c.token)
            XCTAssertEqual((theirs.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String }, [withC], "only one's own chats")
        }
    }
}
