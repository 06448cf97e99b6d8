import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// A session's WebSocket: frames are written straight to the connection's channel, in the order
/// they are sent and flushed once per send, so that no task per connection waits to write them
/// (a task costs kilobytes per idle socket, and a hop per event).
final class WebSocketLink: Sendable {
    private let channel: any Channel
    private let outbound: WebSocketOutboundWriter
    private let closeTimeout: Duration

    init(channel: any Channel, outbound: WebSocketOutboundWriter, closeTimeout: Duration) {
        self.channel = channel
        self.outbound = outbound
        self.closeTimeout = closeTimeout
    }

    /// False while the client is so far behind that NIO holds more than its high water mark of
    /// unsent bytes (beyond what the kernel buffers): such a client is dropped, not buffered for.
    var isWritable: Bool { channel.isWritable }

    func send(_ packets: [EnginePacket]) {
        let allocator = channel.allocator
        let frames = packets.map { $0.webSocketFrame(allocator) }
        let channel = channel
        // Through the event loop's queue, even from the loop itself: sends stay in call order.
        channel.eventLoop.execute {
            for frame in frames { channel.write(frame, promise: nil) }
            channel.flush()
        }
    }

    /// Starts the closing handshake; a client that does not answer it is cut off after
    /// `closeTimeout`. With `cutOff` the connection is closed at once.
    func close(cutOff: Bool) {
        let channel = channel
        if cutOff {
            channel.close(promise: nil)
            return
        }
        let outbound = outbound
        Task { try? await outbound.close(.normalClosure, reason: nil) }
        channel.eventLoop.scheduleTask(in: .init(closeTimeout)) { channel.close(promise: nil) }
    }
}

extension EnginePacket {
    /// A text frame with the packet's type digit, or a binary frame with the bare bytes.
    func webSocketFrame(_ allocator: ByteBufferAllocator) -> WebSocketFrame {
        if case .binary(let bytes) = self { return WebSocketFrame(fin: true, opcode: .binary, data: allocator.buffer(bytes: bytes)) }
        let (type, data) = textParts
        // Room before the payload for the frame header (at most 14 bytes), which NIO's encoder
        // then writes in place instead of in a buffer and iovec of its own.
        let headroom = 14
        var buffer = allocator.buffer(capacity: headroom + data.count + 1)
        buffer.moveWriterIndex(forwardBy: headroom)
        buffer.moveReaderIndex(forwardBy: headroom)
        buffer.writeInteger(type)
        buffer.writeBytes(data)
        return WebSocketFrame(fin: true, opcode: .text, data: buffer)
    }
}
