import HTTPTypes

/// Engine.IO and Socket.IO server settings.
public struct SocketIOConfiguration: Sendable {
    /// Mount path, with leading and trailing slash.
    public var path: String = "/socket.io/"
    public var pingInterval: Duration = .seconds(25)
    public var pingTimeout: Duration = .seconds(20)
    /// Largest packet (WebSocket) or payload (polling) accepted, in bytes.
    public var maxPayload: Int = 1_000_000
    /// A session with no namespace connected after this long is closed.
    public var connectTimeout: Duration = .seconds(45)
    /// Origins allowed to poll cross-origin (`*` for any); empty: no CORS headers.
    public var corsOrigins: [String] = []

    /// Whether a page of `origin` may be answered cross-origin.
    public func allowsOrigin(_ origin: String) -> Bool {
        corsOrigins.contains("*") || corsOrigins.contains(origin)
    }
    /// Most events of one connection handled at once; past it a WebSocket is read no further
    /// until some finish.
    public var concurrentEventsPerConnection: Int = 32
    /// Most bytes held for a client that reads too slowly (beyond what the kernel buffers for a
    /// WebSocket; a polling client's queued packets); a client further behind is dropped
    /// ("transport error") rather than buffered for without end. Only a client that reads late
    /// holds any of it; it should cover a few seconds of its events.
    public var sendBuffer: Int = 1 << 20
    /// How long a client has to answer the server's WebSocket close frame before it is cut off.
    public var webSocketCloseTimeout: Duration = .seconds(10)

    public init() {}
}

/// What a client presented when it opened its session.
public struct Handshake: Sendable {
    public let headers: HTTPFields
    public let query: [String: String]
    /// The transport the session started on.
    public let transport: String
    /// The client's IP address, when the request context knows it
    /// (`RemoteAddressRequestContext`).
    public var remoteAddress: String? = nil
}
