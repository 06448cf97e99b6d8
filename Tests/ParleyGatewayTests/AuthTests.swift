import Foundation
import JWTKit
import ParleyTestSupport
import XCTest

final class AuthTests: XCTestCase {
    func testSignupAnswersATokenAndTheUserWithoutSecrets() async throws {
        try await GatewayRig.run { rig in
            let email = TestServices.uniqueEmail("ada")
            let reply = try await rig.request(.post, "/api/auth/signup", json: [
                "firstName": "Ada", "lastName": "Lovelace", "email": email.uppercased(), "password": "password123", "unknown": "ignored",
            ])
            XCTAssertEqual(reply.status, .created)
            XCTAssertFalse((reply.json["token"] as? String ?? "").isEmpty)
            let user = try XCTUnwrap(reply.json["user"] as? [String: Any])
            XCTAssertEqual(user["email"] as? String, email, "emails are stored in lower case")
            XCTAssertEqual(user["firstName"] as? String, "Ada")
            XCTAssertEqual(user["isOnline"] as? Bool, false)
            XCTAssertNotNil(UUID(uuidString: user["id"] as? String ?? ""))
            let text = String(decoding: reply.body, as: UTF8.self)
            XCTAssertFalse(text.contains("password"), "no password or hash in the answer")
            XCTAssertFalse(text.contains("$2b$"))
        }
    }

    func testSignupListsEveryInvalidField() async throws {
        try await GatewayRig.run { rig in
            let reply = try await rig.request(.post, "/api/auth/signup", json: ["firstName": " ", "lastName": "X", "email": "not-an-email", "password": "short"])
            XCTAssertEqual(reply.status, .badRequest)
            XCTAssertEqual(reply.code, "validation_failed")
            let errors = reply.json["errors"] as? [String] ?? []
            XCTAssertEqual(errors.count, 3, "\(errors)")
            XCTAssertNotNil(reply.json["message"])
        }
    }

    func testMalformedBodiesAreBadRequestsNotServerErrors() async throws {
        try await GatewayRig.run { rig in
            let broken = try await rig.request(.post, "/api/auth/signup", raw: "{\"firstName\": ")
            XCTAssertEqual(broken.status, .badRequest)
            XCTAssertEqual(broken.code, "bad_request")
            let wrongType = try await rig.request(.post, "/api/auth/signup", json: ["firstName": 5, "lastName": "X", "email": "a@b.co", "password": "password123"])
            XCTAssertEqual(wrongType.status, .badRequest)
            XCTAssertEqual(wrongType.json["errors"] as? [String], ["firstName has the wrong type"])
            let missing = try await rig.request(.post, "/api/auth/signin", json: ["email": "a@b.co"])
            XCTAssertEqual(missing.status, .badRequest)
            XCTAssertEqual(missing.json["errors"] as? [String], ["password is required"])
            let empty = try await rig.request(.post, "/api/auth/signin")
            XCTAssertEqual(empty.status, .badRequest)
        }
    }

    func testNULIsRefusedWhereverTextIsStoredOrComparedAndIsNeverAnOutage() async throws {
        try await GatewayRig.run { rig in
            let named = try await rig.request(.post, "/api/auth/signup", json: [
                "firstName": "A\u{0}da", "lastName": "L", "email": TestServices.uniqueEmail(), "password": "pass\u{0}word123",
            ])
            XCTAssertEqual(named.status, .badRequest)
            XCTAssertEqual(named.json["errors"] as? [String], [
                "firstName must not contain the NUL character", "password must not contain the NUL character",
            ])
            // bcrypt compares a password up to its first NUL: "password123" plus anything after a NUL is not it.
            let account = try await rig.signup()
            let cut = try await rig.request(.post, "/api/auth/signin", json: ["email": account.email, "password": "password123\u{0}more"])
            XCTAssertEqual(cut.status, .unauthorized)
            let oddEmail = try await rig.request(.post, "/api/auth/signin", json: ["email": "a\u{0}@b.co", "password": "password123"])
            XCTAssertEqual(oddEmail.status, .unauthorized)

            let (a, _, chatId) = try await rig.directChat()
            let message = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": "a\u{0}b"])
            XCTAssertEqual(message.status, .badRequest)
            XCTAssertEqual(message.json["errors"] as? [String], ["text must not contain the NUL character"])
            let group = try await rig.request(.post, "/api/chats/group", token: a.token, json: ["chatName": "x\u{0}", "users": []])
            XCTAssertTrue((group.json["errors"] as? [String] ?? []).contains("chatName must not contain the NUL character"), group.text)
            // What no check names still reaches PostgreSQL, which refuses it: the client's fault, not a 503.
            let search = try await rig.request(.get, "/api/users?search=a%00b", token: a.token)
            XCTAssertEqual(search.status, .badRequest, search.text)
        }
    }

    func testTakenEmailIsAConflict() async throws {
        try await GatewayRig.run { rig in
            let account = try await rig.signup()
            let again = try await rig.request(.post, "/api/auth/signup", json: [
                "firstName": "B", "lastName": "C", "email": account.email.uppercased(), "password": "password123",
            ])
            XCTAssertEqual(again.status, .conflict)
            XCTAssertEqual(again.code, "email_taken")
        }
    }

    func testSigninAnswersUnknownEmailAndWrongPasswordAlike() async throws {
        try await GatewayRig.run { rig in
            let account = try await rig.signup()
            let ok = try await rig.request(.post, "/api/auth/signin", json: ["email": account.email, "password": "password123"])
            XCTAssertEqual(ok.status, .ok)
            XCTAssertEqual((ok.json["user"] as? [String: Any])?["id"] as? String, account.id)

            let wrong = try await rig.request(.post, "/api/auth/signin", json: ["email": account.email, "password": "password124"])
            let unknown = try await rig.request(.post, "/api/auth/signin", json: ["email": TestServices.uniqueEmail(), "password": "password123"])
            XCTAssertEqual(wrong.status, .unauthorized)
            XCTAssertEqual(unknown.status, .unauthorized)
            XCTAssertEqual(wrong.body, unknown.body)
        }
    }

    func testMeNeedsAValidPinnedHS256Token() async throws {
        try await GatewayRig.run { rig in
            let account = try await rig.signup()
            let me = try await rig.request(.get, "/api/users/me", token: account.token)
            XCTAssertEqual(me.status, .ok)
            XCTAssertEqual(me.data["id"] as? String, account.id)

            let none = try await rig.request(.get, "/api/users/me")
            XCTAssertEqual(none.status, .unauthorized)
            XCTAssertEqual(none.json["message"] as? String, "Authentication token required")

            // alg: none, the claims of a real user, no signature.
            let claims = Data(#"{"sub":"\#(account.id)","exp":4102444800}"#.utf8).base64URLEncodedString()
            let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncodedString()
            for forged in ["\(header).\(claims).", "\(header).\(claims)", "garbage", account.token + "x"] {
                let reply = try await rig.request(.get, "/api/users/me", token: forged)
                XCTAssertEqual(reply.status, .unauthorized, forged)
                XCTAssertEqual(reply.json["message"] as? String, "Invalid authentication token")
            }

            // Right claims, wrong key; and right key, expired.
            let foreign = try await GatewayRig.token(subject: account.id, expiresIn: 600, secret: "another-secret-0123456789-0123456789-xyz")
            let expired = try await GatewayRig.token(subject: account.id, expiresIn: -60)
            let stillValid = try await GatewayRig.token(subject: account.id, expiresIn: 60)
            let foreignReply = try await rig.request(.get, "/api/users/me", token: foreign)
            let expiredReply = try await rig.request(.get, "/api/users/me", token: expired)
            let validReply = try await rig.request(.get, "/api/users/me", token: stillValid)
            XCTAssertEqual(foreignReply.status, .unauthorized)
            XCTAssertEqual(expiredReply.status, .unauthorized)
            XCTAssertEqual(validReply.status, .ok, "the control token with our key is accepted")
        }
    }
}

extension Data {
    func base64URLEncodedString() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
