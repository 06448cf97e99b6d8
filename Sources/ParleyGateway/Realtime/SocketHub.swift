import Foundation
import SocketIO
import Synchronization

/// The sockets this node holds, by user: where a user's events are delivered, and whether the
/// node needs the user's Redis channel.
public final class SocketHub: Sendable {
    private let sockets = Mutex<[UUID: [String: SocketIOSocket]]>([:])

    public init() {}

    /// Adds a socket; returns true when it is the user's first on this node.
    @discardableResult
    func add(_ socket: SocketIOSocket, for user: UUID) -> Bool {
        sockets.withLock { all in
            let first = all[user]?.isEmpty ?? true
            all[user, default: [:]][socket.id] = socket
            return first
        }
    }

    /// Removes a socket; returns true when it was the user's last on this node.
    @discardableResult
    func remove(_ socket: SocketIOSocket, for user: UUID) -> Bool {
        sockets.withLock { all in
            all[user]?.removeValue(forKey: socket.id)
            guard all[user]?.isEmpty ?? true else { return false }
            all.removeValue(forKey: user)
            return true
        }
    }

    func sockets(of user: UUID) -> [SocketIOSocket] {
        sockets.withLock { Array(($0[user] ?? [:]).values) }
    }

    /// How many users have at least one socket here.
    public var userCount: Int { sockets.withLock { $0.count } }
}
