import Foundation
import Hummingbird
import JWTKit
import HummingbirdTesting
import Logging
import MediaWorker
import MessageWorker
import ParleyMedia
import PresenceWorker
import ServiceLifecycle
import Metrics
import NIOCore
import ParleyCore
import ParleyGateway
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ParleyTestSupport
import Prometheus
import SocketIO
import XCTest

/// A gateway and a message worker in this process, over the real services and the real
/// `parley` topology, driven through Hummingbird's router tester.
struct GatewayRig: Sendable {
    static let secret = TestServices.secret
    /// One libvips pool for the whole test process.
    static let images = Result { try ImageProcessor(threads: 2) }

    struct MediaSettings: Sendable {
        var maxFileSize = 10_485_760
        var maxImagePixels = 40_000_000
    }
    /// Bootstrapped once per process so that `/metrics` has something to show.
    static let metrics: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    let database: Database
    let redis: RedisClient
    /// Sees what the worker publishes to users' channels (what their sockets would get).
    let recorder: PubSubRecorder
    /// The gateway's own subscriber: which user channels the node holds.
    let subscriber: RedisSubscriber
    let client: any TestClientProtocol
    /// What the gateway under test was built from.
    let dependencies: GatewayDependencies

    /// - Parameters:
    ///   - presence: also run a presence worker, with heartbeats every `presenceTTL / 3`.
    ///   - brokerDown: point the gateway and worker at a port where no RabbitMQ listens.
    ///   - media: also run a media worker, with uploads under a fresh temporary folder and
    ///     `maxFileSize`/`maxImagePixels` as given.
    ///   - corsOrigins: `CORS_ORIGINS`.
    static func run(
        _ framework: TestingSetup = .router, presence presenceTTL: Duration? = nil, brokerDown: Bool = false,
        media: MediaSettings? = nil, corsOrigins: [String] = [],
        _ body: @escaping @Sendable (GatewayRig) async throws -> Void
    ) async throws {
        // Before anything makes its counters: those made before the bootstrap count nowhere.
        _ = metrics
        try await TestServices.withDatabase { database in
            let logger = TestServices.logger("gateway")
            let redis = RedisClient(endpoint: TestServices.redis, logger: logger)
            let subscriber = RedisSubscriber(endpoint: TestServices.redis, logger: logger)
            var amqp = TestServices.amqp
            if brokerDown { amqp.port = 1 }
            let publisher = QueuePublisher(endpoint: amqp, logger: logger)
            let recorder = PubSubRecorder()
            let consumer = QueueConsumer(endpoint: amqp, queue: Queues.messages, prefetch: 32, logger: logger)
            let worker = MessageWorker(consumer: consumer, publisher: publisher, database: database, redis: redis, logger: logger)
            let bus = CommandBus(publisher: publisher, nodeId: "test-gw-\(UUID().uuidString.prefix(8))", timeout: .seconds(10), logger: logger)
            let uploads = UploadStorage(root: NSTemporaryDirectory() + "parley-uploads-\(UUID().uuidString.prefix(8))")
            var socketIO = SocketIOConfiguration()
            socketIO.corsOrigins = corsOrigins
            let deps = GatewayDependencies(
                database: database, redis: redis, subscriber: subscriber, publisher: publisher, bus: bus,
                tokens: await TokenService(secret: secret, expiry: .seconds(3600)), hasher: PasswordHasher(cost: 4),
                metrics: metrics, socketIO: socketIO, presenceTTL: presenceTTL ?? .seconds(15), uploads: uploads, maxFileSize: media?.maxFileSize ?? 10_485_760)
            let app = Gateway.application(deps, host: "127.0.0.1", port: 0, logger: logger)
            var services: [any Service] = [redis, subscriber, recorder, publisher, worker]
            if let presenceTTL {
                let presenceConsumer = QueueConsumer(endpoint: TestServices.amqp, queue: Queues.presence, prefetch: 32, logger: logger)
                services.append(PresenceWorker(consumer: presenceConsumer, publisher: publisher, database: database, redis: redis, nodeTTL: presenceTTL, logger: logger))
            }
            if let media {
                let mediaConsumer = QueueConsumer(endpoint: TestServices.amqp, queue: Queues.media, prefetch: 8, logger: logger)
                let policy = MediaPolicy(allowedTypes: TestServices.config.allowedFileTypes, maxImagePixels: media.maxImagePixels)
                services.append(MediaWorker(
                    consumer: mediaConsumer, publisher: publisher, database: database, redis: redis,
                    processor: MediaProcessor(images: try images.get(), policy: policy), storage: uploads, logger: logger))
            }
            defer { try? FileManager.default.removeItem(atPath: uploads.root) }
            try await TestServices.run(services) {
                if !brokerDown {
                    let connected = await publisher.waitUntilConnected()
                    XCTAssertTrue(connected, "RabbitMQ is not reachable: run `make services-up`")
                }
                await subscriber.subscribe(bus.replyChannel)
                try await app.test(framework) { client in
                    try await body(GatewayRig(
                        database: database, redis: redis, recorder: recorder, subscriber: subscriber, client: client, dependencies: deps))
                }
            }
        }
    }

    // MARK: - Tokens

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var iat = IssuedAtClaim(value: Date())
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A token made outside the gateway: any subject, any expiry, any key.
    static func token(subject: String, expiresIn seconds: TimeInterval, secret: String = secret) async throws -> String {
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(Claims(sub: .init(value: subject), exp: .init(value: Date().addingTimeInterval(seconds))))
    }

    // MARK: - Requests

    struct Reply: Sendable {
        let status: HTTPResponse.Status
        let headers: HTTPFields
        let body: Data

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
        var code: String? { json["code"] as? String }
    }

    func request(_ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: Any? = nil, raw: String? = nil) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json)) }
        if let raw { body = ByteBuffer(string: raw) }
        return try await client.execute(uri: path, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        }
    }

    struct Account: Sendable {
        let id: String
        let token: String
        let email: String
    }

    /// Two new users and their 1:1 chat, opened by the first.
    func directChat() async throws -> (a: Account, b: Account, chatId: String) {
        let a = try await signup("A")
        let b = try await signup("B")
        let chat = try await request(.post, "/api/chats", token: a.token, json: ["userId": b.id])
        return (a, b, try XCTUnwrap(chat.data["id"] as? String))
    }

    func signup(_ name: String = "Test") async throws -> Account {
        let email = TestServices.uniqueEmail(name.lowercased())
        let reply = try await request(.post, "/api/auth/signup", json: ["firstName": name, "lastName": "User", "email": email, "password": "password123"])
        XCTAssertEqual(reply.status, .created, String(decoding: reply.body, as: UTF8.self))
        let user = reply.json["user"] as? [String: Any]
        return Account(id: user?["id"] as? String ?? "", token: reply.json["token"] as? String ?? "", email: email)
    }
}
