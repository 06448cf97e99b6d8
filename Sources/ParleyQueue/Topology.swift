/// The exchange and queues a process declares before it publishes or consumes (`design.md`).
/// Declaring is idempotent, so every connection declares it again after a reconnect.
public struct Topology: Sendable {
    public var exchange: String
    public var queues: [QueueSpec]
    /// The waits, in seconds, of the delay queues a failed command is retried through: attempt
    /// n waits `retryDelays[n - 1]`, then the command is parked.
    public var retryDelays: [Int]

    public init(exchange: String, queues: [QueueSpec], retryDelays: [Int] = [1, 2, 4, 8, 16, 32, 64]) {
        self.exchange = exchange
        self.queues = queues
        self.retryDelays = retryDelays
    }

    /// The fanout exchange, and its queue of the same name, that hold a retried command for
    /// `seconds` before dead-lettering it back to ``exchange`` under its own routing key.
    public func retryExchange(seconds: Int) -> String { "\(exchange).retry.\(seconds)s" }

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
