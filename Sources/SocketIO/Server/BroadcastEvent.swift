import NIOCore

/// An event for many sockets, written once: its packet and the WebSocket frame that carries it
/// are made here and shared by every socket it goes to. Sent with `emit(rawEvent:)` to each,
/// the event was copied twice per socket (the packet, then the frame), and building the frame
/// was the gateway's largest allocation per delivery.
public struct BroadcastEvent: Sendable {
    let namespace: String
    /// The `[name, ...arguments]` array as given.
    public let rawEvent: [UInt8]
    /// The Socket.IO EVENT packet: an Engine.IO `message`'s data, as a polling client gets it.
    let packet: [UInt8]
    /// The Engine.IO `message` as a whole WebSocket text frame. Sockets share its storage: a
    /// write only reads it.
    let frame: ByteBuffer

    /// - Parameters:
    ///   - namespace: the namespace of the sockets it is for (another's socket gets its own copy).
    ///   - rawEvent: the `[name, ...arguments]` array, already JSON text.
    public init(namespace: String = "/", rawEvent: [UInt8]) {
        self.namespace = namespace
        self.rawEvent = rawEvent
        packet = SocketPacket.encodeEvent(namespace: namespace, rawEvent: rawEvent)
        frame = EnginePacket.message(packet).webSocketFrame(ByteBufferAllocator())
    }
}
