import Foundation
import ParleyTestSupport
import XCTest

/// `Expect: 100-continue` as curl and other HTTP clients send it: the body is held back until the
/// server asks for it.
final class ContinueTests: XCTestCase {
    func testAnUploadIsAskedForItsBodyAndStoredAndTheConnectionServesTheNextRequest() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (a, _, chatId) = try await rig.directChat()
            let boundary = "continue-test"
            let body = "--\(boundary)\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\n\(chatId)\r\n"
                + "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"note.txt\"\r\nContent-Type: text/plain\r\n\r\n"
                + "asked for, then sent\r\n--\(boundary)--\r\n"
            try await RawHTTPClient.withConnection(port: rig.client.port!) { client in
                try await client.send(head: "POST /api/upload", headers: [
                    "Authorization: Bearer \(a.token)", "Content-Type: multipart/form-data; boundary=\(boundary)",
                    "Content-Length: \(body.utf8.count)", "Expect: 100-continue",
                ])
                let interim = try await client.response()
                XCTAssertEqual(interim.status, "HTTP/1.1 100 Continue", "the body was not asked for")
                try await client.send(body)
                let stored = try await client.response()
                XCTAssertEqual(stored.status, "HTTP/1.1 201 Created", stored.body)
                XCTAssertTrue(stored.body.contains("note.txt"), stored.body)

                // The same connection, a JSON body that expects the same.
                let signin = #"{"email":"\#(a.email)","password":"password123"}"#
                try await client.send(head: "POST /api/auth/signin", headers: [
                    "Content-Type: application/json", "Content-Length: \(signin.utf8.count)", "Expect: 100-Continue",
                ])
                let asked = try await client.response()
                XCTAssertEqual(asked.status, "HTTP/1.1 100 Continue")
                try await client.send(signin)
                let signedIn = try await client.response()
                XCTAssertEqual(signedIn.status, "HTTP/1.1 200 OK", signedIn.body)
                XCTAssertTrue(signedIn.body.contains("\"token\""), signedIn.body)
            }
        }
    }

    func testARequestRefusedBeforeItsBodyIsReadIsAnsweredWithoutAskingForIt() async throws {
        try await GatewayRig.run(.live, media: .init()) { rig in
            let (_, _, chatId) = try await rig.directChat()
            let stranger = try await rig.signup("Stranger")
            try await RawHTTPClient.withConnection(port: rig.client.port!) { client in
                // No token: refused at once.
                try await client.send(head: "POST /api/upload", headers: [
                    "Content-Type: multipart/form-data; boundary=b", "Content-Length: 100000", "Expect: 100-continue",
                ])
                let refused = try await client.response()
                XCTAssertEqual(refused.status, "HTTP/1.1 401 Unauthorized", refused.body)
            }
            try await RawHTTPClient.withConnection(port: rig.client.port!) { client in
                // Over the limit by its length: refused before a byte of it.
                try await client.send(head: "POST /api/upload", headers: [
                    "Authorization: Bearer \(stranger.token)", "Content-Type: multipart/form-data; boundary=b",
                    "Content-Length: \(20 << 20)", "Expect: 100-continue",
                ])
                let refused = try await client.response()
                XCTAssertTrue(refused.status.hasPrefix("HTTP/1.1 413 "), refused.status + refused.body)
            }
            try await RawHTTPClient.withConnection(port: rig.client.port!) { client in
                // A stranger to the chat named first: refused at the file's first bytes, the rest never sent.
                let start = "--b\r\nContent-Disposition: form-data; name=\"chatId\"\r\n\r\n\(chatId)\r\n"
                    + "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.txt\"\r\n\r\nthe first bytes"
                try await client.send(head: "POST /api/upload", headers: [
                    "Authorization: Bearer \(stranger.token)", "Content-Type: multipart/form-data; boundary=b",
                    "Content-Length: \(start.utf8.count + 100_000)", "Expect: 100-continue",
                ])
                let asked = try await client.response()
                XCTAssertEqual(asked.status, "HTTP/1.1 100 Continue")
                try await client.send(start)
                let refused = try await client.response()
                XCTAssertEqual(refused.status, "HTTP/1.1 403 Forbidden", refused.body)
            }
        }
    }
}
