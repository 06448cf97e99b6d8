import NIOCore
import Synchronization
import NIOWebSocket

/// A session's WebSocket, written to straight from whichever thread sends: frames go through the
/// channel's event loop in the order they are sent, flushed once per send.
final class WebSocketLink: Sendable {
    private let channel: any Channel
    private let closeTimeout: Duration
    private let closing = Atomic<Bool>(false)

    init(channel: any Channel, closeTimeout: Duration) {
        self.channel = channel
        self.closeTimeout = closeTimeout
    }

    /// False while the client is so far behind that NIO holds more than its high water mark of
    /// unsent bytes (beyond what the kernel buffers): such a client is dropped, not buffered for.
    var isWritable: Bool { channel.isWritable }

    /// Whether the server began the closing handshake.
    var isClosing: Bool { closing.load(ordering: .acquiring) }

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

    /// Sends a close frame; a client that does not answer it is cut off after `closeTimeout`.
    /// With `cutOff` the connection is closed at once.
    func close(cutOff: Bool) {
        guard !closing.exchange(true, ordering: .acquiringAndReleasing) else { return }
        let channel = channel
        if cutOff {
            channel.close(promise: nil)
            return
        }
        channel.eventLoop.execute {
            var code = channel.allocator.buffer(capacity: 2)
            code.write(webSocketErrorCode: .normalClosure)
            channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, data: code), promise: nil)
        }
        channel.eventLoop.scheduleTask(in: .init(closeTimeout)) { channel.close(promise: nil) }
    }

    func pauseReading() {
        channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
    }

    func resumeReading() {
        let channel = channel
        channel.setOption(ChannelOptions.autoRead, value: true).whenSuccess { channel.read() }
    }
}

/// The Engine.IO side of an upgraded connection, on its event loop: joins fragmented messages,
/// answers WebSocket pings and closes, runs the upgrade probe of a session that began on polling,
/// and hands every packet to the server. A connection costs no task while it is idle.
final class EngineWebSocketHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private enum Stage {
        /// A polling session upgrading: `2probe` is due, then `5`.
        case probe(EngineSession)
        case upgrade(EngineSession)
        case open(EngineSession)
        case closed
    }

    private let server: SocketIOServer
    private let link: WebSocketLink
    private let maxMessage: Int
    private var stage: Stage
    private var message: (opcode: WebSocketOpcode, data: ByteBuffer)?

    /// - Parameter session: the session of this connection, or the polling session it upgrades.
    init(server: SocketIOServer, link: WebSocketLink, session: EngineSession, upgrading: Bool, maxMessage: Int) {
        self.server = server
        self.link = link
        self.maxMessage = maxMessage
        stage = upgrading ? .probe(session) : .open(session)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .connectionClose:
            if link.isClosing {
                context.close(promise: nil)
            } else {
                // Answer with the client's code, then hang up.
                var reply = context.channel.allocator.buffer(capacity: 2)
                var data = frame.unmaskedData
                if let code = data.readWebSocketErrorCode() { reply.write(webSocketErrorCode: code) }
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))).whenComplete { _ in
                    context.close(promise: nil)
                }
            }
            end(reason: "transport close")
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            break
        case .text, .binary, .continuation:
            collect(frame, context: context)
        default:
            protocolError(context: context)
        }
    }

    /// Joins the frames of one message, refusing anything over the largest packet.
    private func collect(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        var data = frame.unmaskedData
        if frame.opcode == .continuation {
            guard var started = message, started.data.readableBytes + data.readableBytes <= maxMessage else { return protocolError(context: context) }
            started.data.writeBuffer(&data)
            message = started
        } else {
            guard message == nil, data.readableBytes <= maxMessage else { return protocolError(context: context) }
            message = (frame.opcode, data)
        }
        guard frame.fin, let (opcode, bytes) = message else { return }
        message = nil
        if opcode == .binary {
            receive(.binary(Array(bytes.readableBytesView)), context: context)
        } else if let packet = EnginePacket.decode(text: bytes.readableBytesView) {
            receive(packet, context: context)
        } else {
            end(reason: "parse error", cutOff: false)
        }
    }

    private func receive(_ packet: EnginePacket, context: ChannelHandlerContext) {
        switch stage {
        case .probe(let session):
            guard packet == .ping(Array("probe".utf8)) else { return refuseUpgrade(context: context) }
            context.writeAndFlush(wrapOutboundOut(EnginePacket.pong(Array("probe".utf8)).webSocketFrame(context.channel.allocator)), promise: nil)
            session.flushPollWithNoop()
            stage = .upgrade(session)
        case .upgrade(let session):
            guard packet == .upgrade else { return refuseUpgrade(context: context) }
            session.attachWebSocket(link)
            stage = .open(session)
        case .open(let session):
            server.receive(packet, in: session)
        case .closed:
            break
        }
    }

    /// The probe went wrong: this connection goes, the polling session stays.
    private func refuseUpgrade(context: ChannelHandlerContext) {
        stage = .closed
        context.close(promise: nil)
    }

    private func protocolError(context: ChannelHandlerContext) {
        // Over the largest packet, or frames out of order.
        end(reason: "transport error", cutOff: true)
        context.close(promise: nil)
    }

    /// The session this connection carries ends.
    private func end(reason: String, cutOff: Bool = false) {
        if case .open(let session) = stage { session.close(reason: reason, cutOff: cutOff) }
        stage = .closed
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(reason: "transport close")
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(reason: "transport error", cutOff: true)
        context.close(promise: nil)
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
