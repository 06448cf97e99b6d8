import Foundation
import Hummingbird

/// Per-request state: the authenticated user, once ``AuthMiddleware`` has checked the token.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware``; routes behind it read ``requireUser()``.
    public var userId: UUID?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Request bodies are JSON and small; uploads stream through their own route.
    public var maxUploadSize: Int { 1 << 20 }

    /// The authenticated user's id.
    public func requireUser() throws -> UUID {
        guard let userId else { throw ParleyHTTPError.unauthorized("Authentication token required") }
        return userId
    }
}
