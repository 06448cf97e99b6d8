import Foundation
import ParleyCore
import ParleyPubSub
import ParleyTestSupport
import XCTest

/// Presence transitions in Redis under the orders a queue with several consumers and
/// redeliveries can produce.
final class PresenceStoreTests: XCTestCase {
    private func withStore(_ body: @Sendable (PresenceStore) async throws -> Void) async throws {
        let redis = RedisClient(endpoint: TestServices.redis, logger: TestServices.logger("presence"))
        try await TestServices.run([redis]) { try await body(PresenceStore(redis: redis)) }
    }

    private enum Event: Sendable {
        case connect(PresenceChange), disconnect(PresenceChange)
    }

    func testShuffledAndDuplicatedEventsFromTwoWorkersLeaveNoGhost() async throws {
        try await withStore { store in
            for round in 0..<20 {
                let user = UUIDv7.make()
                let node = "node-\(UUID().uuidString.prefix(8))"
                let changes = (0..<4).map { PresenceChange(userId: user, connectionId: "\(node)/c\($0)", nodeId: node) }
                // Every connection ends, except the last one in odd rounds.
                let open = round.isMultiple(of: 2) ? 0 : 1
                var events = changes.map(Event.connect) + changes.dropLast(open).map(Event.disconnect)
                events += events.filter { _ in Bool.random() }  // redeliveries
                events.shuffle()
                let half = events.count / 2
                let (first, second) = (Array(events[..<half]), Array(events[half...]))
                // Two workers at once.
                async let a = Self.apply(first, to: store)
                async let b = Self.apply(second, to: store)
                _ = try await (a, b)

                let connections = try await store.connections(of: user)
                let online = try await store.online([user])
                // A disconnect that beat its connect tombstoned it: that connect was ignored.
                XCTAssertLessThanOrEqual(connections, open, "round \(round): ghost connections")
                XCTAssertEqual(online.contains(user), connections > 0)
            }
        }
    }

    func testTransitionsAlternateWhateverTheOrder() async throws {
        try await withStore { store in
            for _ in 0..<20 {
                let user = UUIDv7.make()
                let node = "node-\(UUID().uuidString.prefix(8))"
                let changes = (0..<3).map { PresenceChange(userId: user, connectionId: "\(node)/c\($0)", nodeId: node) }
                var events = changes.map(Event.connect) + changes.map(Event.disconnect)
                events += events
                events.shuffle()
                let announced = try await Self.apply(events, to: store)
                // online, offline, online, ...: never twice the same, never offline first.
                for (index, isOnline) in announced.enumerated() {
                    XCTAssertEqual(isOnline, index.isMultiple(of: 2), "\(announced)")
                }
                let connections = try await store.connections(of: user)
                XCTAssertEqual(connections, 0)
                XCTAssertEqual(announced.last ?? false, false)
            }
        }
    }

    func testConnectionsOfANodeThatStoppedBeatingAreReaped() async throws {
        try await withStore { store in
            let (alive, dead) = ("alive-\(UUID().uuidString.prefix(8))", "dead-\(UUID().uuidString.prefix(8))")
            let (a, b) = (UUIDv7.make(), UUIDv7.make())
            try await store.heartbeat(nodeId: dead, ttl: 1)
            try await store.heartbeat(nodeId: alive, ttl: 30)
            _ = try await store.connect(PresenceChange(userId: a, connectionId: "\(dead)/1", nodeId: dead), nodeTTL: 1)
            _ = try await store.connect(PresenceChange(userId: b, connectionId: "\(dead)/2", nodeId: dead), nodeTTL: 1)
            // b has another tab on a live node: it stays online.
            _ = try await store.connect(PresenceChange(userId: b, connectionId: "\(alive)/3", nodeId: alive), nodeTTL: 30)
            let early = try await store.reapDeadNodes()
            XCTAssertFalse(early.contains(a), "reaped while the node still beat")

            try await Task.sleep(for: .milliseconds(1500))
            let reaped = try await store.reapDeadNodes()
            XCTAssertEqual(reaped.filter { $0 == a || $0 == b }, [a])
            let online = try await store.online([a, b])
            XCTAssertEqual(online, [b])
            // A connect of a reaped connection arriving late is ignored.
            let late = try await store.connect(PresenceChange(userId: a, connectionId: "\(dead)/1", nodeId: dead), nodeTTL: 1)
            XCTAssertFalse(late.changed)
            let again = try await store.reapDeadNodes()
            XCTAssertFalse(again.contains(a))
        }
    }

    /// Applies `events` in order; returns the transitions announced (true: online).
    @discardableResult
    private static func apply(_ events: [Event], to store: PresenceStore) async throws -> [Bool] {
        var announced: [Bool] = []
        for event in events {
            switch event {
            case .connect(let change):
                if try await store.connect(change, nodeTTL: 30).changed { announced.append(true) }
            case .disconnect(let change):
                if try await store.disconnect(change).changed { announced.append(false) }
            }
        }
        return announced
    }
}
