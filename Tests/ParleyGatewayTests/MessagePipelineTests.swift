import Foundation
import ParleyCore
import ParleyPubSub
import ParleyTestSupport
import PostgresNIO
import HTTPTypes
import XCTest

/// The walking skeleton end to end: HTTP → RabbitMQ → message worker → PostgreSQL → Redis.
final class MessagePipelineTests: XCTestCase {
    func testDirectChatIsFoundOrCreatedOnce() async throws {
        try await GatewayRig.run { rig in
            let a = try await rig.signup("A")
            let b = try await rig.signup("B")
            let created = try await rig.request(.post, "/api/chats", token: a.token, json: ["userId": b.id])
            XCTAssertEqual(created.status, .created)
            let chatId = try XCTUnwrap(created.data["id"] as? String)
            XCTAssertEqual(created.data["isGroupChat"] as? Bool, false)
            XCTAssertEqual(Set((created.data["users"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }), [a.id, b.id])

            let again = try await rig.request(.post, "/api/chats", token: a.token, json: ["userId": b.id])
            XCTAssertEqual(again.status, .ok)
            XCTAssertEqual(again.data["id"] as? String, chatId)
            let fromB = try await rig.request(.post, "/api/chats", token: b.token, json: ["userId": a.id])
            XCTAssertEqual(fromB.data["id"] as? String, chatId)

            let selfChat = try await rig.request(.post, "/api/chats", token: a.token, json: ["userId": a.id])
            XCTAssertEqual(selfChat.status, .badRequest)
            let nobody = try await rig.request(.post, "/api/chats", token: a.token, json: ["userId": UUIDv7.make().lowercased])
            XCTAssertEqual(nobody.status, .notFound)
            let malformed = try await rig.request(.post, "/api/chats", token: a.token, json: ["userId": "../etc"])
            XCTAssertEqual(malformed.status, .badRequest)
        }
    }

    func testMessageTravelsThroughThePipelineToMembersAndHistory() async throws {
        try await GatewayRig.run { rig in
            let (a, b, chatId) = try await rig.directChat()
            let bId = try XCTUnwrap(UUID(uuidString: b.id))
            await rig.recorder.subscribe(Channels.user(bId))
            let sent = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": "hello, B", "clientMessageId": "first"])
            XCTAssertEqual(sent.status, .created, String(decoding: sent.body, as: UTF8.self))
            let messageId = try XCTUnwrap(sent.data["id"] as? String)
            XCTAssertEqual((sent.data["content"] as? [String: Any])?["text"] as? String, "hello, B")
            XCTAssertEqual((sent.data["sender"] as? [String: Any])?["id"] as? String, a.id)
            XCTAssertEqual(sent.data["chatId"] as? String, chatId)
            XCTAssertEqual(sent.data["messageType"] as? String, "text")
            XCTAssertEqual(sent.data["clientMessageId"] as? String, "first")

            // B's sockets would get it: the event is on B's channel.
            let delivered = await rig.recorder.next(UserEvent.self, on: Channels.user(bId))
            guard case .messageReceived(let message)? = delivered else { return XCTFail("no message_received for B") }
            XCTAssertEqual(message.id.lowercased, messageId)

            let history = try await rig.request(.get, "/api/messages/\(chatId)", token: b.token)
            XCTAssertEqual(history.status, .ok)
            let page = history.json["data"] as? [[String: Any]] ?? []
            XCTAssertEqual(page.map { $0["id"] as? String }, [messageId])
            // The answer passed through the gateway's reading of the worker's reply: the same time.
            XCTAssertEqual(page.first?["createdAt"] as? String, try XCTUnwrap(sent.data["createdAt"] as? String))
            XCTAssertEqual(history.json["nextAfter"] as? String, messageId)
            XCTAssertTrue(history.json["nextBefore"] is NSNull)
        }
    }

    func testRetriedClientMessageIdYieldsOneMessage() async throws {
        try await GatewayRig.run { rig in
            let (a, _, chatId) = try await rig.directChat()
            let body: [String: String] = ["chatId": chatId, "text": "only once", "clientMessageId": "retry-\(UUID())"]
            let replies = try await withThrowingTaskGroup(of: GatewayRig.Reply.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await rig.request(.post, "/api/messages", token: a.token, json: body) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            XCTAssertEqual(Set(replies.map(\.status)), [.created])
            XCTAssertEqual(Set(replies.compactMap { $0.data["id"] as? String }).count, 1)
            XCTAssertEqual(replies.filter { $0.headers[.init("Idempotent-Replayed")!] == "true" }.count, 7)
            let history = try await rig.request(.get, "/api/messages/\(chatId)", token: a.token)
            XCTAssertEqual((history.json["data"] as? [Any])?.count, 1)
        }
    }

    func testOnlyMembersMaySendOrRead() async throws {
        try await GatewayRig.run { rig in
            let (a, _, chatId) = try await rig.directChat()
            let stranger = try await rig.signup("C")

            let send = try await rig.request(.post, "/api/messages", token: stranger.token, json: ["chatId": chatId, "text": "hi"])
            XCTAssertEqual(send.status, .forbidden)
            XCTAssertEqual(send.code, "forbidden")
            let read = try await rig.request(.get, "/api/messages/\(chatId)", token: stranger.token)
            XCTAssertEqual(read.status, .forbidden)
            let unknown = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": UUIDv7.make().lowercased, "text": "hi"])
            XCTAssertEqual(unknown.status, .notFound)
            let malformed = try await rig.request(.get, "/api/messages/not-an-id", token: a.token)
            XCTAssertEqual(malformed.status, .badRequest)
            let anonymous = try await rig.request(.get, "/api/messages/\(chatId)")
            XCTAssertEqual(anonymous.status, .unauthorized)
        }
    }

    func testInvalidMessagesNeverReachTheQueue() async throws {
        try await GatewayRig.run { rig in
            let (a, _, chatId) = try await rig.directChat()
            for body: [String: Any] in [
                ["chatId": chatId, "text": "   "],
                // Unicode spaces and line ends are blank too.
                ["chatId": chatId, "text": " \n\t\u{00A0}\u{3000}\u{2028}\u{0085}"],
                ["chatId": chatId, "text": String(repeating: "x", count: Limits.messageText + 1)],
                ["chatId": chatId, "text": "ok", "clientMessageId": String(repeating: "k", count: 200)],
                ["chatId": chatId, "text": 42],
                ["text": "no chat"],
            ] {
                let reply = try await rig.request(.post, "/api/messages", token: a.token, json: body)
                XCTAssertEqual(reply.status, .badRequest, "\(body.keys.sorted())")
            }
            for query in ["limit=0", "limit=201", "limit=ten", "before=x", "before=\(UUIDv7.make().lowercased)&after=\(UUIDv7.make().lowercased)"] {
                let reply = try await rig.request(.get, "/api/messages/\(chatId)?\(query)", token: a.token)
                XCTAssertEqual(reply.status, .badRequest, query)
            }
            let history = try await rig.request(.get, "/api/messages/\(chatId)", token: a.token)
            XCTAssertEqual((history.json["data"] as? [Any])?.count, 0)
            // A combining mark after a space is not blank.
            let accent = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": " \u{301}"])
            XCTAssertEqual(accent.status, .created)
        }
    }

    func testEditAndDeleteAreAuthorisedAndAnnounced() async throws {
        try await GatewayRig.run { rig in
            let (a, b, chatId) = try await rig.directChat()
            let stranger = try await rig.signup("C")
            let sent = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": "first draft"])
            let messageId = try XCTUnwrap(sent.data["id"] as? String)
            let bChannel = Channels.user(try XCTUnwrap(UUID(uuidString: b.id)))
            await rig.recorder.subscribe(bChannel)

            for (token, status) in [(b.token, HTTPResponse.Status.forbidden), (stranger.token, .forbidden)] {
                let reply = try await rig.request(.put, "/api/messages/\(messageId)", token: token, json: ["text": "hijacked"])
                XCTAssertEqual(reply.status, status)
            }
            let blank = try await rig.request(.put, "/api/messages/\(messageId)", token: a.token, json: ["text": " "])
            XCTAssertEqual(blank.status, .badRequest)
            let unknown = try await rig.request(.put, "/api/messages/\(UUIDv7.make().lowercased)", token: a.token, json: ["text": "x"])
            XCTAssertEqual(unknown.status, .notFound)

            let edited = try await rig.request(.put, "/api/messages/\(messageId)", token: a.token, json: ["text": "final"])
            XCTAssertEqual(edited.status, .ok)
            XCTAssertEqual(edited.data["isEdited"] as? Bool, true)
            XCTAssertFalse(edited.data["editedAt"] is NSNull)
            XCTAssertEqual((edited.data["content"] as? [String: Any])?["text"] as? String, "final")
            let updated = await rig.recorder.next(UserEvent.self, on: bChannel)
            guard case .messageUpdated(let announced)? = updated else { return XCTFail("no message_updated for B: \(String(describing: updated))") }
            XCTAssertEqual(announced.content.text, "final")

            let notYours = try await rig.request(.delete, "/api/messages/\(messageId)", token: b.token)
            XCTAssertEqual(notYours.status, .forbidden)
            let deleted = try await rig.request(.delete, "/api/messages/\(messageId)", token: a.token)
            XCTAssertEqual(deleted.status, .ok)
            XCTAssertEqual(deleted.data["isDeleted"] as? Bool, true)
            XCTAssertEqual(deleted.data["id"] as? String, messageId, "the id stays")
            XCTAssertNil((deleted.data["content"] as? [String: Any])?["text"], "the content goes")
            let gone = await rig.recorder.next(UserEvent.self, on: bChannel)
            guard case .messageDeleted(let deletion)? = gone else { return XCTFail("no message_deleted for B") }
            XCTAssertEqual(deletion.id.lowercased, messageId)
            XCTAssertEqual(deletion.chatId.lowercased, chatId)

            let again = try await rig.request(.delete, "/api/messages/\(messageId)", token: a.token)
            XCTAssertEqual(again.status, .ok, "deleting twice is not an error")
            let late = try await rig.request(.put, "/api/messages/\(messageId)", token: a.token, json: ["text": "resurrect"])
            XCTAssertEqual(late.status, .conflict)
            let history = try await rig.request(.get, "/api/messages/\(chatId)", token: b.token)
            let shown = (history.json["data"] as? [[String: Any]])?.first
            XCTAssertEqual(shown?["isDeleted"] as? Bool, true)
            XCTAssertNil((shown?["content"] as? [String: Any])?["text"])
            try await Task.sleep(for: .milliseconds(200))
            XCTAssertEqual(rig.recorder.count(on: bChannel), 0, "a repeated delete announces nothing")
        }
    }

    func testReadMarksMoveForwardOnlyAndAreAnnounced() async throws {
        try await GatewayRig.run { rig in
            let (a, b, chatId) = try await rig.directChat()
            var ids: [String] = []
            for text in ["one", "two", "three"] {
                let sent = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": text])
                ids.append(try XCTUnwrap(sent.data["id"] as? String))
            }
            let aChannel = Channels.user(try XCTUnwrap(UUID(uuidString: a.id)))
            await rig.recorder.subscribe(aChannel)
            func unread() async throws -> Int? {
                try await rig.request(.get, "/api/chats/\(chatId)", token: b.token).data["unreadCount"] as? Int
            }
            let before = try await unread()
            XCTAssertEqual(before, 3)

            let marked = try await rig.request(.post, "/api/messages/\(chatId)/read", token: b.token, json: ["messageId": ids[1]])
            XCTAssertEqual(marked.status, .ok)
            XCTAssertEqual(marked.data["messageId"] as? String, ids[1])
            let afterTwo = try await unread()
            XCTAssertEqual(afterTwo, 1)
            let event = await rig.recorder.next(UserEvent.self, on: aChannel)
            guard case .messagesRead(let mark)? = event else { return XCTFail("no messages_read for the sender") }
            XCTAssertEqual(mark.userId.lowercased, b.id)
            XCTAssertEqual(mark.messageId.lowercased, ids[1])

            // An older mark does not move it back.
            let older = try await rig.request(.post, "/api/messages/\(chatId)/read", token: b.token, json: ["messageId": ids[0]])
            XCTAssertEqual(older.data["messageId"] as? String, ids[1])
            let still = try await unread()
            XCTAssertEqual(still, 1)

            let elsewhere = try await rig.request(.post, "/api/messages/\(chatId)/read", token: b.token, json: ["messageId": UUIDv7.make().lowercased])
            XCTAssertEqual(elsewhere.status, .notFound)
            let stranger = try await rig.signup("S")
            let notMember = try await rig.request(.post, "/api/messages/\(chatId)/read", token: stranger.token, json: ["messageId": ids[2]])
            XCTAssertEqual(notMember.status, .forbidden)
            let malformed = try await rig.request(.post, "/api/messages/\(chatId)/read", token: b.token, json: ["messageId": "x"])
            XCTAssertEqual(malformed.status, .badRequest)
        }
    }
}
