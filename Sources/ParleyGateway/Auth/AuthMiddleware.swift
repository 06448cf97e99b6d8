import Foundation
import Hummingbird
import ParleyCore

/// Requires `Authorization: Bearer <JWT>` and puts the user id into the context.
struct AuthMiddleware: RouterMiddleware {
    let tokens: TokenService

    func handle(_ request: Request, context: GatewayContext, next: (Request, GatewayContext) async throws -> Response) async throws -> Response {
        guard let token = request.headers.bearerToken else {
            throw ParleyHTTPError.unauthorized("Authentication token required")
        }
        guard let userId = await tokens.verify(token) else {
            throw ParleyHTTPError.unauthorized("Invalid authentication token")
        }
        var context = context
        context.userId = userId
        return try await next(request, context)
    }
}

extension HTTPFields {
    /// The token of an `Authorization: Bearer` header, if there is one.
    var bearerToken: String? {
        guard let value = self[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
