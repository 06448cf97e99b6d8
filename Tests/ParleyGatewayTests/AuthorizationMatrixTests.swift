import Foundation
import HTTPTypes
import Logging
import ParleyCore
import ParleyTestSupport
import SocketIO
import XCTest

/// Every chat route and socket event against every kind of caller: no token, a stranger, a
/// plain member, the group's admin, the message's sender and a member who did not send it; then
/// unknown ids (404) and malformed ids (400).
///
/// Each case runs on a fresh group (admin A; members B, who sent the message, and C), so what
/// one case changes cannot decide another.
final class AuthorizationMatrixTests: XCTestCase {
    enum Role: String, CaseIterable, Sendable {
        case noToken, stranger, member, admin, sender, nonSender
    }

    struct People: Sendable {
        let admin, sender, other, stranger, outsider: GatewayRig.Account
    }

    struct Fixture: Sendable {
        let chatId: String
        let messageId: String
        let people: People

        func token(_ role: Role) -> String? {
            switch role {
            case .noToken: nil
            case .stranger: people.stranger.token
            case .admin: people.admin.token
            case .sender: people.sender.token
            // A plain member who did not send the message.
            case .member, .nonSender: people.other.token
            }
        }

        /// `{chat}`, `{message}`, `{other}` and `{outsider}` filled in.
        func fill(_ text: String) -> String {
            text.replacingOccurrences(of: "{chat}", with: chatId)
                .replacingOccurrences(of: "{message}", with: messageId)
                .replacingOccurrences(of: "{other}", with: people.other.id)
                .replacingOccurrences(of: "{outsider}", with: people.outsider.id)
        }
    }

    struct Route: Sendable {
        let method: HTTPRequest.Method
        let path: String
        let body: [String: String]?
        let expected: [Role: Int]
    }

    static let routes: [Route] = [
        Route(method: .get, path: "/api/chats/{chat}", body: nil,
              expected: [.noToken: 401, .stranger: 403, .member: 200, .admin: 200]),
        Route(method: .patch, path: "/api/chats/{chat}", body: ["chatName": "Renamed"],
              expected: [.noToken: 401, .stranger: 403, .member: 403, .admin: 200]),
        Route(method: .post, path: "/api/chats/{chat}/members", body: ["userId": "{outsider}"],
              expected: [.noToken: 401, .stranger: 403, .member: 403, .admin: 200]),
        // C is removed: by the admin, by C itself (leaving), not by B or a stranger.
        Route(method: .delete, path: "/api/chats/{chat}/members/{other}", body: nil,
              expected: [.noToken: 401, .stranger: 403, .sender: 403, .member: 200, .admin: 200]),
        Route(method: .get, path: "/api/messages/{chat}", body: nil,
              expected: [.noToken: 401, .stranger: 403, .member: 200, .admin: 200]),
        Route(method: .post, path: "/api/messages", body: ["chatId": "{chat}", "text": "hi"],
              expected: [.noToken: 401, .stranger: 403, .member: 201, .admin: 201]),
        Route(method: .put, path: "/api/messages/{message}", body: ["text": "changed"],
              expected: [.noToken: 401, .stranger: 403, .nonSender: 403, .admin: 403, .sender: 200]),
        Route(method: .delete, path: "/api/messages/{message}", body: nil,
              expected: [.noToken: 401, .stranger: 403, .nonSender: 403, .admin: 200, .sender: 200]),
        Route(method: .post, path: "/api/messages/{chat}/read", body: ["messageId": "{message}"],
              expected: [.noToken: 401, .stranger: 403, .member: 200, .sender: 200]),
        Route(method: .delete, path: "/api/messages/clear/{chat}", body: nil,
              expected: [.noToken: 401, .stranger: 403, .member: 200, .admin: 200]),
    ]

    func testEveryRouteAnswersEveryKindOfCallerAsDocumented() async throws {
        try await GatewayRig.run { rig in
            let people = try await Self.people(rig)
            for route in Self.routes {
                for (role, status) in route.expected.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    let fixture = try await Self.fixture(rig, people)
                    let reply = try await rig.request(
                        route.method, fixture.fill(route.path), token: fixture.token(role),
                        json: route.body.map { $0.mapValues(fixture.fill) })
                    XCTAssertEqual(Int(reply.status.code), status, "\(route.method) \(route.path) as \(role): \(String(decoding: reply.body, as: UTF8.self))")
                }
            }
        }
    }

    func testUnknownIdsAre404AndMalformedIds400OnEveryRoute() async throws {
        try await GatewayRig.run { rig in
            let people = try await Self.people(rig)
            let fixture = try await Self.fixture(rig, people)
            let unknown = UUIDv7.make().lowercased
            for route in Self.routes {
                for placeholder in ["{chat}", "{message}"] where route.path.contains(placeholder) || route.body?.values.contains(placeholder) == true {
                    for (id, status) in [(unknown, 404), ("not-an-id", 400), ("..%2F..%2Fetc", 400)] {
                        let swap = { (text: String) in fixture.fill(text.replacingOccurrences(of: placeholder, with: id)) }
                        let reply = try await rig.request(
                            route.method, swap(route.path), token: people.admin.token, json: route.body.map { $0.mapValues(swap) })
                        XCTAssertEqual(Int(reply.status.code), status, "\(route.method) \(route.path) with \(placeholder) = \(id)")
                    }
                }
            }
            for (path, status) in [("/api/users/\(unknown)", 404), ("/api/users/not-an-id", 400)] {
                let reply = try await rig.request(.get, path, token: people.admin.token)
                XCTAssertEqual(Int(reply.status.code), status, path)
            }
            for (method, path) in [(HTTPRequest.Method.get, "/api/chats"), (.post, "/api/chats"), (.post, "/api/chats/group"), (.get, "/api/users"), (.get, "/api/users/me"), (.patch, "/api/users/me"), (.get, "/api/users/\(people.admin.id)")] {
                let reply = try await rig.request(method, path, json: [:])
                XCTAssertEqual(reply.status, .unauthorized, "\(method) \(path) without a token")
            }
        }
    }

    struct Event: Sendable {
        let name: String
        let payload: [String: String]
        let expected: [Role: String]
    }

    static let events: [Event] = [
        Event(name: "send_message", payload: ["chatId": "{chat}", "text": "hi"], expected: [.stranger: "forbidden", .member: "ok", .admin: "ok"]),
        Event(name: "edit_message", payload: ["messageId": "{message}", "text": "changed"],
              expected: [.stranger: "forbidden", .nonSender: "forbidden", .admin: "forbidden", .sender: "ok"]),
        Event(name: "delete_message", payload: ["messageId": "{message}"],
              expected: [.stranger: "forbidden", .nonSender: "forbidden", .admin: "ok", .sender: "ok"]),
        Event(name: "typing", payload: ["chatId": "{chat}"], expected: [.stranger: "forbidden", .member: "ok"]),
        Event(name: "stop_typing", payload: ["chatId": "{chat}"], expected: [.stranger: "forbidden", .member: "ok"]),
        Event(name: "mark_read", payload: ["chatId": "{chat}", "messageId": "{message}"], expected: [.stranger: "forbidden", .member: "ok"]),
    ]

    func testEverySocketEventAnswersEveryKindOfCallerAsDocumented() async throws {
        try await GatewayRig.run(.live) { rig in
            let people = try await Self.people(rig)
            let url = "http://127.0.0.1:\(rig.client.port!)"
            do {
                try await SocketIOClient.connect(to: url, auth: .object([:]), logger: Self.logger) { _ in }
                XCTFail("a socket without a token connected")
            } catch let error as SocketIOClient.ClientError {
                XCTAssertEqual(error, .refused("Authentication token required"))
            }
            let unknown = UUIDv7.make().lowercased
            for event in Self.events {
                for (role, outcome) in event.expected.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    let fixture = try await Self.fixture(rig, people)
                    let answer = try await Self.ack(url, token: fixture.token(role)!, event.name, event.payload.mapValues(fixture.fill))
                    XCTAssertEqual(answer, outcome, "\(event.name) as \(role)")
                }
                let fixture = try await Self.fixture(rig, people)
                for (id, outcome) in [(unknown, "not_found"), ("not-an-id", "bad_request")] {
                    let payload = event.payload.mapValues { fixture.fill($0.replacingOccurrences(of: "{chat}", with: id).replacingOccurrences(of: "{message}", with: id)) }
                    let answer = try await Self.ack(url, token: people.admin.token, event.name, payload)
                    XCTAssertEqual(answer, outcome, "\(event.name) with id \(id)")
                }
            }
        }
    }

    // MARK: - Helpers

    static var logger: Logger {
        var logger = Logger(label: "authorization-matrix")
        logger.logLevel = .critical
        return logger
    }

    static func people(_ rig: GatewayRig) async throws -> People {
        People(
            admin: try await rig.signup("Admin"), sender: try await rig.signup("Sender"), other: try await rig.signup("Other"),
            stranger: try await rig.signup("Stranger"), outsider: try await rig.signup("Outsider"))
    }

    static func fixture(_ rig: GatewayRig, _ people: People) async throws -> Fixture {
        let group = try await rig.request(.post, "/api/chats/group", token: people.admin.token,
                                          json: ["chatName": "Matrix", "users": [people.sender.id, people.other.id]])
        let chatId = try XCTUnwrap(group.data["id"] as? String, String(decoding: group.body, as: UTF8.self))
        let sent = try await rig.request(.post, "/api/messages", token: people.sender.token, json: ["chatId": chatId, "text": "original"])
        return Fixture(chatId: chatId, messageId: try XCTUnwrap(sent.data["id"] as? String), people: people)
    }

    /// `ok`, or the error code of the event's acknowledgement.
    static func ack(_ url: String, token: String, _ event: String, _ payload: [String: String]) async throws -> String {
        try await SocketIOClient.connect(to: url, auth: .object(["token": .string(token)]), logger: logger) { client in
            let answer = try await client.emitWithAck(event, .object(payload.mapValues { .string($0) })).first
            if case .bool(true)? = answer?["ok"] { return "ok" }
            return answer?["error"]?["code"]?.stringValue ?? "no answer"
        }
    }
}
