import Foundation
import Metrics
import SocketIO
import Synchronization

/// The sockets this node holds, by user: where a user's events are delivered, and whether the
/// node needs the user's Redis channel.
public final class SocketHub: Sendable {
    private let sockets = Mutex<(byUser: [UUID: [String: SocketIOSocket]], count: Int)>(([:], 0))
    private let opened = Counter(label: "parley_socket_connections_opened_total")
    private let connections = Gauge(label: "parley_socket_connections")
    private let users = Gauge(label: "parley_socket_users")

    public init() {}

    /// Adds a socket; returns true when it is the user's first on this node.
    @discardableResult
    func add(_ socket: SocketIOSocket, for user: UUID) -> Bool {
        let (first, count, userCount) = sockets.withLock { state in
            let first = state.byUser[user]?.isEmpty ?? true
            if state.byUser[user, default: [:]].updateValue(socket, forKey: socket.id) == nil { state.count += 1 }
            return (first, state.count, state.byUser.count)
        }
        opened.increment()
        connections.record(count)
        users.record(userCount)
        return first
    }

    /// Removes a socket, counting it closed for `reason` (the Socket.IO disconnect reason: an
    /// operator tells clients leaving from clients dropped for not reading, "transport error",
    /// or for not answering pings); returns true when it was the user's last on this node.
    @discardableResult
    func remove(_ socket: SocketIOSocket, for user: UUID, reason: String) -> Bool {
        let (last, count, userCount) = sockets.withLock { state in
            if state.byUser[user]?.removeValue(forKey: socket.id) != nil { state.count -= 1 }
            let last = state.byUser[user]?.isEmpty ?? true
            if last { state.byUser.removeValue(forKey: user) }
            return (last, state.count, state.byUser.count)
        }
        Counter(label: "parley_socket_connections_closed_total", dimensions: [("reason", reason)]).increment()
        connections.record(count)
        users.record(userCount)
        return last
    }

    /// The values of the user's dictionary, not an array of them: a copy of the dictionary's
    /// storage is shared, not made, and routing asks once per event.
    func sockets(of user: UUID) -> Dictionary<String, SocketIOSocket>.Values {
        sockets.withLock { ($0.byUser[user] ?? [:]).values }
    }

    /// How many users have at least one socket here.
    public var userCount: Int { sockets.withLock { $0.byUser.count } }
}
