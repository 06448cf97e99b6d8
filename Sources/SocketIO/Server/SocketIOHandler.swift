/// The application on top of Socket.IO: decides on connections and handles events.
///
/// For a session on WebSocket, ``connect(_:auth:)``, ``connected(_:auth:)`` and
/// ``event(_:name:arguments:ack:)`` run on the connection's event loop (they start there and
/// come back there after each `await`), so that no other thread is woken to handle a packet or
/// to write its answer. They must not block: blocking work belongs on a thread pool.
public protocol SocketIOHandler: Sendable {
    /// A client asks to join `socket.namespace` with `auth` (the CONNECT payload). Accept, with
    /// any per-socket value the application keeps, or refuse with a message.
    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision
    /// The client has been told it joined (its CONNECT answer is sent): events emitted now
    /// arrive after it.
    func connected(_ socket: SocketIOSocket, auth: JSONValue?) async
    /// An event from a connected socket; `ack`, when present, answers the client's callback.
    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async
    /// An event the application handles without a task of its own (a hot one, whose work waits
    /// on other threads anyway): return true once it is under way and call `done` once, when it
    /// has answered; false has ``event(_:name:arguments:ack:)`` run in a task instead. Called on
    /// the connection's event loop, or on whichever thread ended the work of an event before it.
    func eventWithoutTask(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?, done: @escaping @Sendable () -> Void) -> Bool
    /// The socket left (client disconnect, transport closed, ping timeout, server close).
    func disconnected(_ socket: SocketIOSocket, reason: String) async
}

extension SocketIOHandler {
    public func connected(_ socket: SocketIOSocket, auth: JSONValue?) async {}

    public func eventWithoutTask(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?, done: @escaping @Sendable () -> Void) -> Bool {
        false
    }
}

/// The answer to a CONNECT.
public enum ConnectDecision: Sendable {
    case accept(userData: any Sendable)
    /// Sent to the client as CONNECT_ERROR `{message, data?}`.
    case reject(message: String, data: JSONValue? = nil)
}

/// Answers one event's acknowledgement callback; only the first call sends.
public struct Ack: Sendable {
    let sendArguments: @Sendable ([JSONValue]) -> Void
    let sendRaw: @Sendable ([UInt8]) -> Void

    init(_ send: @escaping @Sendable ([JSONValue]) -> Void, raw: @escaping @Sendable ([UInt8]) -> Void) {
        sendArguments = send
        sendRaw = raw
    }

    /// Answers with one argument that is already JSON text, without parsing it again.
    public func send(rawJSON: [UInt8]) {
        sendRaw(rawJSON)
    }

    public func callAsFunction(_ arguments: JSONValue...) {
        sendArguments(arguments)
    }

    /// Answers with a list of arguments.
    public func send(_ arguments: [JSONValue]) {
        sendArguments(arguments)
    }
}
