import Foundation
@testable import SocketIO
import Synchronization
import XCTest

extension SocketIOServerTests {
    /// Holds every socket; `broadcast` sends its arguments to all of them as one `news` event.
    final class BroadcastHandler: SocketIOHandler {
        let sockets = Mutex<[SocketIOSocket]>([])

        func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision {
            .accept(userData: 0)
        }

        func connected(_ socket: SocketIOSocket, auth: JSONValue?) async {
            sockets.withLock { $0.append(socket) }
        }

        func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
            guard name == "broadcast" else { return }
            let event = BroadcastEvent(rawEvent: JSONValue.array([.string("news")] + arguments).serialized)
            for socket in sockets.withLock({ $0 }) { socket.emit(event) }
            ack?.send([])
        }

        func disconnected(_ socket: SocketIOSocket, reason: String) async {}
    }

    func testAnEventMadeOnceReachesEverySocketAsItsOwnWouldHave() async throws {
        let handler = BroadcastHandler()
        try await withServer(namespaces: ["/", "/custom"], handler: handler) { url, _, _ in
            let http = ConformanceTests.HTTP(base: url)
            let polling = try await ConformanceTests.connectedPollingSession(http)
            try await SocketIOClient.connect(to: url, logger: Self.logger) { main in
                try await SocketIOClient.connect(to: url, namespace: "/custom", logger: Self.logger) { custom in
                    try await SocketIOClient.connect(to: url, logger: Self.logger) { second in
                        XCTAssertEqual(handler.sockets.withLock { $0.count }, 4)
                        let news: [JSONValue] = [.string("déjà \"vu\""), .object(["n": .number(7)])]
                        _ = try await main.emitWithAck("broadcast", news[0], news[1])
                        // Over WebSocket, the shared frame; in another namespace, a packet of its own.
                        for client in [main, second, custom] {
                            let event = await Self.nextEvent(of: client)
                            XCTAssertEqual(event?.name, "news")
                            XCTAssertEqual(event?.arguments, news)
                        }
                        // Over polling, the packet as `emit(rawEvent:)` writes it.
                        let (status, body) = try await ConformanceTests.get(http, polling)
                        XCTAssertEqual(status, 200)
                        XCTAssertEqual(body, "42" + String(decoding: JSONValue.array([.string("news")] + news).serialized, as: UTF8.self))
                    }
                }
            }
        }
    }

    /// The client's next event; nil if none comes within three seconds.
    static func nextEvent(of client: SocketIOClient) async -> SocketIOClient.Event? {
        await withTaskGroup(of: SocketIOClient.Event?.self) { group in
            group.addTask {
                var events = client.events.makeAsyncIterator()
                return await events.next()
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(3))
                return nil
            }
            defer { group.cancelAll() }
            return await group.next() ?? nil
        }
    }
}
