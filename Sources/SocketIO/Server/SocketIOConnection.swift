import Foundation
import Synchronization

/// The Socket.IO layer of one Engine.IO session: its namespace sockets, binary packets being
/// reassembled, and the dispatch of packets to the ``SocketIOHandler``.
final class SocketIOConnection: Sendable {
    /// What the session task should do after a packet.
    enum Outcome: Sendable {
        case none
        /// Application work (a namespace disconnect), run in a task of its own (concurrently
        /// with others of the connection).
        case run(@Sendable () async -> Void)
        /// Work the messages after it must wait for (a CONNECT: events follow the join).
        case runAlone(@Sendable () async -> Void)
        /// An event: started without a task if the handler can (given the call that ends it),
        /// else run as ``run(_:)``.
        case start(@Sendable (@escaping @Sendable () -> Void) -> Bool, orRun: @Sendable () async -> Void)
        /// The client broke the protocol: close the session.
        case violation(String)
    }

    private struct State {
        var sockets: [String: SocketIOSocket] = [:]
        /// A BINARY_EVENT or BINARY_ACK waiting for its attachments.
        var partial: (packet: SocketPacket, attachments: [[UInt8]])?
        var nextAckId: Int = 0
    }

    /// Names a client may not emit: they are the library's own.
    static let reservedEvents: Set<String> = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]

    let session: EngineSession
    let handler: any SocketIOHandler
    let namespaces: Set<String>
    private let state = Mutex(State())

    init(session: EngineSession, handler: any SocketIOHandler, namespaces: Set<String>) {
        self.session = session
        self.handler = handler
        self.namespaces = namespaces
    }

    var hasSockets: Bool { state.withLock { !$0.sockets.isEmpty } }

    /// Handles an Engine.IO `message` (text) packet.
    func receive(text: [UInt8]) -> Outcome {
        if state.withLock({ $0.partial != nil }) { return .violation("text packet while binary attachments were expected") }
        guard let packet = SocketPacket.decode(text) else { return .violation("malformed packet") }
        if packet.attachments > 0 {
            state.withLock { $0.partial = (packet, []) }
            return .none
        }
        return dispatch(packet, attachments: [])
    }

    /// Handles an Engine.IO binary packet (an attachment).
    func receive(binary: [UInt8]) -> Outcome {
        let complete: (SocketPacket, [[UInt8]])? = state.withLock { state in
            guard var partial = state.partial else { return nil }
            partial.attachments.append(binary)
            if partial.attachments.count == partial.packet.attachments {
                state.partial = nil
                return (partial.packet, partial.attachments)
            }
            state.partial = partial
            return nil
        }
        if let (packet, attachments) = complete { return dispatch(packet, attachments: attachments) }
        return state.withLock { $0.partial == nil } ? .violation("unexpected binary packet") : .none
    }

    private func dispatch(_ packet: SocketPacket, attachments: [[UInt8]]) -> Outcome {
        switch packet.kind {
        case .connect:
            if state.withLock({ $0.sockets[packet.namespace] != nil }) { return .violation("namespace connected twice") }
            return .runAlone { await self.connect(packet) }
        case .disconnect:
            return .run {
                await self.leave(namespace: packet.namespace, reason: "client namespace disconnect")
                // With no namespace left the session has no use: close it, as clients expect.
                if !self.hasSockets { self.session.close(reason: "client namespace disconnect") }
            }
        case .event, .binaryEvent:
            guard let socket = state.withLock({ $0.sockets[packet.namespace] }) else { return .none }
            // Only a binary event has attachments to put back: a plain event's arguments are
            // taken as they are, as socket.io's parser takes them (and not rebuilt, a copy of
            // every array and object of every event).
            let data = packet.kind == .binaryEvent ? packet.data?.fillingPlaceholders(with: attachments) : packet.data
            guard let data, case .array(let items) = data, case .string(let name)? = items.first
            else { return .violation("malformed event") }
            if Self.reservedEvents.contains(name) { return .violation("reserved event name '\(name)'") }
            let ack = packet.id.map { id in self.ack(for: socket, id: id) }
            let arguments = Array(items.dropFirst())
            let handler = handler
            return .start({ done in handler.eventWithoutTask(socket, name: name, arguments: arguments, ack: ack, done: done) }) {
                await handler.event(socket, name: name, arguments: arguments, ack: ack)
            }
        case .ack, .binaryAck:
            // The server sends no events that ask for acks yet; an ack is accepted and ignored.
            return .none
        case .connectError:
            return .violation("clients do not send CONNECT_ERROR")
        }
    }

    private func connect(_ packet: SocketPacket) async {
        let namespace = packet.namespace
        guard namespaces.contains(namespace) else {
            session.send([.message(SocketPacket(kind: .connectError, namespace: namespace, data: .object(["message": .string("Invalid namespace")])).encoded)])
            return
        }
        let socket = SocketIOSocket(id: Self.randomId(), namespace: namespace, session: session)
        switch await handler.connect(socket, auth: packet.data) {
        case .accept(let userData):
            socket.setUserData(userData)
            state.withLock { $0.sockets[namespace] = socket }
            if session.isClosed {
                // The session ended while the handler decided (``closeAll`` may have missed it).
                await leave(namespace: namespace, reason: session.closeReason)
                return
            }
            session.send([.message(SocketPacket(kind: .connect, namespace: namespace, data: .object(["sid": .string(socket.id)])).encoded)])
            await handler.connected(socket, auth: packet.data)
        case .reject(let message, let data):
            var body: [String: JSONValue] = ["message": .string(message)]
            if let data { body["data"] = data }
            session.send([.message(SocketPacket(kind: .connectError, namespace: namespace, data: .object(body)).encoded)])
        }
    }

    /// Removes a namespace's socket and tells the handler.
    func leave(namespace: String, reason: String) async {
        guard let socket = state.withLock({ $0.sockets.removeValue(forKey: namespace) }) else { return }
        await handler.disconnected(socket, reason: reason)
    }

    /// Tells the handler that every socket left; called once when the session ends.
    func closeAll(reason: String) async {
        let sockets = state.withLock { state in
            defer { state.sockets.removeAll() }
            return Array(state.sockets.values)
        }
        for socket in sockets { await handler.disconnected(socket, reason: reason) }
    }

    private final class Once: Sendable {
        let done = Atomic<Bool>(false)
    }

    private func ack(for socket: SocketIOSocket, id: Int) -> Ack {
        let once = Once()
        return Ack { arguments in
            guard !once.done.exchange(true, ordering: .acquiringAndReleasing) else { return }
            socket.send(SocketPacket(kind: .ack, namespace: socket.namespace, id: id, data: .array(arguments)))
        } raw: { json in
            guard !once.done.exchange(true, ordering: .acquiringAndReleasing) else { return }
            socket.sendRaw(SocketPacket.encodeAck(namespace: socket.namespace, id: id, rawArguments: [json]))
        }
    }

    static func randomId() -> String {
        var random = SystemRandomNumberGenerator()
        let bytes = (0..<15).map { _ in UInt8.random(in: 0...255, using: &random) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
    }
}
