import Foundation
import ParleyCore
import XCTest

final class JSONShapeTests: XCTestCase {
    let date = Date(timeIntervalSince1970: 1_790_000_000.5)

    func user() -> User {
        User(id: UUIDv7.make(), firstName: "Ada", lastName: "L", email: "ada@example.com", image: nil,
             isOnline: false, lastSeen: nil, createdAt: date, updatedAt: date)
    }

    func object(_ value: some Encodable) throws -> [String: Any] {
        try XCTUnwrap(JSONSerialization.jsonObject(with: JSON.encode(value)) as? [String: Any])
    }

    func testUserShapeHasNullsLowercaseIdsAndMillisecondTimestamps() throws {
        let u = user()
        let json = try object(u)
        XCTAssertEqual(Set(json.keys), ["id", "firstName", "lastName", "email", "image", "isOnline", "lastSeen", "createdAt", "updatedAt"])
        XCTAssertTrue(json["image"] is NSNull)
        XCTAssertTrue(json["lastSeen"] is NSNull)
        XCTAssertEqual(json["id"] as? String, u.id.uuidString.lowercased())
        XCTAssertEqual(json["createdAt"] as? String, "2026-09-21T14:13:20.500Z")
    }

    func testMessageRoundTripsAndCarriesTheContractFields() throws {
        let message = Message(
            id: UUIDv7.make(), chatId: UUIDv7.make(), sender: user(), messageType: .text,
            content: MessageContent(text: "hi"), isEdited: false, editedAt: nil, isDeleted: false,
            deletedAt: nil, clientMessageId: "c-1", createdAt: date, updatedAt: date)
        let json = try object(message)
        for key in ["id", "chatId", "sender", "messageType", "content", "isEdited", "editedAt", "isDeleted", "deletedAt", "clientMessageId", "createdAt", "updatedAt"] {
            XCTAssertNotNil(json[key], "missing \(key)")
        }
        XCTAssertEqual((json["content"] as? [String: Any])?["text"] as? String, "hi")
        XCTAssertEqual(try JSON.decode(Message.self, from: JSON.encode(message)), message)
    }

    func testCommandRoundTripsWithItsTypeFromThePayload() throws {
        let create = MessageCreate(messageId: UUIDv7.make(), chatId: UUIDv7.make(), senderId: UUIDv7.make(),
                                   messageType: .text, text: "hello", clientMessageId: nil)
        // Timestamps travel with millisecond precision.
        let command = Command(issuedAt: date, replyTo: "gw-1", payload: .messageCreate(create))
        let json = try object(command)
        XCTAssertEqual(json["type"] as? String, "message.create")
        XCTAssertEqual(try JSON.decode(Command.self, from: JSON.encode(command)), command)
    }

    func testUnknownCommandTypeDoesNotDecode() {
        let body = #"{"id":"01890a5d-ac96-774b-bcce-b302099a8057","type":"message.explode","issuedAt":"2026-01-01T00:00:00.000Z","payload":{}}"#
        XCTAssertThrowsError(try JSON.decode(Command.self, from: Data(body.utf8)))
    }

    func testUserEventIsNamedLikeTheSocketEvent() throws {
        let chat = Chat(id: UUIDv7.make(), chatName: "sender", isGroupChat: false, users: [user()], groupAdmin: nil,
                        latestMessage: nil, unreadCount: 0, createdAt: date, updatedAt: date)
        let event = UserEvent.chatUpdated(chat)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: JSON.encode(event)) as? [Any])
        XCTAssertEqual(json.count, 2)
        XCTAssertEqual(json.first as? String, "chat_updated")
        XCTAssertEqual((json.last as? [String: Any])?["chatName"] as? String, "sender")
        XCTAssertEqual(try JSON.decode(UserEvent.self, from: JSON.encode(event)), event)
        // What a gateway reads of it without decoding: the name, the payload's bytes, a top-level id.
        let bytes = [UInt8](try JSON.encode(event))
        let wire = try XCTUnwrap(EventWire(bytes))
        XCTAssertEqual(wire.name, "chat_updated")
        XCTAssertEqual(try JSON.decode(Chat.self, from: Data(wire.payload)), chat)
        XCTAssertEqual(RawJSON.member("id", in: wire.payload).flatMap(UUID.init(quotedUTF8:)), chat.id)
    }

    func testReplyCarriesErrorsAsValues() throws {
        let reply = CommandReply(commandId: UUIDv7.make(), outcome: .failed(.forbidden("no")))
        XCTAssertEqual(try JSON.decode(CommandReply.self, from: JSON.encode(reply)), reply)
    }

    func testMessageEventAndReplyWrittenAroundTheMessageAreWhatTheEncoderWrites() throws {
        let message = Message(
            id: UUIDv7.make(), chatId: UUIDv7.make(), sender: user(), messageType: .text,
            content: MessageContent(text: "say \"hi\" / {ok}"), isEdited: false, editedAt: nil, isDeleted: false,
            deletedAt: nil, clientMessageId: nil, createdAt: date, updatedAt: date)
        let json = [UInt8](try JSON.encode(message))
        XCTAssertEqual(UserEvent.encodedMessageReceived(messageJSON: json), [UInt8](try JSON.encode(UserEvent.messageReceived(message))))
        for created in [true, false] {
            let commandId = UUIDv7.make()
            let reply = CommandReply.encodedMessageReply(commandId: commandId, messageJSON: json, created: created)
            XCTAssertEqual(reply, [UInt8](try JSON.encode(CommandReply(commandId: commandId, outcome: .message(message, created: created)))))
            XCTAssertEqual(try JSON.decode(CommandReply.self, from: Data(reply)).outcome, .message(message, created: created))
        }
    }
}
