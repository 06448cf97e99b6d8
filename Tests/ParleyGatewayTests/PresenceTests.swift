import Foundation
import Logging
import ParleyCore
import ParleyStore
import PostgresNIO
import ParleyTestSupport
import SocketIO
import XCTest

/// Presence end to end: sockets on the gateway → `presence.*` through RabbitMQ → the presence
/// worker → Redis and PostgreSQL → `user_status_change` to contacts, and live status in REST.
final class PresenceTests: XCTestCase {
    static var logger: Logger {
        var logger = Logger(label: "presence-test")
        logger.logLevel = .critical
        return logger
    }

    func testStatusChangesOnlyWithTheFirstAndLastConnectionAndReachesContactsOnly() async throws {
        try await GatewayRig.run(.live, presence: .seconds(15)) { rig in
            let (a, b, _) = try await rig.directChat()
            let stranger = try await rig.signup("Stranger")
            await rig.listen(b, stranger)
            let aId = try XCTUnwrap(UUID(uuidString: a.id))
            let url = "http://127.0.0.1:\(rig.client.port!)"
            let auth = JSONValue.object(["token": .string(a.token)])

            try await SocketIOClient.connect(to: url, auth: auth, headers: [("User-Agent", "PresenceTests/1.0")], logger: Self.logger) { _ in
                let online = await rig.statusChange(for: b, of: aId)
                XCTAssertEqual(online?.isOnline, true)
                XCTAssertNil(online?.lastSeen)
                try await eventually("the connection's address and device are recorded") {
                    let rows = try await rig.database.client.query(
                        "SELECT last_login_ip, device_info FROM users WHERE id = \(aId)", logger: Self.logger)
                    for try await (ip, device) in rows.decode((String?, String?).self) { return ip == "127.0.0.1" && device == "PresenceTests/1.0" }
                    return false
                }
                let shown = try await rig.request(.get, "/api/users/\(a.id)", token: b.token)
                XCTAssertEqual(shown.data["isOnline"] as? Bool, true)

                // A second tab announces nothing, and closing it neither.
                try await SocketIOClient.connect(to: url, auth: auth, logger: Self.logger) { _ in
                    try await Task.sleep(for: .milliseconds(500))
                }
                try await Task.sleep(for: .milliseconds(500))
                let extra = await rig.statusChange(for: b, of: aId, timeout: .milliseconds(10))
                XCTAssertNil(extra, "a second tab or its close was announced")

                let status = try await rig.request(.get, "/api/users/status?ids=\(a.id),\(UUIDv7.make().lowercased)", token: b.token)
                XCTAssertEqual((status.json["data"] as? [[String: Any]])?.map { $0["isOnline"] as? Bool }, [true])
            }
            let offline = await rig.statusChange(for: b, of: aId)
            XCTAssertEqual(offline?.isOnline, false)
            let lastSeen = try XCTUnwrap(offline?.lastSeen)
            XCTAssertLessThan(abs(lastSeen.timeIntervalSinceNow), 30)
            let strangerHeard = await rig.statusChange(for: stranger, of: aId, timeout: .milliseconds(10))
            XCTAssertNil(strangerHeard, "a stranger heard of A's status")

            let status = try await rig.request(.get, "/api/users/status?ids=\(a.id)", token: b.token)
            let entry = (status.json["data"] as? [[String: Any]])?.first
            XCTAssertEqual(entry?["isOnline"] as? Bool, false)
            XCTAssertNotNil(entry?["lastSeen"] as? String)
            try await eventually(timeout: .seconds(10), "lastSeen reached PostgreSQL") {
                let me = try? await rig.request(.get, "/api/users/me", token: a.token)
                return me?.data["lastSeen"] is String
            }
        }
    }

    func testHiddenLastSeenIsNullForOthersInEventsAndQueries() async throws {
        try await GatewayRig.run(.live, presence: .seconds(15)) { rig in
            let (a, b, _) = try await rig.directChat()
            await rig.listen(b)
            let aId = try XCTUnwrap(UUID(uuidString: a.id))
            let hidden = try await rig.request(.patch, "/api/users/me", token: a.token, json: ["showLastSeen": false])
            XCTAssertEqual(hidden.status, .ok)
            let url = "http://127.0.0.1:\(rig.client.port!)"

            try await SocketIOClient.connect(to: url, auth: .object(["token": .string(a.token)]), logger: Self.logger) { _ in
                _ = await rig.statusChange(for: b, of: aId)
            }
            let offline = await rig.statusChange(for: b, of: aId)
            XCTAssertEqual(offline?.isOnline, false)
            XCTAssertNil(offline?.lastSeen)

            // B asks over its own socket.
            try await SocketIOClient.connect(to: url, auth: .object(["token": .string(b.token)]), logger: Self.logger) { client in
                let answer = try await client.emitWithAck("get_status", .object(["userIds": .array([.string(a.id)])])).first
                XCTAssertEqual(answer?["ok"], .bool(true))
                guard case .array(let entries)? = answer?["data"] else { return XCTFail("no statuses: \(String(describing: answer))") }
                XCTAssertEqual(entries.first?["isOnline"], .bool(false))
                XCTAssertEqual(entries.first?["lastSeen"], .null)
                let tooMany = try await client.emitWithAck("get_status", .object(["userIds": .array((0...200).map { _ in .string(UUIDv7.make().lowercased) })])).first
                XCTAssertEqual(tooMany?["error"]?["code"], .string("bad_request"))
            }
            try await eventually(timeout: .seconds(10), "A's own lastSeen is kept") {
                let me = try? await rig.request(.get, "/api/users/me", token: a.token)
                return me?.data["lastSeen"] is String
            }
            let seenByB = try await rig.request(.get, "/api/users/\(a.id)", token: b.token)
            XCTAssertTrue(seenByB.data["lastSeen"] is NSNull)
        }
    }
}

extension GatewayRig {
    /// Waits for a `user_status_change` of `userId` on `account`'s channel.
    func statusChange(for account: Account, of userId: UUID, timeout: Duration = .seconds(10)) async -> UserStatus? {
        let event = await recorder.next(UserEvent.self, on: Channels.user(UUID(uuidString: account.id)!), timeout: timeout) { event in
            if case .userStatusChange(let status) = event { return status.userId == userId }
            return false
        }
        guard case .userStatusChange(let status)? = event else { return nil }
        return status
    }
}
