import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ParleyCore
import ParleyGateway
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ParleyTestSupport
import Logging
import SocketIO
import XCTest

final class OperationsTests: XCTestCase {
    func testHealthReadinessAndMetrics() async throws {
        try await GatewayRig.run { rig in
            let health = try await rig.request(.get, "/healthz")
            XCTAssertEqual(health.status, .ok)
            let ready = try await rig.request(.get, "/readyz")
            XCTAssertEqual(ready.status, .ok, String(decoding: ready.body, as: UTF8.self))
            XCTAssertEqual(ready.json["checks"] as? [String: Bool], ["postgres": true, "redis": true, "rabbitmq": true])
            let metrics = try await rig.request(.get, "/metrics")
            XCTAssertEqual(metrics.status, .ok)
            XCTAssertTrue(metrics.headers[.contentType]?.hasPrefix("text/plain") ?? false)
            XCTAssertTrue(String(decoding: metrics.body, as: UTF8.self).contains("parley_http_request_duration_seconds"))
            let missing = try await rig.request(.get, "/api/nothing-here")
            XCTAssertEqual(missing.status, .notFound)
            XCTAssertEqual(missing.code, "not_found")

            let head = try await rig.client.execute(uri: "/healthz", method: .head, headers: [:], body: nil) { $0 }
            XCTAssertEqual(head.status, .ok)
            XCTAssertEqual(head.headers[.contentLength], String(health.body.count))
            XCTAssertEqual(head.body.readableBytes, 0)
            // Not on the Socket.IO path: a GET there opens a session, or takes a poller's packets.
            let handshake = try await rig.client.execute(uri: "/socket.io/?EIO=4&transport=polling", method: .head, headers: [:], body: nil) { $0.status }
            XCTAssertEqual(handshake, .badRequest)
        }
    }

    func testRequestMetricsCarryTheStatusTheClientGotHEADIncluded() async throws {
        try await GatewayRig.run { rig in
            let refused = try await rig.request(.get, "/api/chats")
            XCTAssertEqual(refused.status, .unauthorized)
            let invalid = try await rig.request(.post, "/api/auth/signin", json: [:])
            XCTAssertEqual(invalid.status, .badRequest)
            for _ in 0..<3 { _ = try await rig.client.execute(uri: "/api/openapi.yaml", method: .head, headers: [:], body: nil) { $0.status } }
            let text = String(decoding: try await rig.request(.get, "/metrics").body, as: UTF8.self)
            let heads = text.split(separator: "\n").first { $0.hasPrefix(#"parley_http_requests_total{http_route="/api/openapi.yaml",http_request_method="HEAD""#) }
            XCTAssertTrue(heads?.hasSuffix(" 3") ?? false, "HEAD requests not counted: \(heads ?? "none")")
            // The HEAD requests are over, not in progress for ever.
            let active = text.split(separator: "\n").first { $0.hasPrefix(#"parley_http_active_requests{http_request_method="HEAD"}"#) }
            XCTAssertEqual(active?.split(separator: " ").last, "0.0")
            let requests = text.split(separator: "\n").filter { $0.hasPrefix("parley_http_requests_total{") }
            for (route, method, status) in [("/api/chats", "GET", 401), ("/api/auth/signin", "POST", 400)] {
                let counted = requests.filter { $0.contains(#"http_route="\#(route)""#) && $0.contains(#"http_request_method="\#(method)""#) }
                XCTAssertTrue(counted.contains { $0.contains(#"http_response_status_code="\#(status)""#) }, "\(route): \(counted)")
                XCTAssertFalse(counted.contains { $0.contains(#"http_response_status_code="500""#) }, "\(route): \(counted)")
            }
        }
    }

    func testReadinessIs503WhenTheServicesAreUnreachable() async throws {
        let logger = TestServices.logger("down")
        let nowhere = ServiceURL("postgres://parley:parley@127.0.0.1:1/parley")!
        let database = Database(url: nowhere, fileLinks: TestServices.fileLinks, logger: logger)
        var redisEndpoint = TestServices.redis
        redisEndpoint.port = 1
        var amqpEndpoint = TestServices.amqp
        amqpEndpoint.port = 1
        let redis = RedisClient(endpoint: redisEndpoint, logger: logger)
        let subscriber = RedisSubscriber(endpoint: redisEndpoint, logger: logger)
        let publisher = QueuePublisher(endpoint: amqpEndpoint, logger: logger)
        let bus = CommandBus(publisher: publisher, nodeId: "down", timeout: .seconds(1), logger: logger)
        let deps = GatewayDependencies(
            database: database, redis: redis, subscriber: subscriber, publisher: publisher, bus: bus,
            tokens: await TokenService(secret: GatewayRig.secret, expiry: .seconds(60)), hasher: PasswordHasher(cost: 4),
            metrics: GatewayRig.metrics, uploads: UploadStorage(root: NSTemporaryDirectory() + "parley-down"), maxFileSize: 1024)
        let app = Gateway.application(deps, host: "127.0.0.1", port: 0, logger: logger)
        try await TestServices.run([database, redis, publisher]) {
            try await app.test(.router) { client in
                let start = ContinuousClock.now
                try await client.execute(uri: "/readyz", method: .get) { response in
                    XCTAssertEqual(response.status, .serviceUnavailable)
                    XCTAssertEqual(response.headers[.retryAfter], "1")
                }
                XCTAssertLessThan(ContinuousClock.now - start, .seconds(5), "readiness answers promptly, it does not hang")
                // Signup needs PostgreSQL: a 503 with Retry-After, never a 500 or a hang.
                let body = ByteBuffer(string: #"{"firstName":"A","lastName":"B","email":"a@b.co","password":"password123"}"#)
                try await client.execute(uri: "/api/auth/signup", method: .post, headers: [.contentType: "application/json"], body: body) { response in
                    XCTAssertEqual(response.status, .serviceUnavailable)
                    XCTAssertEqual(response.headers[.retryAfter], "1")
                }
            }
        }
    }

    func testWritesAnswer503WithinASecondWhileTheBrokerIsDown() async throws {
        try await GatewayRig.run(brokerDown: true) { rig in
            let a = try await rig.signup("A")
            let b = try await rig.signup("B")
            let (chatId, _) = try await rig.database.chats.createDirect(
                chatId: UUIDv7.make(), between: try XCTUnwrap(UUID(uuidString: a.id)), and: try XCTUnwrap(UUID(uuidString: b.id)))
            let start = ContinuousClock.now
            let sent = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId.lowercased, "text": "hello?"])
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
            XCTAssertEqual(sent.status, .serviceUnavailable)
            XCTAssertEqual(sent.headers[.retryAfter], "1")
            let history = try await rig.request(.get, "/api/messages/\(chatId.lowercased)", token: a.token)
            XCTAssertEqual((history.json["data"] as? [Any])?.count, 0, "reads keep working, nothing was stored")
        }
    }

    func testMetricsCountSocketsAcceptedAndDeliveredMessagesAndQueueTraffic() async throws {
        try await GatewayRig.run(.live) { rig in
            let (a, b, chatId) = try await rig.directChat()
            var logger = Logger(label: "metrics-test")
            logger.logLevel = .critical
            try await SocketIOClient.connect(
                to: "http://127.0.0.1:\(rig.client.port!)", auth: .object(["token": .string(b.token)]), logger: logger
            ) { client in
                let sent = try await rig.request(.post, "/api/messages", token: a.token, json: ["chatId": chatId, "text": "counted"])
                XCTAssertEqual(sent.status, .created)
                let received = await next(from: client.events) { $0.name == "message_received" }
                XCTAssertNotNil(received)
                let text = String(decoding: try await rig.request(.get, "/metrics").body, as: UTF8.self)
                for name in [
                    "parley_messages_accepted_total", "parley_messages_delivered_total", "parley_socket_connections_opened_total",
                    "parley_socket_events_emitted_total", "parley_queue_published_total", "parley_queue_delivered_total",
                    // The delivery latency histogram's sample count.
                    "parley_message_delivery_latency_seconds_count",
                ] {
                    let value = Self.value(of: name, in: text)
                    XCTAssertGreaterThan(value ?? 0, 0, "\(name) missing or zero")
                }
                XCTAssertGreaterThanOrEqual(Self.value(of: "parley_socket_connections", in: text) ?? 0, 1)
            }
            // The client has left: its socket is counted closed, with the reason it gave.
            let deadline = ContinuousClock.now + .seconds(5)
            var lines: [Substring] = []
            repeat {
                let text = String(decoding: try await rig.request(.get, "/metrics").body, as: UTF8.self)
                lines = text.split(separator: "\n").filter { $0.hasPrefix("parley_socket_connections_closed_total") }
                if lines.contains(where: { $0.hasPrefix(#"parley_socket_connections_closed_total{reason="#) && !$0.hasSuffix(" 0") }) { break }
                try await Task.sleep(for: .milliseconds(50))
            } while ContinuousClock.now < deadline
            XCTAssertTrue(lines.contains { $0.hasPrefix(#"parley_socket_connections_closed_total{reason="#) && !$0.hasSuffix(" 0") }, "\(lines)")
        }
    }

    /// The sum of a metric's samples in Prometheus text (every label set).
    static func value(of name: String, in text: String) -> Double? {
        let samples = text.split(separator: "\n").filter { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
        guard !samples.isEmpty else { return nil }
        return samples.compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }
}
