import Foundation
import NIOCore
import NIOPosix
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
            try await HeldBackClient.withConnection(port: rig.client.port!) { client in
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
            try await HeldBackClient.withConnection(port: rig.client.port!) { client in
                // No token: refused at once.
                try await client.send(head: "POST /api/upload", headers: [
                    "Content-Type: multipart/form-data; boundary=b", "Content-Length: 100000", "Expect: 100-continue",
                ])
                let refused = try await client.response()
                XCTAssertEqual(refused.status, "HTTP/1.1 401 Unauthorized", refused.body)
            }
            try await HeldBackClient.withConnection(port: rig.client.port!) { client in
                // Over the limit by its length: refused before a byte of it.
                try await client.send(head: "POST /api/upload", headers: [
                    "Authorization: Bearer \(stranger.token)", "Content-Type: multipart/form-data; boundary=b",
                    "Content-Length: \(20 << 20)", "Expect: 100-continue",
                ])
                let refused = try await client.response()
                XCTAssertTrue(refused.status.hasPrefix("HTTP/1.1 413 "), refused.status + refused.body)
            }
            try await HeldBackClient.withConnection(port: rig.client.port!) { client in
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

/// An HTTP/1.1 client on a plain connection that sends a request's head and body separately and
/// reads responses one by one, interim ones included. A response that does not come within 5 s
/// ends the connection (and the test, with an error).
final class HeldBackClient {
    struct Response {
        var status: String
        var body: String
    }

    struct ConnectionEnded: Error {}

    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()
    private let channel: any Channel

    private init(_ channel: any Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    static func withConnection(port: Int, _ body: (HeldBackClient) async throws -> Void) async throws {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        try await connection.executeThenClose { inbound, outbound in
            try await body(HeldBackClient(connection.channel, inbound: inbound, outbound: outbound))
        }
    }

    func send(head: String, headers: [String]) async throws {
        try await send(([head + " HTTP/1.1", "Host: 127.0.0.1"] + headers).joined(separator: "\r\n") + "\r\n\r\n")
    }

    func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// The next response: its status line and, after a final one, its body (by `Content-Length`).
    func response() async throws -> Response {
        let channel = channel
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        let head = try await read { buffer in
            buffer.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)).map { buffer.readString(length: $0.upperBound - buffer.readerIndex)! }
        }
        let lines = head.split(separator: "\r\n")
        let length = lines.dropFirst().first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let body = try await read { buffer in buffer.readableBytes >= length ? buffer.readString(length: length) : nil }
        return Response(status: String(lines.first ?? ""), body: body)
    }

    private func read(until parse: (inout ByteBuffer) -> String?) async throws -> String {
        while true {
            if let parsed = parse(&buffer) { return parsed }
            guard var more = try await inbound.next() else { throw ConnectionEnded() }
            buffer.writeBuffer(&more)
        }
    }
}
