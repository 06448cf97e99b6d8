import Foundation
import Logging
import ParleyCore
import ParleyTestSupport
import SocketIO
import XCTest

/// The chat side of the socket gateway through the project's Swift client.
final class SocketGatewayTests: XCTestCase {
    static var logger: Logger {
        var logger = Logger(label: "socket-gateway-test")
        logger.logLevel = .critical
        return logger
    }

    func testTokenOfAVanishedUserIsRefused() async throws {
        try await GatewayRig.run(.live) { rig in
            let ghost = try await GatewayRig.token(subject: UUIDv7.make().lowercased, expiresIn: 60)
            do {
                try await SocketIOClient.connect(to: "http://127.0.0.1:\(rig.client.port!)", auth: .object(["token": .string(ghost)]), logger: Self.logger) { _ in }
                XCTFail("a token for no user connected")
            } catch let error as SocketIOClient.ClientError {
                XCTAssertEqual(error, .refused("User not found"))
            }
        }
    }

    func testNodeHoldsAUsersChannelExactlyWhileItHoldsTheirSockets() async throws {
        try await GatewayRig.run(.live) { rig in
            let user = try await rig.signup("Tabs")
            let channel = Channels.user(try XCTUnwrap(UUID(uuidString: user.id)))
            let url = "http://127.0.0.1:\(rig.client.port!)"
            let auth = JSONValue.object(["token": .string(user.token)])
            XCTAssertFalse(rig.subscriber.channels.contains(channel))
            try await SocketIOClient.connect(to: url, auth: auth, logger: Self.logger) { _ in
                XCTAssertTrue(rig.subscriber.channels.contains(channel), "first socket subscribes")
                try await SocketIOClient.connect(to: url, auth: auth, logger: Self.logger) { _ in
                    XCTAssertTrue(rig.subscriber.channels.contains(channel))
                }
                // One tab closed: the other still needs the channel.
                try await Task.sleep(for: .milliseconds(200))
                XCTAssertTrue(rig.subscriber.channels.contains(channel), "second tab's close dropped the channel")
            }
            try await eventually("the channel outlived the last socket") { !rig.subscriber.channels.contains(channel) }
        }
    }

    /// A message sent over a socket comes from a user who is online, whatever presence has
    /// recorded yet (here no presence worker runs, so it records nothing); over REST, presence
    /// decides.
    func testAMessageSentOverASocketShowsItsSenderOnline() async throws {
        try await GatewayRig.run(.live) { rig in
            let (a, _, chatId) = try await rig.directChat()
            let overREST = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": "by REST"])
            XCTAssertEqual((overREST.data["sender"] as? [String: Any])?["isOnline"] as? Bool, false)
            let url = "http://127.0.0.1:\(rig.client.port!)"
            let answer = try await SocketIOClient.connect(to: url, auth: .object(["token": .string(a.token)]), logger: Self.logger) { client in
                try await client.emitWithAck("send_message", .object(["chatId": .string(chatId), "text": .string("by socket")])).first
            }
            XCTAssertEqual(answer?["ok"], .bool(true))
            XCTAssertEqual(answer?["data"]?["sender"]?["isOnline"], .bool(true))
        }
    }
}
