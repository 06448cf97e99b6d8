import Hummingbird
import Logging
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import Prometheus
import ServiceLifecycle

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

    public init(
        database: Database, redis: RedisClient, subscriber: RedisSubscriber, publisher: QueuePublisher,
        bus: CommandBus, tokens: TokenService, hasher: PasswordHasher, metrics: PrometheusCollectorRegistry
    ) {
        self.database = database
        self.redis = redis
        self.subscriber = subscriber
        self.publisher = publisher
        self.bus = bus
        self.tokens = tokens
        self.hasher = hasher
        self.metrics = metrics
    }
}

/// The HTTP side of a gateway node.
public enum Gateway {
    /// Every route of `shared/api.md` this build serves, behind error mapping and metrics.
    public static func router(_ deps: GatewayDependencies) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware())
        OperationsController(database: deps.database, redis: deps.redis, publisher: deps.publisher, metrics: deps.metrics)
            .addRoutes(to: router)

        let api = router.group("api")
        AuthController(users: deps.database.users, tokens: deps.tokens, hasher: deps.hasher)
            .addRoutes(to: api.group("auth"))
        let authenticated = api.group().add(middleware: AuthMiddleware(tokens: deps.tokens))
        UserController(users: deps.database.users).addRoutes(to: authenticated.group("users"))
        ChatController(database: deps.database, bus: deps.bus).addRoutes(to: authenticated.group("chats"))
        MessageController(database: deps.database, bus: deps.bus).addRoutes(to: authenticated.group("messages"))
        return router
    }

    /// The HTTP application on `host:port`, with the services it needs running beside it.
    public static func application(
        _ deps: GatewayDependencies, host: String, port: Int, logger: Logger
    ) -> some ApplicationProtocol {
        Application(
            router: router(deps),
            configuration: .init(address: .hostname(host, port: port), serverName: "parley"),
            services: [ReplyListener(subscriber: deps.subscriber, bus: deps.bus)],
            logger: logger
        )
    }
}

/// Routes what arrives on the node's Redis channel to the ``CommandBus``.
public struct ReplyListener: Service {
    let subscriber: RedisSubscriber
    let bus: CommandBus

    public init(subscriber: RedisSubscriber, bus: CommandBus) {
        self.subscriber = subscriber
        self.bus = bus
    }

    public func run() async throws {
        try await cancelWhenGracefulShutdown {
            await subscriber.subscribe(bus.replyChannel)
            for await message in subscriber.messages where message.channel == bus.replyChannel {
                bus.deliver(message.payload)
            }
        }
    }
}
