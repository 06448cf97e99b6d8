/// The exchange and queues a process declares before it publishes or consumes (`design.md`).
/// Declaring is idempotent, so every connection declares it again after a reconnect.
public struct Topology: Sendable {
    public var exchange: String
    public var queues: [QueueSpec]

    public init(exchange: String, queues: [QueueSpec]) {
        self.exchange = exchange
        self.queues = queues
    }

    /// One queue, its arguments and the routing keys bound to it.
    public struct QueueSpec: Sendable {
        public var name: String
        public var bindings: [String]
        public var quorum: Bool
        /// Deliveries after which the broker dead-letters the message.
        public var deliveryLimit: Int?
        /// Where dead-lettered messages go (through the default exchange).
        public var deadLetterQueue: String?

        public init(name: String, bindings: [String], quorum: Bool = true, deliveryLimit: Int? = nil, deadLetterQueue: String? = nil) {
            self.name = name
            self.bindings = bindings
            self.quorum = quorum
            self.deliveryLimit = deliveryLimit
            self.deadLetterQueue = deadLetterQueue
        }
    }

    /// Parley's topology: one topic exchange, a quorum queue per worker kind, and the parked queue
    /// that holds what keeps failing.
    public static let parley = Topology(
        exchange: "parley",
        queues: [
            QueueSpec(name: Queues.parked, bindings: []),
            QueueSpec(name: Queues.messages, bindings: ["message.*", "chat.*"], deliveryLimit: 5, deadLetterQueue: Queues.parked),
            QueueSpec(name: Queues.media, bindings: ["media.*"], deliveryLimit: 5, deadLetterQueue: Queues.parked),
            QueueSpec(name: Queues.presence, bindings: ["presence.*"], deliveryLimit: 5, deadLetterQueue: Queues.parked),
        ]
    )
}

/// Names of Parley's queues.
public enum Queues {
    public static let messages = "parley.messages"
    public static let media = "parley.media"
    public static let presence = "parley.presence"
    public static let parked = "parley.parked"
}
