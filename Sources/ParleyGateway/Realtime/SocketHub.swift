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

    /// Emits `event` to each of the user's sockets here; returns how many. Under the lock, so
    /// that neither the user's sockets nor their dictionary are taken out of it: each was a
    /// retain and a release per event, on objects the sockets' event loop retains too (the
    /// emit only queues the frame for the loop).
    func emit(_ event: BroadcastEvent, to user: UUID) -> Int {
        sockets.withLock { state in
            guard let index = state.byUser.index(forKey: user) else { return 0 }
            let sockets = state.byUser.values[index]
            for socket in sockets.values { socket.emit(event) }
            return sockets.count
        }
    }

    /// How many users have at least one socket here.
    public var userCount: Int { sockets.withLock { $0.byUser.count } }
}
