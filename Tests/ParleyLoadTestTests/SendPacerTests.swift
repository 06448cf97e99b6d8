import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Synchronization
import SocketIO
import XCTest

@testable import ParleyLoadTest

/// The generator's pacing against a Socket.IO server of the project's own, over real sockets.
final class SendPacerTests: XCTestCase {
    /// Acks every `send_message` and keeps its `clientMessageId`.
    final class Collector: SocketIOHandler {
        let keys = Mutex<[String]>([])

        func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .accept(userData: "") }

        func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
            guard name == "send_message", let key = arguments.first?["clientMessageId"]?.stringValue else { return }
            keys.withLock { $0.append(key) }
            ack?(.object(["ok": .bool(true)]))
        }

        func disconnected(_ socket: SocketIOSocket, reason: String) async {}
    }

    /// A run sends exactly what its plan made due over its duration, each message once, the
    /// uploads' share handed out instead of sent, and a sender without a socket counted failed;
    /// the stream of uploads ends when the duration is over, not before.
    func testSendsWhatThePlanMadeDueEachOnceAndEndsWithTheDuration() async throws {
        var logger = Logger(label: "send-pacer-test")
        logger.logLevel = .warning
        let collector = Collector()
        let server = SocketIOServer(configuration: SocketIOConfiguration(), handler: collector, logger: logger)
        let app = Application(
            router: Router(), server: .socketIO([server]),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)), services: [server], logger: logger)
        try await app.test(.live) { client in
            let url = "http://127.0.0.1:\(client.port!)"
            var held: [Int: LoadSocket] = [:]
            for user in 0..<2 { held[user] = try await LoadSocket.connect(to: url, token: "t") { _ in } }
            defer { for socket in held.values { socket.close() } }
            // User 2 has no socket.
            let chats = [LoadAccounts.Chat(id: "a", members: [0, 1]), LoadAccounts.Chat(id: "b", members: [1, 2])]
            let plan = LoadTestPlan(urls: [url], users: 3, chatSize: 2, rate: 400, duration: 0.5, rampUp: 0.2, messageSize: 1, uploadShare: 0.2)
            let recorder = LoadRecorder()
            let pacer = SendPacer(
                plan: plan, chats: chats, held: held, bodyStarts: chats.map { Array(#"{"chatId":"\#($0.id)","text":"x","clientMessageId":"#.utf8) },
                runId: "run", recorder: recorder)

            let start = ContinuousClock.now
            var uploads: [String] = []
            for await upload in pacer.start(at: start, on: held[0]!.eventLoop) { uploads.append(upload.key.text(run: "run")) }
            XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(500), "sends for the whole duration")

            let due = Int(plan.due(at: plan.duration))
            XCTAssertEqual(due, 160)
            let all = (0..<due).map { n in
                let chat = chats[n % 2]
                return "run-\(n)-\(chat.members[(n / 2) % 2])"
            }
            let uploaded = Set(all.enumerated().filter { n, _ in Int(Double(n + 1) * 0.2) > Int(Double(n) * 0.2) }.map(\.element))
            let unsendable = Set(all.filter { $0.hasSuffix("-2") }).subtracting(uploaded)
            XCTAssertEqual(uploads, all.filter(uploaded.contains), "uploads handed out in order")
            XCTAssertEqual(uploaded.count, 32)
            XCTAssertEqual(unsendable.count, 32)

            let deadline = ContinuousClock.now + .seconds(5)
            while pacer.unanswered.withLock({ $0 }) > 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            XCTAssertEqual(pacer.unanswered.withLock { $0 }, 0, "every send answered")
            let received = collector.keys.withLock { $0 }
            XCTAssertEqual(received.count, Set(received).count, "each once")
            XCTAssertEqual(Set(received), Set(all).subtracting(uploaded).subtracting(unsendable))
            let state = recorder.state.withLock { ($0.sent, $0.acked, $0.errors) }
            XCTAssertEqual(state.0, received.count + unsendable.count)
            XCTAssertEqual(state.1, received.count)
            XCTAssertEqual(state.2, ["sender not connected": unsendable.count])
        }
    }
}
