import Hummingbird
import ParleyCore
import ParleyStore

/// `/api/users`.
struct UserController {
    let users: UserRepository

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get("me", use: me)
    }

    @Sendable func me(_ request: Request, context: GatewayContext) async throws -> Response {
        let userId = try context.requireUser()
        guard let user = try await users.find(id: userId, viewer: userId) else {
            throw ParleyError(.unauthorized, "User not found")
        }
        return JSONResponse.data(user)
    }
}
