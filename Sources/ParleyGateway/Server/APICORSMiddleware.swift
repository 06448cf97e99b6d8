import HTTPTypes
import Hummingbird
import SocketIO

/// CORS for the REST routes, for the origins of `CORS_ORIGINS` (`*` for any): a web client
/// served from another origin calls the API as it opens its socket. Hummingbird's middleware does
/// the work; the Socket.IO path is left to the Socket.IO server, which answers its own preflights
/// with the same origins.
///
/// Tokens travel in `Authorization`, never in cookies, so allowing credentials grants nothing
/// more; it is allowed, as on the socket, for clients that send `credentials: 'include'`.
struct APICORSMiddleware: RouterMiddleware {
    private let cors: CORSMiddleware<GatewayContext>
    /// Its origins and its path.
    private let socketIO: SocketIOConfiguration

    /// Nil when no origin is allowed: then no response carries CORS headers.
    init?(socketIO: SocketIOConfiguration) {
        guard !socketIO.corsOrigins.isEmpty else { return nil }
        cors = CORSMiddleware(
            // The request's own origin, once it is known to be allowed (below).
            allowOrigin: .originBased,
            allowHeaders: [.accept, .authorization, .contentType, .origin, .range, .ifRange, .ifNoneMatch],
            allowMethods: [.get, .head, .post, .put, .patch, .delete, .options],
            allowCredentials: true,
            maxAge: .seconds(600))
        self.socketIO = socketIO
    }

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        guard !request.uri.path.hasPrefix(socketIO.path), let origin = request.headers[.origin], socketIO.allowsOrigin(origin) else {
            return try await next(request, context)
        }
        var response = try await cors.handle(request, context: context, next: next)
        // Browsers read this from the response itself; Hummingbird's middleware puts it only on
        // preflights.
        if request.method != .options { response.headers[.accessControlExposeHeaders] = Self.exposed }
        return response
    }

    /// What the API's clients read besides the body.
    static let exposed = [
        HTTPField.Name.retryAfter, .eTag, .contentRange, .acceptRanges, .contentDisposition, .contentLength, .idempotentReplayed,
    ].map(\.rawName).joined(separator: ", ")
}
