import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore

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
    /// Most events of one connection handled at once.
    public var concurrentEventsPerConnection: Int = 32

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

/// The request context the WebSocket routes need: it keeps the connection's channel, which the
/// server writes frames to directly.
public protocol SocketIOWebSocketRequestContext: WebSocketRequestContext {
    var channel: any Channel { get }
}

/// A ready-made ``SocketIOWebSocketRequestContext`` that also knows the client's address.
public struct SocketIOWebSocketContext: SocketIOWebSocketRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    public let channel: any Channel
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
        remoteAddress = source.channel.remoteAddress
    }
}
