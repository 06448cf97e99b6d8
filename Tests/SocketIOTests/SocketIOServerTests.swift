import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import NIOPosix
@testable import SocketIO
import XCTest

/// The server with a tiny echo application (no chat), over real sockets.
final class SocketIOServerTests: XCTestCase {
    struct EchoHandler: SocketIOHandler {
        func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision {
            guard let name = auth?["name"]?.stringValue else { return .reject(message: "name required", data: .object(["hint": .string("send auth.name")])) }
            return .accept(userData: name)
        }

        func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
            switch name {
            case "echo": ack?.send(arguments)
            case "shout": socket.emit("heard", .string((socket.userData as? String) ?? "?"), arguments.first ?? .null)
            case "ignore": break
            case "where":
                // Which thread runs the handler: before an await and after it.
                let before = MultiThreadedEventLoopGroup.currentEventLoop.map(ObjectIdentifier.init)
                try? await Task.sleep(for: .milliseconds(1))
                let after = MultiThreadedEventLoopGroup.currentEventLoop.map(ObjectIdentifier.init)
                ack?(.bool(before != nil), .bool(after != nil && after == before))
            default: ack?(.string("unknown"))
            }
        }

        func disconnected(_ socket: SocketIOSocket, reason: String) async {}
    }

    static var logger: Logger {
        var logger = Logger(label: "socketio-test")
        logger.logLevel = .warning
        return logger
    }

    func withServer(_ configure: (inout SocketIOConfiguration) -> Void = { _ in }, _ body: @escaping @Sendable (String, any TestClientProtocol) async throws -> Void) async throws {
        try await withServer(configure) { url, client, _ in try await body(url, client) }
    }

    func withServer(
        _ configure: (inout SocketIOConfiguration) -> Void = { _ in }, namespaces: Set<String> = ["/"], handler: any SocketIOHandler = EchoHandler(),
        _ body: @escaping @Sendable (String, any TestClientProtocol, SocketIOServer) async throws -> Void
    ) async throws {
        var configuration = SocketIOConfiguration()
        configure(&configuration)
        let server = SocketIOServer(configuration: configuration, namespaces: namespaces, handler: handler, logger: Self.logger)
        let router = Router()
        server.addPollingRoutes(to: router)
        let app = Application(
            router: router, server: .socketIO([server]),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)), services: [server], logger: Self.logger)
        try await app.test(.live) { client in
            try await body("http://127.0.0.1:\(client.port!)", client, server)
        }
    }

    func testAnAckThatNeverComesTimesOutOnTheClient() async throws {
        try await withServer { url, _ in
            try await SocketIOClient.connect(to: url, auth: .object(["name": .string("ada")]), logger: Self.logger) { client in
                let start = ContinuousClock.now
                do {
                    _ = try await client.emitWithAck("ignore", timeout: .milliseconds(300))
                    XCTFail("an ack came for an event the server does not answer")
                } catch let error as SocketIOClient.ClientError {
                    XCTAssertEqual(error, .timeout)
                }
                XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(300))
                XCTAssertLessThan(ContinuousClock.now - start, .seconds(3))
                // The connection goes on: the next ack still arrives.
                let answer = try await client.emitWithAck("echo", .number(2))
                XCTAssertEqual(answer, [.number(2)])
            }
        }
    }

    func testEventsAcksAndServerEmitsOverWebSocket() async throws {
        try await withServer { url, _ in
            try await SocketIOClient.connect(to: url, auth: .object(["name": .string("ada")]), logger: Self.logger) { client in
                XCTAssertFalse(client.sid.isEmpty)
                let answer = try await client.emitWithAck("echo", .number(1), .object(["a": .array([.bool(true), .null])]))
                XCTAssertEqual(answer, [.number(1), .object(["a": .array([.bool(true), .null])])])
                client.emit("shout", .string("hi"))
                var events = client.events.makeAsyncIterator()
                let heard = await events.next()
                XCTAssertEqual(heard?.name, "heard")
                XCTAssertEqual(heard?.arguments, [.string("ada"), .string("hi")])
            }
        }
    }

    func testAWebSocketSessionsEventsRunOnItsEventLoop() async throws {
        try await withServer { url, _ in
            try await SocketIOClient.connect(to: url, auth: .object(["name": .string("ada")]), logger: Self.logger) { client in
                // Started on the loop that read the packet, and resumed there after awaiting:
                // no thread of the shared pool is woken for each step.
                let answer = try await client.emitWithAck("where")
                XCTAssertEqual(answer, [.bool(true), .bool(true)])
            }
        }
    }

    func testRefusedConnectCarriesTheMessage() async throws {
        try await withServer { url, _ in
            do {
                try await SocketIOClient.connect(to: url, logger: Self.logger) { _ in }
                XCTFail("connected without a name")
            } catch let error as SocketIOClient.ClientError {
                XCTAssertEqual(error, .refused("name required"))
            }
            do {
                try await SocketIOClient.connect(to: url, namespace: "/admin", auth: .object(["name": .string("x")]), logger: Self.logger) { _ in }
                XCTFail("joined an unknown namespace")
            } catch let error as SocketIOClient.ClientError {
                XCTAssertEqual(error, .refused("Invalid namespace"))
            }
        }
    }

    /// Opens a raw Engine.IO WebSocket, reads the open packet, sends `frames`, and returns what
    /// the server sent before it closed (or after `timeout`).
    static func raw(_ url: String, send frames: [String], timeout: Duration = .seconds(3)) async throws -> (closed: Bool, received: [String]) {
        let received = ReceivedFrames()
        let start = ContinuousClock.now
        try await WebSocketClient.connect(url: url.replacingOccurrences(of: "http", with: "ws") + "/socket.io/?EIO=4&transport=websocket", logger: Self.logger) { inbound, outbound, _ in
            for frame in frames { try await outbound.write(.text(frame)) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        if case .text(let text) = message { received.append(text) }
                    }
                    received.markClosed()
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    received.markClosing()
                    try await outbound.close(.normalClosure, reason: nil)
                }
                try await group.next()
                group.cancelAll()
            }
        }
        XCTAssertLessThan(ContinuousClock.now - start, timeout + .seconds(2))
        return (received.closed, received.frames)
    }

    func testOpenPacketAnnouncesTheSessionSettings() async throws {
        try await withServer { url, _ in
            let (_, frames) = try await Self.raw(url, send: [], timeout: .milliseconds(300))
            let open = try XCTUnwrap(frames.first)
            XCTAssertTrue(open.hasPrefix("0{"))
            let settings = try XCTUnwrap(JSONValue.parse(Array(open.utf8.dropFirst())))
            XCTAssertNotNil(settings["sid"]?.stringValue)
            XCTAssertEqual(settings["pingInterval"], .number(25000))
            XCTAssertEqual(settings["pingTimeout"], .number(20000))
            XCTAssertEqual(settings["maxPayload"], .number(1_000_000))
            XCTAssertEqual(settings["upgrades"], .array([]))
        }
    }

    func testSessionWithoutConnectIsClosedAtTheDeadline() async throws {
        try await withServer({ $0.connectTimeout = .milliseconds(300) }) { url, _ in
            let (closed, _) = try await Self.raw(url, send: [], timeout: .seconds(3))
            XCTAssertTrue(closed, "the server kept an unauthenticated session open")
        }
    }

    func testProtocolViolationsCloseTheSession() async throws {
        try await withServer({ $0.maxPayload = 1000 }) { url, _ in
            for frames in [
                ["4garbage{"],                                   // malformed Socket.IO packet
                ["40{\"name\":\"x\"}", "42[\"disconnect\"]"],    // reserved event name
                ["40{\"name\":\"x\"}", "42abc[\"echo\"]"],       // bad ack id
                ["4" + String(repeating: "x", count: 2000)],     // over maxPayload
                ["zz"],                                          // not an Engine.IO packet
            ] {
                let (closed, _) = try await Self.raw(url, send: frames, timeout: .seconds(3))
                XCTAssertTrue(closed, "still open after \(frames.map { $0.prefix(20) })")
            }
            // A well-behaved session stays open past the same time.
            let (closed, received) = try await Self.raw(url, send: ["40{\"name\":\"x\"}"], timeout: .milliseconds(500))
            XCTAssertFalse(closed)
            XCTAssertTrue(received.contains { $0.hasPrefix("40{\"sid\"") }, "\(received)")
        }
    }

    /// A poll takes everything queued, not a fixed number of packets, and no more than
    /// `maxPayload` bytes: a polling client that falls behind catches up in a round trip or two.
    func testAPollTakesAllThatIsQueuedWithinMaxPayload() async throws {
        let handler = BurstHandler()
        try await withServer({ $0.maxPayload = 1000 }, handler: handler) { url, _, _ in
            let http = ConformanceTests.HTTP(base: url)
            let session = try await ConformanceTests.connectedPollingSession(http)
            _ = try await ConformanceTests.post(http, session, "42[\"burst\",100]")
            let deadline = ContinuousClock.now + .seconds(5)
            while handler.emitted.load(ordering: .relaxed) < 100 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            var responses: [[Substring]] = []
            var ticks: [String] = []
            while ticks.count < 100 && responses.count < 10 {
                let (_, body) = try await ConformanceTests.get(http, session)
                XCTAssertLessThanOrEqual(body.utf8.count, 1000)
                let packets = body.split(separator: "\u{1e}")
                responses.append(packets)
                ticks += packets.map(String.init).filter { $0.hasPrefix("42[\"tick\"") }
            }
            // 100 ticks of 12 to 13 bytes and a separator each: two responses of at most 1,000 bytes.
            XCTAssertEqual(responses.count, 2)
            XCTAssertGreaterThan(responses.first?.count ?? 0, 16)
            XCTAssertEqual(ticks, (0..<100).map { "42[\"tick\",\($0)]" }, "every event, in order")
        }
    }

    func testClosedSessionsAreForgotten() async throws {
        try await withServer { url, _, server in
            try await SocketIOClient.connect(to: url, auth: .object(["name": .string("a")]), logger: Self.logger) { _ in
                XCTAssertEqual(server.sessionCount, 1)
            }
            _ = try await Self.raw(url, send: ["4garbage{"], timeout: .seconds(2))
            let deadline = ContinuousClock.now + .seconds(3)
            while server.sessionCount > 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            XCTAssertEqual(server.sessionCount, 0, "a closed session is still held")
        }
    }

    func testPollingHandshakeMessagesAndErrors() async throws {
        try await withServer({ $0.corsOrigins = ["https://app.example"] }) { _, client in
            func get(_ query: String) async throws -> (HTTPResponse.Status, String, HTTPFields) {
                try await client.execute(uri: "/socket.io/?\(query)", method: .get, headers: [.origin: "https://app.example"]) {
                    ($0.status, String(buffer: $0.body), $0.headers)
                }
            }
            let (status, open, headers) = try await get("EIO=4&transport=polling")
            XCTAssertEqual(status, .ok)
            XCTAssertEqual(headers[.accessControlAllowOrigin], "https://app.example")
            let settings = try XCTUnwrap(JSONValue.parse(Array(open.utf8.dropFirst())))
            XCTAssertEqual(settings["upgrades"], .array([.string("websocket")]))
            let sid = try XCTUnwrap(settings["sid"]?.stringValue)

            let posted = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling&sid=\(sid)", method: .post,
                                                  body: ByteBuffer(string: "40{\"name\":\"p\"}\u{1e}42[\"shout\",1]")) { String(buffer: $0.body) }
            XCTAssertEqual(posted, "ok")
            let (_, answer, _) = try await get("EIO=4&transport=polling&sid=\(sid)")
            let packets = answer.split(separator: "\u{1e}").map(String.init)
            XCTAssertTrue(packets.first?.hasPrefix("40{\"sid\"") ?? false, answer)
            XCTAssertTrue(packets.contains("42[\"heard\",\"p\",1]"), answer)

            for (query, code) in [("EIO=3&transport=polling", 5), ("EIO=4&transport=carrier-pigeon", 0), ("EIO=4&transport=polling&sid=nope", 1)] {
                let (status, body, _) = try await get(query)
                XCTAssertEqual(status, .badRequest, query)
                XCTAssertEqual(JSONValue.parse(Array(body.utf8))?["code"], .number(Double(code)), query)
            }
            // Only GET and POST (and OPTIONS for CORS) are Engine.IO's; HEAD neither opens nor polls.
            for method in [HTTPRequest.Method.head, .put, .delete, .patch] {
                let status = try await client.execute(uri: "/socket.io/?EIO=4&transport=polling&sid=\(sid)", method: method) { $0.status }
                XCTAssertEqual(status, .badRequest, "\(method)")
            }
        }
    }
}

final class ReceivedFrames: @unchecked Sendable {
    // Guarded by `lock`: written by the reader task, read by the test.
    private let lock = NSLock()
    private var storage: [String] = []
    private var isClosed = false
    private var closing = false

    func append(_ frame: String) { lock.lock(); storage.append(frame); lock.unlock() }
    /// The server ended the connection, unless the client had begun closing it (then the end is
    /// the server's answer, not its doing).
    func markClosed() { lock.lock(); if !closing { isClosed = true }; lock.unlock() }
    func markClosing() { lock.lock(); closing = true; lock.unlock() }
    var frames: [String] { lock.lock(); defer { lock.unlock() }; return storage }
    var closed: Bool { lock.lock(); defer { lock.unlock() }; return isClosed }
}
