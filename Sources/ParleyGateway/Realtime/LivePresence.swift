import Foundation
import Hummingbird
import Logging
import ParleyCore
import ParleyPubSub
import ParleyStore

/// Presence as the gateway reads it: live `isOnline` in every user shape it answers with, and
/// statuses by id. Reading presence never fails a request: if Redis does not answer, users show
/// as offline and a warning is logged (now and then, not for every request).
struct LivePresence: Sendable {
    let store: PresenceStore
    let users: UserRepository
    let logger: Logger
    /// While Redis is down every answer with a user in it would log; now and then is enough.
    let outages: ThrottledLog

    /// `value` with every user's live `isOnline`.
    func live<T: UserShaped>(_ value: T) async -> T {
        do {
            return try await store.withLiveStatus(value)
        } catch {
            outages.log(logger, level: .warning, "presence unavailable, users shown offline", kind: "presence", metadata: ["error": "\(error)"])
            return value
        }
    }

    /// `{"data": value}` with every user's live `isOnline`.
    func data<T: Encodable & UserShaped>(_ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) async -> Response {
        JSONResponse.data(await live(value), status: status, headers: headers)
    }

    /// `{userId, isOnline, lastSeen}` of each known user among `ids` (at most 200, in the order
    /// asked; unknown ids are left out); `lastSeen` is `null` where the user hides it.
    func statuses(of rawIds: [String], viewer: UUID) async throws -> [UserStatus] {
        guard rawIds.count <= Limits.statusBatch else {
            throw ParleyError.badRequest("ask for at most \(Limits.statusBatch) users at once")
        }
        var ids: [UUID] = []
        for raw in rawIds {
            let id = try parseID(raw, name: "ids")
            if !ids.contains(id) { ids.append(id) }
        }
        guard !ids.isEmpty else { return [] }
        let seen = Dictionary(try await users.lastSeen(of: ids, viewer: viewer), uniquingKeysWith: { a, _ in a })
        let online = await live(ids.filter { seen[$0] != nil }.map { UserStatus(userId: $0, isOnline: false, lastSeen: seen[$0] ?? nil) })
        return online
    }
}
