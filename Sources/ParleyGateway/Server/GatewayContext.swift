import Foundation
import Hummingbird
import NIOCore

/// Per-request state: the authenticated user, once ``AuthMiddleware`` has checked the token.
public struct GatewayContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The request's connection, for an interim response (``ContinueMiddleware``).
    let channel: any Channel
    /// The client's address, recorded as its last login address by presence.
    public var remoteAddress: SocketAddress? { channel.remoteAddress }
    /// Set by ``AuthMiddleware``; routes behind it read ``requireUser()``.
    public var userId: UUID?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Request bodies are JSON and small; uploads stream through their own route.
    public var maxUploadSize: Int { 1 << 20 }

    /// The authenticated user's id.
    public func requireUser() throws -> UUID {
        guard let userId else { throw ParleyHTTPError.unauthorized("Authentication token required") }
        return userId
    }
}
