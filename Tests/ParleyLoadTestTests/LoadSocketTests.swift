import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import SocketIO
import XCTest

@testable import ParleyLoadTest

/// The generator's socket against a Socket.IO server of the project's own, over real sockets.
final class LoadSocketTests: XCTestCase {
    /// Acks `send_message` whose text is "answer"; leaves any other unanswered.
    struct PickyHandler: SocketIOHandler {
        func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .accept(userData: "") }

        func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
            if name == "send_message", arguments.first?["text"]?.stringValue == "answer" { ack?(.object(["ok": .bool(true)])) }
        }

        func disconnected(_ socket: SocketIOSocket, reason: String) async {}
    }

    /// What a send came to, and after how long.
    private static func send(_ text: String, on socket: LoadSocket, timeout: Duration) async -> (Result<LoadSocket.Answer, LoadSocket.Failure>, Duration) {
        let start = ContinuousClock.now
        let result = await withCheckedContinuation { continuation in
            socket.eventLoop.execute {
                socket.sendMessage(JSONValue.object(["text": .string(text)]).serialized, timeout: timeout) { result in
                    continuation.resume(returning: result.mapError { $0 as? LoadSocket.Failure ?? .handshake("\($0)") })
                }
            }
        }
        return (result, ContinuousClock.now - start)
    }

    /// Its masked frames reach the server, acks come back, and a send left unanswered fails as a
    /// timeout once its time is up, not before and not long after.
    func testAnAnsweredSendIsOkAndAnUnansweredOneTimesOut() async throws {
        var logger = Logger(label: "load-socket-test")
        logger.logLevel = .warning
        let server = SocketIOServer(configuration: SocketIOConfiguration(), handler: PickyHandler(), logger: logger)
        let app = Application(
            router: Router(), server: .socketIO([server]),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)), services: [server], logger: logger)
        try await app.test(.live) { client in
            let socket = try await LoadSocket.connect(to: "http://127.0.0.1:\(client.port!)", token: "t") { _ in }
            defer { socket.close() }
            // Without a sweep the unanswered send would wait for ever: closing ends it as `closed`.
            let backstop = Task {
                try await Task.sleep(for: .seconds(3))
                socket.close()
            }
            defer { backstop.cancel() }
            let timeout = Duration.milliseconds(400)
            let (answered, _) = await Self.send("answer", on: socket, timeout: timeout)
            XCTAssertEqual(try answered.get(), .ok)
            async let ignored = Self.send("ignore me", on: socket, timeout: timeout)
            let (result, waited) = await ignored
            XCTAssertThrowsError(try result.get()) { XCTAssertEqual($0 as? LoadSocket.Failure, .timeout) }
            XCTAssertGreaterThanOrEqual(waited, timeout)
            // Swept a tenth of the timeout after it passed; the margin is for a loaded machine.
            XCTAssertLessThan(waited, timeout + .seconds(1), "swept soon after it passed")
            let (again, _) = await Self.send("answer", on: socket, timeout: timeout)
            XCTAssertEqual(try again.get(), .ok, "the socket goes on after a timeout")
        }
    }

    /// Sockets take the event loops of the generator's group in turn, so that each loop reads
    /// an equal share of the deliveries.
    func testSocketsAreSpreadEvenlyOverTheEventLoops() async throws {
        var logger = Logger(label: "load-socket-test")
        logger.logLevel = .warning
        // The server on loops of its own: the generator's group is asked only by the sockets.
        let serverLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = SocketIOServer(configuration: SocketIOConfiguration(), handler: PickyHandler(), logger: logger)
        let app = Application(
            router: Router(), server: .socketIO([server]),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)), services: [server],
            eventLoopGroupProvider: .shared(serverLoops), logger: logger)
        try await app.test(.live) { client in
            let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
            var sockets: [LoadSocket] = []
            defer { for socket in sockets { socket.close() } }
            for _ in 0..<(4 * loops.count) {
                sockets.append(try await LoadSocket.connect(to: "http://127.0.0.1:\(client.port!)", token: "t") { _ in })
            }
            let counts = loops.map { loop in sockets.count { $0.eventLoop === loop } }
            XCTAssertEqual(counts, Array(repeating: 4, count: loops.count))
        }
        try await serverLoops.shutdownGracefully()
    }
}
