import Foundation
import Synchronization
import XCTest

@testable import SocketIO

#if canImport(Glibc)
import Glibc
#endif

/// Emits 16 KiB events to whoever asks for a `flood`, until the socket leaves.
final class FloodHandler: SocketIOHandler {
    let reasons = Mutex<[String]>([])
    let sent = Atomic<Int>(0)

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .accept(userData: 0) }

    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
        guard name == "flood" else { return }
        let blob = JSONValue.string(String(repeating: "x", count: 16 * 1024))
        for _ in 0..<5000 where reasons.withLock({ $0.isEmpty }) {
            socket.emit("blob", blob)
            sent.add(1, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    func disconnected(_ socket: SocketIOSocket, reason: String) async {
        reasons.withLock { $0.append(reason) }
    }

    /// Waits until the flooded socket is gone, or `limit` has passed.
    func waitForDisconnect(within limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while reasons.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Emits as many `tick` events as asked, at once, and counts them.
final class BurstHandler: SocketIOHandler {
    let emitted = Atomic<Int>(0)

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .accept(userData: 0) }

    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
        guard name == "burst", case .number(let count)? = arguments.first else { return }
        for i in 0..<Int(count) {
            socket.emit("tick", .number(Double(i)))
            emitted.add(1, ordering: .relaxed)
        }
    }

    func disconnected(_ socket: SocketIOSocket, reason: String) async {}
}

extension SocketIOServerTests {
    /// A client that stops reading is dropped once the server holds more than its send buffer
    /// for it, instead of the server buffering for it without end.
    func testAClientThatStopsReadingIsDropped() async throws {
        let (reasons, sent) = try await floodAStalledClient { _ in }
        XCTAssertEqual(reasons, ["transport error"])
        // Dropped after the kernel's buffers and the 1 MiB send buffer filled, well before the
        // flood's end.
        XCTAssertGreaterThan(sent, 64)
        XCTAssertLessThan(sent, 5000)
    }

    /// How far behind a client may fall is the configured send buffer: 4 MiB more of it lets
    /// 256 more 16 KiB events through before the same stalled client is dropped.
    func testTheSendBufferDecidesHowFarBehindAClientMayFall() async throws {
        let (_, small) = try await floodAStalledClient { $0.sendBuffer = 64 * 1024 }
        let (reasons, large) = try await floodAStalledClient { $0.sendBuffer = 64 * 1024 + 4 << 20 }
        XCTAssertEqual(reasons, ["transport error"])
        let message = "\(small) events sent with 64 KiB, \(large) with 4 MiB more"
        XCTAssertGreaterThan(large - small, 200, message)
        XCTAssertLessThan(large - small, 320, message)
    }

    /// A polling client that stops polling is dropped once its queued packets pass the send
    /// buffer, not kept (and its packets held) until the ping timeout.
    func testAPollingClientThatStopsPollingIsDropped() async throws {
        let handler = FloodHandler()
        try await withServer({ $0.sendBuffer = 64 * 1024 }, handler: handler) { url, _, _ in
            let http = ConformanceTests.HTTP(base: url)
            let session = try await ConformanceTests.connectedPollingSession(http)
            _ = try await ConformanceTests.post(http, session, "42[\"flood\"]")
            // From here on the client polls no more.
            try await handler.waitForDisconnect(within: .seconds(10))
            XCTAssertEqual(handler.reasons.withLock { $0 }, ["transport error"])
            // Three 16 KiB events and their framing fit in 64 KiB; the fourth is one too many.
            XCTAssertLessThan(handler.sent.load(ordering: .relaxed), 10)
        }
    }

    /// Floods a client that reads nothing past its `open` packet until the server drops it: why
    /// it was dropped and how many events were sent.
    private func floodAStalledClient(_ configure: (inout SocketIOConfiguration) -> Void) async throws -> ([String], Int) {
        let handler = FloodHandler()
        try await withServer(configure, handler: handler) { _, client, _ in
            let socket = try StalledClient(port: client.port!)
            defer { socket.close() }
            try socket.upgrade()
            try socket.sendText(#"40"#)
            try await Task.sleep(for: .milliseconds(200))
            try socket.sendText(#"42["flood"]"#)
            try await handler.waitForDisconnect(within: .seconds(20))
        }
        return (handler.reasons.withLock { $0 }, handler.sent.load(ordering: .relaxed))
    }
}

/// A WebSocket client on a plain socket with a small receive buffer that reads only the upgrade.
final class StalledClient: Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    /// Sends the upgrade request and reads the response and the `open` packet.
    func upgrade() throws {
        try write(Array((
            "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        var buffer = [UInt8](repeating: 0, count: 4096)
        guard recv(fd, &buffer, buffer.count, 0) > 0 else { throw POSIXError(.ECONNRESET) }
    }

    /// One masked text frame (clients must mask).
    func sendText(_ text: String) throws {
        let payload = Array(text.utf8)
        precondition(payload.count < 126)
        let mask: [UInt8] = [1, 2, 3, 4]
        try write([0x81, 0x80 | UInt8(payload.count)] + mask + payload.enumerated().map { $1 ^ mask[$0 % 4] })
    }

    private func write(_ bytes: [UInt8]) throws {
        guard send(fd, bytes, bytes.count, 0) == bytes.count else { throw POSIXError(.EPIPE) }
    }

    func close() { Glibc.close(fd) }
}

/// Takes its time to hear of a socket leaving, as an application that reports it elsewhere does.
final class SlowGoodbyeHandler: SocketIOHandler {
    let reasons = Mutex<[String]>([])

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .accept(userData: 0) }
    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {}

    func disconnected(_ socket: SocketIOSocket, reason: String) async {
        try? await Task.sleep(for: .milliseconds(300))
        reasons.withLock { $0.append(reason) }
    }
}

extension SocketIOServerTests {
    /// The server's service ends only once the handler has heard of every socket leaving, so
    /// that services stopped after it (a presence reporter) still get the news.
    func testShutdownWaitsForTheHandlerToHearEverySocketLeave() async throws {
        let handler = SlowGoodbyeHandler()
        // Closed only after the server: the socket must leave because of the shutdown.
        let opened = Mutex<StalledClient?>(nil)
        defer { opened.withLock { $0?.close() } }
        try await withServer(handler: handler) { _, client, _ in
            let socket = try StalledClient(port: client.port!)
            opened.withLock { $0 = socket }
            try socket.upgrade()
            try socket.sendText(#"40"#)
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertEqual(handler.reasons.withLock { $0 }, ["server shutting down"])
    }
}

/// Keeps a weak reference to the session of the socket that connects.
final class SessionWatcher: SocketIOHandler, @unchecked Sendable {
    private let lock = Mutex(())
    private weak var watched: EngineSession?

    var session: EngineSession? { lock.withLock { _ in watched } }

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision {
        lock.withLock { _ in watched = socket.session }
        return .accept(userData: 0)
    }

    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {}
    func disconnected(_ socket: SocketIOSocket, reason: String) async {}
}

extension SocketIOServerTests {
    /// A session that ended is freed, with its connection and sockets (they hold each other
    /// until the handler has heard the sockets leave).
    func testAnEndedSessionIsFreed() async throws {
        let watcher = SessionWatcher()
        try await withServer(handler: watcher) { url, _, _ in
            try await SocketIOClient.connect(to: url, logger: Self.logger) { _ in
                XCTAssertNotNil(watcher.session)
            }
            let deadline = ContinuousClock.now + .seconds(3)
            while watcher.session != nil && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            XCTAssertNil(watcher.session, "the session outlived its connection")
        }
    }
}

/// Lets work through once it is open: what comes before waits, and goes on when it opens.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, held: [@Sendable () -> Void])>((false, []))

    func open() {
        let held = state.withLock { state in
            state.open = true
            defer { state.held.removeAll() }
            return state.held
        }
        for goOn in held { goOn() }
    }

    /// Runs `goOn` now if the gate is open, else when it opens.
    func pass(_ goOn: @escaping @Sendable () -> Void) {
        let open = state.withLock { state in
            if !state.open { state.held.append(goOn) }
            return state.open
        }
        if open { goOn() }
    }
}

/// Holds `hold` events until the gate opens; answers `echo` at once.
final class GateHandler: SocketIOHandler {
    private let gate = Gate()

    func open() { gate.open() }

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .accept(userData: 0) }

    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
        switch name {
        case "hold":
            await withCheckedContinuation { waiter in gate.pass { waiter.resume() } }
        case "echo":
            ack?.send(arguments)
        default:
            break
        }
    }

    func disconnected(_ socket: SocketIOSocket, reason: String) async {}
}

extension SocketIOServerTests {
    /// With `limit` `hold` events at work, an `echo` after them is not read until `open` lets
    /// them end; then it is, and the next is answered.
    static func assertReadNoFurtherWhileHeld(_ client: SocketIOClient, limit: Int, open: () -> Void) async throws {
        for _ in 0..<limit { client.emit("hold") }
        do {
            _ = try await client.emitWithAck("echo", .number(2), timeout: .milliseconds(500))
            XCTFail("the server read past the limit")
        } catch let error as SocketIOClient.ClientError {
            XCTAssertEqual(error, .timeout)
        }
        open()
        let after = try await client.emitWithAck("echo", .number(3), timeout: .seconds(3))
        XCTAssertEqual(after, [.number(3)])
    }

    /// Past `concurrentEventsPerConnection` events at work, the server reads nothing more from
    /// that WebSocket until one finishes.
    func testAConnectionIsReadNoFurtherWhileItsEventsAreAtTheLimit() async throws {
        let gate = GateHandler()
        try await withEchoingClient(limit: 4, handler: gate) { client in
            try await Self.assertReadNoFurtherWhileHeld(client, limit: 4, open: gate.open)
        }
    }

    /// A client of a server that lets a connection have `limit` events at work, once a first
    /// `echo` came back through `handler`.
    func withEchoingClient(
        limit: Int, handler: any SocketIOHandler, _ body: @escaping @Sendable (SocketIOClient) async throws -> Void
    ) async throws {
        try await withServer({ $0.concurrentEventsPerConnection = limit }, handler: handler) { url, _, _ in
            try await SocketIOClient.connect(to: url, logger: Self.logger) { client in
                let first = try await client.emitWithAck("echo", .number(1), timeout: .seconds(3))
                XCTAssertEqual(first, [.number(1)])
                try await body(client)
            }
        }
    }
}

/// Handles `hold` and `echo` without tasks, `hold` ending only once the gate opens; counts the
/// events that reached the async path instead.
final class TasklessGateHandler: SocketIOHandler {
    private let gate = Gate()
    private let inTasks = Mutex(0)

    var eventsInTasks: Int { inTasks.withLock { $0 } }

    func open() { gate.open() }

    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .accept(userData: 0) }

    func eventWithoutTask(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?, done: @escaping @Sendable () -> Void) -> Bool {
        switch name {
        case "hold":
            gate.pass(done)
            return true
        case "echo":
            ack?.send(arguments)
            done()
            return true
        default:
            return false
        }
    }

    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
        inTasks.withLock { $0 += 1 }
        ack?.send(arguments)
    }

    func disconnected(_ socket: SocketIOSocket, reason: String) async {}
}

extension SocketIOServerTests {
    /// Events a handler takes without a task are answered as the others are, count against
    /// `concurrentEventsPerConnection` until they end, and the rest still run in tasks.
    func testEventsHandledWithoutATaskCountAgainstTheLimitUntilTheyEnd() async throws {
        let gate = TasklessGateHandler()
        try await withEchoingClient(limit: 4, handler: gate) { client in
            let other = try await client.emitWithAck("other", .string("x"), timeout: .seconds(3))
            XCTAssertEqual(other, [.string("x")])
            XCTAssertEqual(gate.eventsInTasks, 1, "only the event the handler declined ran in a task")
            try await Self.assertReadNoFurtherWhileHeld(client, limit: 4, open: gate.open)
        }
    }
}
