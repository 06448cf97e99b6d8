import ParleyCore

/// Where and as whom to connect to RabbitMQ.
public struct AMQPEndpoint: Sendable {
    public var host: String
    public var port: Int
    public var vhost: String
    public var user: String
    public var password: String
    /// Seconds between AMQP heartbeats; a dead peer is noticed after about two.
    public var heartbeat: Int

    public init(url: ServiceURL, heartbeat: Int = 10) {
        host = url.host
        port = url.port ?? 5672
        vhost = url.path.isEmpty ? "/" : url.path
        user = url.user ?? "guest"
        password = url.password ?? "guest"
        self.heartbeat = heartbeat
    }
}

/// Why a queue operation failed.
public enum QueueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not connected to the broker (down, or reconnecting): the caller answers 503 at once.
    case unavailable(String)
    /// The broker refused the message (nack, or no queue bound to its routing key).
    case rejected(String)
    /// A protocol or channel error on an open connection.
    case failed(String)

    public var description: String {
        switch self {
        case .unavailable(let s): "broker unavailable: \(s)"
        case .rejected(let s): "broker rejected the message: \(s)"
        case .failed(let s): "AMQP error: \(s)"
        }
    }
}
