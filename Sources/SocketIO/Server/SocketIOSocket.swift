import Synchronization

/// One client's connection to one namespace.
public final class SocketIOSocket: Sendable {
    /// The Socket.IO socket id (not the Engine.IO session id).
    public let id: String
    public let namespace: String
    public let handshake: Handshake
    let session: EngineSession
    private let stored = Mutex<(any Sendable)?>(nil)

    init(id: String, namespace: String, session: EngineSession) {
        self.id = id
        self.namespace = namespace
        self.handshake = session.handshake
        self.session = session
    }

    /// What the handler attached when it accepted the connection.
    public var userData: (any Sendable)? { stored.withLock { $0 } }

    func setUserData(_ value: any Sendable) { stored.withLock { $0 = value } }

    /// Sends an event with arguments; binary values go as attachments.
    public func emit(_ event: String, _ arguments: JSONValue...) {
        emit(event, arguments)
    }

    /// Sends an event with a list of arguments.
    public func emit(_ event: String, _ arguments: [JSONValue]) {
        send(SocketPacket(kind: .event, namespace: namespace, data: .array([.string(event)] + arguments)))
    }

    /// Sends an event already written as JSON text, its `[name, ...arguments]` array, without
    /// parsing it again.
    public func emit(rawEvent: [UInt8]) {
        session.send([.message(SocketPacket.encodeEvent(namespace: namespace, rawEvent: rawEvent))])
    }

    /// Sends an event made once for many sockets, sharing its packet and frame.
    public func emit(_ event: BroadcastEvent) {
        guard event.namespace == namespace else { return emit(rawEvent: event.rawEvent) }
        session.send(.message(event.packet), frame: event.frame)
    }

    /// Closes this socket's namespace connection (the session stays for other namespaces).
    public func disconnect() async {
        session.send([.message(SocketPacket(kind: .disconnect, namespace: namespace).encoded)])
        await session.connection?.leave(namespace: namespace, reason: "server namespace disconnect")
    }

    /// Sends an encoded packet as it is.
    func sendRaw(_ encoded: [UInt8]) {
        session.send([.message(encoded)])
    }

    func send(_ packet: SocketPacket) {
        var packet = packet
        var attachments: [[UInt8]] = []
        if let data = packet.data, data.containsBinary {
            packet.data = data.extractingBinaries(into: &attachments)
            packet.kind = packet.kind == .ack ? .binaryAck : .binaryEvent
            packet.attachments = attachments.count
        }
        session.send([.message(packet.encoded)] + attachments.map { .binary($0) })
    }
}
