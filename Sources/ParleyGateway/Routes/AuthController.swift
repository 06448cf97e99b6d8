import Foundation
import Hummingbird
import ParleyCore
import ParleyStore

/// `POST /api/auth/signup` and `POST /api/auth/signin`. Accounts are the one kind of data the
/// gateway writes itself.
struct AuthController {
    let users: UserRepository
    let tokens: TokenService
    let hasher: PasswordHasher
    let presence: LivePresence

    struct SignupRequest: Decodable {
        var firstName: String
        var lastName: String
        var email: String
        var password: String
        var image: String?
    }

    struct SigninRequest: Decodable {
        var email: String
        var password: String
    }

    struct Session: Encodable {
        var token: String
        var user: User
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("signup", use: signup)
        group.post("signin", use: signin)
    }

    @Sendable func signup(_ request: Request, context: GatewayContext) async throws -> Response {
        let body = try await request.decodeJSON(SignupRequest.self, context: context)
        var v = Validator()
        let firstName = v.text(body.firstName, "firstName", max: Limits.name)
        let lastName = v.text(body.lastName, "lastName", max: Limits.name)
        let email = body.email.trimmingCharacters(in: .whitespaces).lowercased()
        v.check(Validator.isEmail(email) && email.count <= Limits.email, "email must be a valid email address")
        v.check(body.password.count >= Limits.minPassword, "password must be at least \(Limits.minPassword) characters")
        v.check(body.password.utf8.count <= Limits.maxPasswordBytes, "password must be at most \(Limits.maxPasswordBytes) bytes")
        v.withoutNUL(body.password, "password")
        v.check((body.image?.count ?? 0) <= Limits.imageURL, "image must be at most \(Limits.imageURL) characters")
        v.withoutNUL(body.image, "image")
        try v.validate()

        let hash = try await hasher.hash(body.password)
        let user = try await users.create(.init(
            id: UUIDv7.make(), firstName: firstName, lastName: lastName, email: email,
            passwordHash: hash, image: body.image?.isEmpty == true ? nil : body.image
        ))
        let token = try await tokens.issue(for: user.id)
        return JSONResponse.make(status: .created, body: Session(token: token, user: await presence.live(user)))
    }

    @Sendable func signin(_ request: Request, context: GatewayContext) async throws -> Response {
        let body = try await request.decodeJSON(SigninRequest.self, context: context)
        let email = body.email.trimmingCharacters(in: .whitespaces)
        let found = Validator.isEmail(email) ? try await users.credentials(email: email) : nil
        // Unknown email and wrong password take the same time and get the same answer. No
        // password may hold a NUL (bcrypt would compare only what comes before it).
        guard !Validator.containsNUL(body.password), try await hasher.verify(body.password, against: found?.passwordHash), let user = found?.user else {
            throw ParleyError(.invalidCredentials, "Invalid email or password")
        }
        let token = try await tokens.issue(for: user.id)
        return JSONResponse.make(status: .ok, body: Session(token: token, user: await presence.live(user)))
    }
}
