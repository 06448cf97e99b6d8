import ParleyCore

/// Where to connect to Redis.
public struct RedisEndpoint: Sendable {
    public var host: String
    public var port: Int
    /// Read and write timeout of command connections (0: none).
    public var timeoutMilliseconds: Int
    public var connectTimeoutMilliseconds: Int

    public init(url: ServiceURL, timeoutMilliseconds: Int = 2000, connectTimeoutMilliseconds: Int = 2000) {
        host = url.host
        port = url.port ?? 6379
        self.timeoutMilliseconds = timeoutMilliseconds
        self.connectTimeoutMilliseconds = connectTimeoutMilliseconds
    }
}

/// A Redis reply.
public enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int)
    case array([RedisValue])
    case null
    case error(String)

    /// The value as text, for bulk strings and status replies.
    public var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let s): s
        default: nil
        }
    }
}

/// Why a Redis operation failed.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection (down or reconnecting): callers answer 503.
    case unavailable(String)
    /// Redis answered with an error reply.
    case reply(String)

    public var description: String {
        switch self {
        case .unavailable(let s): "redis unavailable: \(s)"
        case .reply(let s): "redis error: \(s)"
        }
    }
}
