import Foundation

/// A value that carries users (a user, a message's sender, a chat's members), so that their
/// live `isOnline` can be filled in from presence in one lookup.
public protocol UserShaped: Sendable {
    /// Every user id the value carries.
    var userIds: Set<UUID> { get }
    /// Sets `isOnline` of every user the value carries.
    mutating func setOnline(_ online: Set<UUID>)
}

extension User: UserShaped {
    public var userIds: Set<UUID> { [id] }
    public mutating func setOnline(_ online: Set<UUID>) { isOnline = online.contains(id) }
}

extension Message: UserShaped {
    public var userIds: Set<UUID> { [sender.id] }
    public mutating func setOnline(_ online: Set<UUID>) { sender.setOnline(online) }
}

extension Chat: UserShaped {
    public var userIds: Set<UUID> { Set(users.map(\.id)).union(latestMessage?.userIds ?? []) }
    public mutating func setOnline(_ online: Set<UUID>) {
        for index in users.indices { users[index].setOnline(online) }
        groupAdmin?.setOnline(online)
        latestMessage?.setOnline(online)
    }
}

extension UserStatus: UserShaped {
    public var userIds: Set<UUID> { [userId] }
    public mutating func setOnline(_ online: Set<UUID>) { isOnline = online.contains(userId) }
}

extension Array: UserShaped where Element: UserShaped {
    public var userIds: Set<UUID> { reduce(into: []) { $0.formUnion($1.userIds) } }
    public mutating func setOnline(_ online: Set<UUID>) {
        for index in indices { self[index].setOnline(online) }
    }
}
