import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
@testable import SocketIO
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The cases of the official Engine.IO v4 and Socket.IO v5 protocol test suites, written anew
/// against ``ConformanceServer`` (what `parley socketio-conformance` runs).
final class ConformanceTests: XCTestCase {
    typealias Frame = RawSocket.Frame

    static func withServer(
        configuration: SocketIOConfiguration = ConformanceServer.configuration,
        _ body: @escaping @Sendable (String, HTTP) async throws -> Void
    ) async throws {
        var logger = Logger(label: "conformance")
        logger.logLevel = .critical
        try await ConformanceServer.application(port: 0, configuration: configuration, logger: logger).test(.live) { client in
            let host = "127.0.0.1:\(client.port!)"
            try await body(host, HTTP(base: "http://\(host)"))
        }
    }

    /// Plain HTTP requests, each on its own connection, so that a poll and a post can overlap.
    struct HTTP: Sendable {
        let base: String

        func request(_ method: String, _ uri: String, _ body: String? = nil) async throws -> (Int, String) {
            var request = URLRequest(url: URL(string: base + uri)!)
            request.httpMethod = method
            request.httpBody = body.map { Data($0.utf8) }
            let configuration = URLSessionConfiguration.ephemeral
            configuration.httpMaximumConnectionsPerHost = 8
            let session = URLSession(configuration: configuration)
            defer { session.finishTasksAndInvalidate() }
            let (data, response) = try await session.data(for: request)
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
        }
    }

    static func get(_ client: HTTP, _ uri: String) async throws -> (Int, String) {
        try await client.request("GET", uri)
    }

    static func post(_ client: HTTP, _ uri: String, _ body: String) async throws -> (Int, String) {
        try await client.request("POST", uri, body)
    }

    static func openSettings(_ text: String) throws -> [String: JSONValue] {
        XCTAssertTrue(text.hasPrefix("0"), text)
        guard case .object(let settings)? = JSONValue.parse(Array(text.utf8.dropFirst())) else { throw XCTSkip("unreachable") }
        return settings
    }

    static func pollingSession(_ client: HTTP, _ path: String) async throws -> String {
        let (_, text) = try await get(client, "/\(path)/?EIO=4&transport=polling")
        return try XCTUnwrap(openSettings(text)["sid"]?.stringValue)
    }

    /// A polling session connected to the main namespace, its CONNECT answer read: the URI to
    /// poll and post to.
    static func connectedPollingSession(_ client: HTTP) async throws -> String {
        let sid = try await pollingSession(client, "socket.io")
        let session = "/socket.io/?EIO=4&transport=polling&sid=\(sid)"
        _ = try await post(client, session, "40")
        _ = try await get(client, session)
        return session
    }

    // MARK: - Engine.IO: handshake

    func testPollingHandshakeOpensASession() async throws {
        try await Self.withServer { _, client in
            for path in ["engine.io", "socket.io"] {
                let (status, text) = try await Self.get(client, "/\(path)/?EIO=4&transport=polling")
                XCTAssertEqual(status, 200)
                let settings = try Self.openSettings(text)
                XCTAssertEqual(Set(settings.keys), ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"])
                XCTAssertNotNil(settings["sid"]?.stringValue)
                XCTAssertEqual(settings["upgrades"], .array([.string("websocket")]))
                XCTAssertEqual(settings["pingInterval"], .number(300))
                XCTAssertEqual(settings["pingTimeout"], .number(200))
                XCTAssertEqual(settings["maxPayload"], .number(1_000_000))
            }
        }
    }

    func testHandshakeRejectsBadParametersAndMethods() async throws {
        try await Self.withServer { _, client in
            for query in ["transport=polling", "EIO=abc&transport=polling", "EIO=4", "EIO=4&transport=abc"] {
                let (status, _) = try await Self.get(client, "/engine.io/?\(query)")
                XCTAssertEqual(status, 400, query)
            }
            let (postStatus, _) = try await Self.post(client, "/engine.io/?EIO=4&transport=polling", "")
            XCTAssertEqual(postStatus, 400)
            let (putStatus, _) = try await client.request("PUT", "/engine.io/?EIO=4&transport=polling")
            XCTAssertEqual(putStatus, 400)
        }
    }

    func testWebSocketHandshakeOpensASessionAndRejectsBadParameters() async throws {
        try await Self.withServer { host, _ in
            try await RawSocket.with("ws://\(host)/engine.io/?EIO=4&transport=websocket") { socket in
                guard case .text(let open)? = await socket.next() else { return XCTFail("no open packet") }
                let settings = try Self.openSettings(open)
                XCTAssertEqual(Set(settings.keys), ["sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"])
                XCTAssertEqual(settings["upgrades"], .array([]))
            }
            for query in ["transport=websocket", "EIO=abc&transport=websocket", "EIO=4", "EIO=4&transport=abc"] {
                do {
                    try await RawSocket.with("ws://\(host)/engine.io/?\(query)") { socket in
                        await assertCloses(socket, query)
                    }
                } catch {
                    // Refusing the upgrade outright is the other correct answer.
                }
            }
        }
    }

    // MARK: - Engine.IO: messages

    func testPollingMessagesAreEchoed() async throws {
        try await Self.withServer { _, client in
            for payload in ["4hello", "4test1\u{1e}4test2\u{1e}4test3", "4hello\u{1e}bAQIDBA=="] {
                let sid = try await Self.pollingSession(client, "engine.io")
                let (status, ok) = try await Self.post(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)", payload)
                XCTAssertEqual(status, 200)
                XCTAssertEqual(ok, "ok")
                let (_, echoed) = try await Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)")
                XCTAssertEqual(echoed, payload)
            }
        }
    }

    func testPollingSessionClosesOnInvalidPacketOrDuplicatePoll() async throws {
        try await Self.withServer { _, client in
            let sid = try await Self.pollingSession(client, "engine.io")
            let (status, _) = try await Self.post(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)", "abc")
            XCTAssertEqual(status, 400)
            let (after, _) = try await Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)")
            XCTAssertEqual(after, 400)

            let second = try await Self.pollingSession(client, "engine.io")
            async let first = Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(second)")
            try await Task.sleep(for: .milliseconds(50))
            let (duplicate, _) = try await Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(second)&t=burst")
            XCTAssertEqual(duplicate, 400)
            let (firstStatus, firstBody) = try await first
            XCTAssertEqual(firstStatus, 200)
            XCTAssertEqual(firstBody, "1")
            let (later, _) = try await Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(second)")
            XCTAssertEqual(later, 400)
        }
    }

    func testWebSocketMessagesAreEchoedAndInvalidPacketsClose() async throws {
        try await Self.withServer { host, _ in
            try await RawSocket.with("ws://\(host)/engine.io/?EIO=4&transport=websocket") { socket in
                _ = await socket.next()
                socket.send("4hello")
                await assertNext(socket, .text("4hello"))
                socket.send(binary: [1, 2, 3, 4])
                await assertNext(socket, .binary([1, 2, 3, 4]))
                socket.send("abc")
                await assertCloses(socket)
            }
        }
    }

    // MARK: - Engine.IO: heartbeat and close

    /// The suites' 200 ms for a pong is shorter than the stalls of a loaded test machine (over
    /// polling, a pong goes out only after the ping's poll was answered and a new request made):
    /// the polling heartbeat is tested with a second for it. Its Socket.IO sessions never connect
    /// a namespace, so the connect deadline is put out of reach: at the suites' 1 s, three ping
    /// rounds on a loaded machine outlasted it (the session closed, the poll answered `noop`),
    /// and an unanswered ping's session could have ended by it rather than by its ping.
    static var pollingHeartbeat: SocketIOConfiguration {
        var configuration = ConformanceServer.configuration
        configuration.pingTimeout = .seconds(1)
        configuration.connectTimeout = .seconds(60)
        return configuration
    }

    func testHeartbeatOverPolling() async throws {
        // Answered pings keep a session: with a timeout long enough that a stall of this
        // machine between a poll's ping and its pong (seen once in a cold CI run: the session
        // closed, the poll answered `noop`) does not end it.
        var patient = Self.pollingHeartbeat
        patient.pingTimeout = .seconds(10)
        try await Self.withServer(configuration: patient) { _, client in
            for path in ["engine.io", "socket.io"] {
                let sid = try await Self.pollingSession(client, path)
                for _ in 0..<3 {
                    let (status, ping) = try await Self.get(client, "/\(path)/?EIO=4&transport=polling&sid=\(sid)")
                    XCTAssertEqual(status, 200)
                    XCTAssertEqual(ping, "2", path)
                    let (pongStatus, _) = try await Self.post(client, "/\(path)/?EIO=4&transport=polling&sid=\(sid)", "3")
                    XCTAssertEqual(pongStatus, 200)
                }
            }
        }
        // An unanswered one ends it.
        let configuration = Self.pollingHeartbeat
        try await Self.withServer(configuration: configuration) { _, client in
            for path in ["engine.io", "socket.io"] {
                let silent = try await Self.pollingSession(client, path)
                try await Task.sleep(for: configuration.pingInterval + configuration.pingTimeout + .milliseconds(300))
                let (status, _) = try await Self.get(client, "/\(path)/?EIO=4&transport=polling&sid=\(silent)")
                XCTAssertEqual(status, 400, "the session outlived its ping timeout on \(path)")
            }
        }
    }

    func testHeartbeatOverWebSocket() async throws {
        // As over polling: answered pings with room for a stall of the machine, then the
        // conformance suite's 200 ms for one that goes unanswered.
        var patient = ConformanceServer.configuration
        patient.pingTimeout = .seconds(10)
        try await Self.withServer(configuration: patient) { host, _ in
            for path in ["engine.io", "socket.io"] {
                try await RawSocket.with("ws://\(host)/\(path)/?EIO=4&transport=websocket") { socket in
                    _ = await socket.next()
                    for _ in 0..<3 {
                        await assertNext(socket, .text("2"), timeout: .seconds(1))
                        socket.send("3")
                    }
                }
            }
        }
        try await Self.withServer { host, _ in
            for path in ["engine.io", "socket.io"] {
                try await RawSocket.with("ws://\(host)/\(path)/?EIO=4&transport=websocket") { socket in
                    _ = await socket.next()
                    await assertCloses(socket, "no pong, yet the session stayed")
                }
            }
        }
    }

    func testClientCloseEndsTheSession() async throws {
        try await Self.withServer { host, client in
            let sid = try await Self.pollingSession(client, "engine.io")
            async let poll = Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)")
            try await Task.sleep(for: .milliseconds(50))
            _ = try await Self.post(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)", "1")
            let (status, body) = try await poll
            XCTAssertEqual(status, 200)
            XCTAssertEqual(body, "6")
            let (after, _) = try await Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)")
            XCTAssertEqual(after, 400)

            try await RawSocket.with("ws://\(host)/engine.io/?EIO=4&transport=websocket") { socket in
                _ = await socket.next()
                socket.send("1")
                await assertCloses(socket)
            }
        }
    }

    // MARK: - Engine.IO: upgrade

    func testUpgradeFromPollingToWebSocket() async throws {
        try await Self.withServer { host, client in
            let sid = try await Self.pollingSession(client, "engine.io")
            try await RawSocket.with("ws://\(host)/engine.io/?EIO=4&transport=websocket&sid=\(sid)") { socket in
                socket.send("2probe")
                await assertNext(socket, .text("3probe"))
                let (status, noop) = try await Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)")
                XCTAssertEqual(status, 200)
                XCTAssertEqual(noop, "6")
                socket.send("5")
                socket.send("4hello")
                await assertNext(socket, .text("4hello"))

                // After the upgrade, polling with that sid is refused and the WebSocket goes on.
                let (late, _) = try await Self.get(client, "/engine.io/?EIO=4&transport=polling&sid=\(sid)")
                XCTAssertEqual(late, 400)
                socket.send("4again")
                await assertNext(socket, .text("4again"))

                // So is a second WebSocket for the same session.
                do {
                    try await RawSocket.with("ws://\(host)/engine.io/?EIO=4&transport=websocket&sid=\(sid)") { second in
                        await assertCloses(second)
                    }
                } catch {}
            }
        }
    }

    // MARK: - Socket.IO

    static func connected(_ host: String, _ connect: String = "40", namespace prefix: String = "", _ body: @escaping @Sendable (RawSocket) async throws -> Void) async throws {
        try await RawSocket.with("ws://\(host)/socket.io/?EIO=4&transport=websocket", autoPong: true) { socket in
            _ = await socket.next()
            socket.send(connect)
            guard case .text(let handshake)? = await socket.next() else { return XCTFail("no CONNECT answer") }
            XCTAssertTrue(handshake.hasPrefix("40\(prefix)"), handshake)
            guard case .object(let payload)? = JSONValue.parse(Array(handshake.utf8.dropFirst(2 + prefix.count))) else {
                return XCTFail("CONNECT answer without payload: \(handshake)")
            }
            XCTAssertEqual(Set(payload.keys), ["sid"])
            try await body(socket)
        }
    }

    func testConnectToNamespacesWithAndWithoutPayload() async throws {
        try await Self.withServer { host, _ in
            try await Self.connected(host) { await assertNext($0, .text("42[\"auth\",{}]")) }
            try await Self.connected(host, "40{\"token\":\"123\"}") { await assertNext($0, .text("42[\"auth\",{\"token\":\"123\"}]")) }
            try await Self.connected(host, "40/custom,", namespace: "/custom,") { await assertNext($0, .text("42/custom,[\"auth\",{}]")) }
            try await Self.connected(host, "40/custom,{\"token\":\"abc\"}", namespace: "/custom,") {
                await assertNext($0, .text("42/custom,[\"auth\",{\"token\":\"abc\"}]"))
            }
        }
    }

    func testUnknownNamespaceAndInvalidHandshake() async throws {
        try await Self.withServer { host, _ in
            try await RawSocket.with("ws://\(host)/socket.io/?EIO=4&transport=websocket", autoPong: true) { socket in
                _ = await socket.next()
                socket.send("40/random")
                await assertNext(socket, .text("44/random,{\"message\":\"Invalid namespace\"}"))
            }
            try await RawSocket.with("ws://\(host)/socket.io/?EIO=4&transport=websocket", autoPong: true) { socket in
                _ = await socket.next()
                socket.send("4abc")
                await assertCloses(socket)
            }
        }
    }

    func testDisconnectingNamespaces() async throws {
        try await Self.withServer { host, _ in
            try await Self.connected(host) { socket in
                _ = await socket.next()
                socket.send("41")
                await assertCloses(socket, "leaving the last namespace ends the session")
            }
            try await Self.connected(host) { socket in
                _ = await socket.next()
                socket.send("40/custom,")
                _ = await socket.next()
                _ = await socket.next()
                socket.send("41/custom,")
                socket.send("42[\"message\",\"message to main namespace\"]")
                await assertNext(socket, .text("42[\"message-back\",\"message to main namespace\"]"))
            }
        }
    }

    func testMessagesAcksAndBinaryAttachments() async throws {
        try await Self.withServer { host, _ in
            try await Self.connected(host) { socket in
                _ = await socket.next()
                socket.send("42[\"message\",1,\"2\",{\"3\":[true]}]")
                await assertNext(socket, .text("42[\"message-back\",1,\"2\",{\"3\":[true]}]"))
                // A plain event has no attachments: what looks like a placeholder is an object.
                socket.send("42[\"message\",{\"_placeholder\":true,\"num\":0}]")
                await assertNext(socket, .text("42[\"message-back\",{\"_placeholder\":true,\"num\":0}]"))

                socket.send("452-[\"message\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")
                socket.send(binary: [1, 2, 3])
                socket.send(binary: [4, 5, 6])
                await assertNext(socket, .text("452-[\"message-back\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"))
                await assertNext(socket, .binary([1, 2, 3]))
                await assertNext(socket, .binary([4, 5, 6]))

                socket.send("42456[\"message-with-ack\",1,\"2\",{\"3\":[false]}]")
                await assertNext(socket, .text("43456[1,\"2\",{\"3\":[false]}]"))

                socket.send("452-789[\"message-with-ack\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")
                socket.send(binary: [1, 2, 3])
                socket.send(binary: [4, 5, 6])
                await assertNext(socket, .text("462-789[{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]"))
                await assertNext(socket, .binary([1, 2, 3]))
                await assertNext(socket, .binary([4, 5, 6]))
            }
        }
    }

    func testInvalidEventPacketsCloseTheConnection() async throws {
        try await Self.withServer { host, _ in
            for bad in ["4abc", "42{}", "42abc[\"message-with-ack\",1,\"2\",{\"3\":[false]}]", "42[\"disconnect\"]", "42[\"message\""] {
                try await Self.connected(host) { socket in
                    _ = await socket.next()
                    socket.send(bad)
                    await assertCloses(socket, bad)
                }
            }
        }
    }
}

func assertNext(_ socket: RawSocket, _ expected: RawSocket.Frame, timeout: Duration = .seconds(3), file: StaticString = #filePath, line: UInt = #line) async {
    let frame = await socket.next(timeout: timeout)
    XCTAssertEqual(frame, expected, file: file, line: line)
}

func assertCloses(_ socket: RawSocket, _ message: String = "the server kept the connection open", file: StaticString = #filePath, line: UInt = #line) async {
    let closed = await socket.waitForClose()
    XCTAssertTrue(closed, message, file: file, line: line)
}
