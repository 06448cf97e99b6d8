import Foundation
import Hummingbird
import ParleyCore
import ParleyStore

/// `/api/users`: the caller's profile (written here directly: accounts are the gateway's), other
/// users, and search.
struct UserController {
    let users: UserRepository
    let presence: LivePresence

    /// `PATCH /api/users/me`: absent fields stay; `image: null` clears the image.
    struct ProfileRequest: Decodable {
        var firstName: String?
        var lastName: String?
        var image: String??
        var showLastSeen: Bool?

        enum CodingKeys: String, CodingKey { case firstName, lastName, image, showLastSeen }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            firstName = try c.decodeIfPresent(String.self, forKey: .firstName)
            lastName = try c.decodeIfPresent(String.self, forKey: .lastName)
            if c.contains(.image) {
                image = .some(try c.decodeNil(forKey: .image) ? nil : try c.decode(String.self, forKey: .image))
            }
            showLastSeen = try c.decodeIfPresent(Bool.self, forKey: .showLastSeen)
        }
    }

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get(use: search)
        group.get("me", use: me)
        group.get("status", use: status)
        group.patch("me", use: updateMe)
        group.get(":userId", use: user)
    }

    @Sendable func me(_ request: Request, context: GatewayContext) async throws -> Response {
        let userId = try context.requireUser()
        guard let user = try await users.find(id: userId, viewer: userId) else {
            throw ParleyError(.unauthorized, "User not found")
        }
        return await presence.data(user)
    }

    @Sendable func updateMe(_ request: Request, context: GatewayContext) async throws -> Response {
        let userId = try context.requireUser()
        let body = try await request.decodeJSON(ProfileRequest.self, context: context)
        var v = Validator()
        let firstName = body.firstName.map { v.text($0, "firstName", max: Limits.name) }
        let lastName = body.lastName.map { v.text($0, "lastName", max: Limits.name) }
        if case .some(.some(let image)) = body.image {
            v.check(image.count <= Limits.imageURL, "image must be at most \(Limits.imageURL) characters")
            v.withoutNUL(image, "image")
        }
        try v.validate()
        let change = UserRepository.ProfileChange(
            firstName: firstName, lastName: lastName,
            image: body.image.map { $0?.isEmpty == true ? nil : $0 }, showLastSeen: body.showLastSeen)
        guard let user = try await users.update(id: userId, change) else {
            throw ParleyError(.unauthorized, "User not found")
        }
        return await presence.data(user)
    }

    @Sendable func user(_ request: Request, context: GatewayContext) async throws -> Response {
        let viewer = try context.requireUser()
        let id = try parseID(context.parameters.get("userId"), name: "userId")
        guard let user = try await users.find(id: id, viewer: viewer) else { throw ParleyError.notFound("User not found") }
        return await presence.data(user)
    }

    /// `?ids=a,b,c`: online status and `lastSeen` of up to 200 users.
    @Sendable func status(_ request: Request, context: GatewayContext) async throws -> Response {
        let viewer = try context.requireUser()
        let ids = (request.uri.queryParameters.get("ids") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return JSONResponse.data(try await presence.statuses(of: ids, viewer: viewer))
    }

    /// `?search=&limit=&after=`: name or email contains the text, case-insensitive; never the
    /// caller; keyset pages in id order.
    @Sendable func search(_ request: Request, context: GatewayContext) async throws -> Response {
        let viewer = try context.requireUser()
        let query = request.uri.queryParameters
        let text = String(query.get("search") ?? "").trimmingCharacters(in: .whitespaces)
        guard text.count <= Limits.name else { throw ParleyError.badRequest("search must be at most \(Limits.name) characters") }
        let after = try query.get("after").map { try parseID(String($0), name: "after") }
        let limit = try pageLimit(query.get("limit"), default: 20, max: Limits.userPage)
        let page = try await users.search(text, viewer: viewer, after: after, limit: limit)
        return JSONResponse.page(await presence.live(page), cursors: ["nextAfter": page.count == limit ? page.last?.id.lowercased : nil])
    }
}

/// A `limit` query value within 1...`max`; a bad one is a 400.
func pageLimit(_ raw: String?, default value: Int, max: Int) throws -> Int {
    guard let raw else { return value }
    guard let n = Int(raw), (1...max).contains(n) else {
        throw ParleyError.badRequest("limit must be a whole number from 1 to \(max)")
    }
    return n
}
