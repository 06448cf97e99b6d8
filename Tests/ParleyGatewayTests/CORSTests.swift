import HTTPTypes
import HummingbirdTesting
import XCTest

/// A web client on another origin calls the REST API: preflights answered, responses readable,
/// for the origins of `CORS_ORIGINS` only; the Socket.IO path keeps its own answers.
final class CORSTests: XCTestCase {
    static let app = "https://chat.example.com"

    func testAnAllowedOriginIsAnsweredOnPreflightsAndResponsesErrorsIncluded() async throws {
        try await GatewayRig.run(corsOrigins: [Self.app, "https://other.example.com"]) { rig in
            let preflight = try await rig.raw(.options, "/api/messages", origin: Self.app, extra: [
                .accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization, content-type",
            ])
            XCTAssertEqual(preflight.status, .noContent)
            XCTAssertEqual(preflight.headers[.accessControlAllowOrigin], Self.app)
            XCTAssertEqual(preflight.headers[.accessControlAllowCredentials], "true")
            for method in ["POST", "PATCH", "DELETE"] {
                XCTAssertTrue(preflight.headers[.accessControlAllowMethods]?.contains(method) ?? false, "\(preflight.headers)")
            }
            for header in ["authorization", "content-type", "range"] {
                XCTAssertTrue(preflight.headers[.accessControlAllowHeaders]?.lowercased().contains(header) ?? false, "\(preflight.headers)")
            }
            XCTAssertEqual(preflight.headers[.accessControlMaxAge], "600")

            let account = try await rig.signup()
            let listed = try await rig.raw(.get, "/api/chats", origin: Self.app, extra: [.authorization: "Bearer \(account.token)"])
            XCTAssertEqual(listed.status, .ok)
            XCTAssertEqual(listed.headers[.accessControlAllowOrigin], Self.app)
            XCTAssertEqual(listed.headers[.vary], "Origin")
            XCTAssertTrue(listed.headers[.accessControlExposeHeaders]?.contains("Idempotent-Replayed") ?? false, "\(listed.headers)")
            // An error is readable by the page too, or it could not show why.
            let refused = try await rig.raw(.get, "/api/chats", origin: Self.app)
            XCTAssertEqual(refused.status, .unauthorized)
            XCTAssertEqual(refused.headers[.accessControlAllowOrigin], Self.app)
        }
    }

    func testOtherOriginsGetNothingAndSocketIOAnswersItsOwnPreflights() async throws {
        try await GatewayRig.run(corsOrigins: [Self.app]) { rig in
            let stranger = try await rig.raw(.options, "/api/messages", origin: "https://evil.example.com", extra: [.accessControlRequestMethod: "POST"])
            XCTAssertNil(stranger.headers[.accessControlAllowOrigin])
            XCTAssertNotEqual(stranger.status, .noContent)
            let fetched = try await rig.raw(.get, "/api/chats", origin: "https://evil.example.com")
            XCTAssertNil(fetched.headers[.accessControlAllowOrigin])

            let polling = try await rig.raw(.options, "/socket.io/?EIO=4&transport=polling", origin: Self.app, extra: [.accessControlRequestMethod: "POST"])
            XCTAssertEqual(polling.headers[.accessControlAllowOrigin], Self.app)
            XCTAssertEqual(polling.headers[.accessControlAllowMethods], "GET, POST, OPTIONS", "the Socket.IO server's own answer")
        }
        // Without CORS_ORIGINS no response says anything of origins.
        try await GatewayRig.run { rig in
            let preflight = try await rig.raw(.options, "/api/messages", origin: Self.app, extra: [.accessControlRequestMethod: "POST"])
            XCTAssertNil(preflight.headers[.accessControlAllowOrigin])
            let fetched = try await rig.raw(.get, "/api/chats", origin: Self.app)
            XCTAssertNil(fetched.headers[.accessControlAllowOrigin])
        }
    }
}

extension GatewayRig {
    /// A request without a body, from a page of `origin`.
    func raw(_ method: HTTPRequest.Method, _ path: String, origin: String, extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        headers[.origin] = origin
        return try await client.execute(uri: path, method: method, headers: headers, body: nil) { response in
            Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        }
    }
}
