import Foundation
import Hummingbird
import Logging
import Metrics
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import Prometheus
import ServiceLifecycle
import SocketIO
import Synchronization

/// What the gateway's routes need, built once per process.
public struct GatewayDependencies: Sendable {
    public var database: Database
    public var redis: RedisClient
    public var subscriber: RedisSubscriber
    public var publisher: QueuePublisher
    public var bus: CommandBus
    public var tokens: TokenService
    public var hasher: PasswordHasher
    public var metrics: PrometheusCollectorRegistry
    public var socketIO: SocketIOConfiguration
    /// How long this node counts as alive after a heartbeat (`PRESENCE_TTL`).
    public var presenceTTL: Duration
    /// Where uploads are staged and stored files read from (`UPLOAD_PATH`).
    public var uploads: UploadStorage
    /// Largest file an upload may carry (`MAX_FILE_SIZE`).
    public var maxFileSize: Int
    /// Warnings of failing backing services, shared by the routes and sockets of this node.
    let outages = ThrottledLog()

    public init(
        database: Database, redis: RedisClient, subscriber: RedisSubscriber, publisher: QueuePublisher,
        bus: CommandBus, tokens: TokenService, hasher: PasswordHasher, metrics: PrometheusCollectorRegistry,
        socketIO: SocketIOConfiguration = .init(), presenceTTL: Duration = .seconds(15), uploads: UploadStorage, maxFileSize: Int
    ) {
        self.database = database
        self.redis = redis
        self.subscriber = subscriber
        self.publisher = publisher
        self.bus = bus
        self.tokens = tokens
        self.hasher = hasher
        self.metrics = metrics
        self.socketIO = socketIO
        self.presenceTTL = presenceTTL
        self.uploads = uploads
        self.maxFileSize = maxFileSize
    }

    /// Presence as routes read it.
    var presence: LivePresence {
        LivePresence(store: PresenceStore(redis: redis), users: database.users, logger: Logger(label: "parley.presence"), outages: outages)
    }
}

/// The HTTP side of a gateway node.
public enum Gateway {
    /// Every route of `shared/api.md` this build serves, behind error mapping and metrics.
    public static func router(_ deps: GatewayDependencies) -> Router<GatewayContext> {
        // HEAD on every GET route, as Express answers it: the GET response's status and headers
        // without its body (a file is not read).
        let router = Router(context: GatewayContext.self, options: .autoGenerateHeadEndpoints)
        // Metrics outside the error mapping, so that they count the status the client got:
        // inside, every error thrown was a 500 to them, a 401 or a 400 as well.
        router.add(middleware: RequestMetricsMiddleware())
        if let cors = APICORSMiddleware(socketIO: deps.socketIO) {
            router.add(middleware: cors)
        }
        router.add(middleware: ErrorMiddleware(outages: deps.outages))
        router.add(middleware: ContinueMiddleware())
        OperationsController(database: deps.database, redis: deps.redis, publisher: deps.publisher, metrics: deps.metrics)
            .addRoutes(to: router)

        let api = router.group("api")
        OpenAPIController().addRoutes(to: api)
        let presence = deps.presence
        AuthController(users: deps.database.users, tokens: deps.tokens, hasher: deps.hasher, presence: presence)
            .addRoutes(to: api.group("auth"))
        let authenticated = api.group().add(middleware: AuthMiddleware(tokens: deps.tokens))
        UserController(users: deps.database.users, presence: presence).addRoutes(to: authenticated.group("users"))
        ChatController(database: deps.database, bus: deps.bus, presence: presence).addRoutes(to: authenticated.group("chats"))
        let messages = MessageService(database: deps.database, bus: deps.bus)
        MessageController(database: deps.database, messages: messages, presence: presence)
            .addRoutes(to: authenticated.group("messages"))
        UploadController(messages: messages, presence: presence, storage: deps.uploads, maxFileSize: deps.maxFileSize)
            .addRoutes(to: authenticated)
        // A bearer token or a signed link: checked by the controller itself.
        FileController(
            files: deps.database.files, chats: deps.database.chats, tokens: deps.tokens, links: deps.database.fileLinks, storage: deps.uploads
        ).addRoutes(to: api.group("files"))
        return router
    }

    /// The HTTP and Socket.IO application on `host:port`, with the services it needs running
    /// beside it (the Socket.IO sessions, and the dispatcher of replies and user events).
    public static func application(
        _ deps: GatewayDependencies, host: String, port: Int, logger: Logger
    ) -> some ApplicationProtocol {
        let hub = SocketHub()
        // Once here rather than on every upload; a folder that cannot be made fails uploads with
        // the file system's error, and is said at start.
        do {
            try deps.uploads.prepare()
        } catch {
            logger.error("cannot create the upload folders", metadata: ["path": "\(deps.uploads.root)", "error": "\(error)"])
        }
        let reporter = PresenceReporter(publisher: deps.publisher, node: deps.bus.nodeId, ttl: deps.presenceTTL, logger: logger)
        let handler = ChatSocketHandler(
            tokens: deps.tokens, users: deps.database.users, chats: deps.database.chats, messages: MessageService(database: deps.database, bus: deps.bus),
            hub: hub, subscriber: deps.subscriber, redis: deps.redis, reporter: reporter, presence: deps.presence, logger: logger)
        let socketServer = SocketIOServer(configuration: deps.socketIO, handler: handler, logger: logger)
        let httpRouter = router(deps)
        socketServer.addPollingRoutes(to: httpRouter)
        return Application(
            router: httpRouter,
            server: .socketIO([socketServer]),
            configuration: .init(address: .hostname(host, port: port), serverName: "parley"),
            services: [PubSubDispatcher(subscriber: deps.subscriber, bus: deps.bus, hub: hub, logger: logger), reporter, socketServer],
            logger: logger
        )
    }
}

/// Routes what arrives on Redis: replies on the node's channel to the ``CommandBus``, events on
/// users' channels to those users' sockets here.
struct PubSubDispatcher: Service {
    let subscriber: RedisSubscriber
    let bus: CommandBus
    let hub: SocketHub
    let logger: Logger

    private let recent = RecentUserEvent()
    /// The node's reply channel, to compare with each message's channel in place.
    private let replyChannel: [UInt8]
    private let emitted = Counter(label: "parley_socket_events_emitted_total")
    private let delivered = Counter(label: "parley_messages_delivered_total")
    /// From the gateway accepting a message (its UUIDv7 id carries the millisecond) to its
    /// `message_received` being written to the recipients' sockets here.
    private let deliveryLatency = Timer(label: "parley_message_delivery_latency_seconds", preferredDisplayUnit: .seconds)

    init(subscriber: RedisSubscriber, bus: CommandBus, hub: SocketHub, logger: Logger) {
        self.subscriber = subscriber
        self.bus = bus
        self.hub = hub
        self.logger = logger
        replyChannel = Array(bus.replyChannel.utf8)
        // Before anything runs, so that no socket's channel is subscribed without a receiver.
        subscriber.receive { [self] message in route(message) }
    }

    func run() async {
        // Redis may be out of reach: the wait for its confirmation must not hold up a shutdown.
        await cancelWhenGracefulShutdown { await subscriber.subscribe(bus.replyChannel) }
        try? await gracefulShutdown()
        // Routing ends here, as it always did at shutdown; the subscriber also lets go of this
        // dispatcher, which holds the subscriber.
        subscriber.receive { _ in }
    }

    /// Runs on the subscriber's thread: every step hands work on (a continuation resumed,
    /// frames queued to the sockets' event loops).
    private func route(_ message: ReceivedPubSubMessage) {
        if message.channel.holds(replyChannel) {
            bus.deliver([UInt8](message.payload))
        } else if let userId = Channels.userId(fromChannel: message.channel) {
            guard let event = recent.prepared(message.payload) else {
                logger.warning("malformed user event", metadata: ["channel": "\(String(decoding: message.channel, as: UTF8.self))"])
                return
            }
            let count = hub.emit(event.shared, to: userId)
            guard count > 0 else { return }
            emitted.increment(by: count)
            if event.isMessage {
                delivered.increment(by: count)
                if let accepted = event.acceptedAt {
                    let age = Date().timeIntervalSince(accepted)
                    deliveryLatency.recordNanoseconds(Int64(max(0, age) * 1e9))
                }
            }
        }
    }
}

/// A user event read and made ready for sockets, kept for the channels that come next with the
/// same event: a worker publishes one event to each member's channel in a row, so the members
/// here share one packet and one WebSocket frame, read once.
final class RecentUserEvent: Sendable {
    /// A class: taken out of the lock for every channel, a struct of three buffers was retained
    /// and released three times over (about 1% of the gateway's CPU in groups of 10).
    final class Prepared: Sendable {
        /// The event as it came (`shared.rawEvent`), packet and frame.
        let shared: BroadcastEvent
        let isMessage: Bool
        /// For a message: when the gateway accepted it (its UUIDv7 id carries the millisecond).
        let acceptedAt: Date?

        init(shared: BroadcastEvent, isMessage: Bool, acceptedAt: Date?) {
            self.shared = shared
            self.isMessage = isMessage
            self.acceptedAt = acceptedAt
        }
    }

    private let last = Mutex<Prepared?>(nil)

    /// The event `payload` holds (`[name, payload]` as the worker wrote it, forwarded as it
    /// is: only the name and a message's id are read); nil for anything else. The bytes are
    /// copied only when they are not the last event's.
    func prepared(_ bytes: UnsafeRawBufferPointer) -> Prepared? {
        if let last = last.withLock({ $0 }), bytes.holds(last.shared.rawEvent) { return last }
        let payload = [UInt8](bytes)
        guard let event = EventWire(payload) else { return nil }
        let isMessage = event.name == "message_received"
        let prepared = Prepared(
            shared: BroadcastEvent(rawEvent: payload), isMessage: isMessage,
            acceptedAt: isMessage ? RawJSON.member("id", in: event.payload).flatMap(UUID.init(quotedUTF8:)).map(UUIDv7.timestamp(of:)) : nil)
        last.withLock { $0 = prepared }
        return prepared
    }
}

extension UnsafeRawBufferPointer {
    /// Whether these are the bytes of `other`, compared with `memcmp`.
    fileprivate func holds(_ other: [UInt8]) -> Bool {
        count == other.count && (isEmpty || other.withUnsafeBytes { memcmp(baseAddress!, $0.baseAddress!, count) == 0 })
    }
}
