import NIOCore
import NIOWebSocket
import Synchronization

/// A session's WebSocket, written to straight from whichever thread sends: frames go through the
/// channel's event loop in the order they are sent.
final class WebSocketLink: Sendable {
    let channel: any Channel
    /// Where whole frames enter the pipeline: past NIO's frame encoder, which takes a frame's
    /// payload apart from its header (a buffer and an iovec more for each), as a frame's storage
    /// keeps the payload from being written in place.
    private let frames: NIOLoopBound<ChannelHandlerContext>
    private let queue: LoopWriteQueue
    private let closeTimeout: Duration
    private let closing = Atomic<Bool>(false)
    /// The bookkeeping of the loop's ``LoopWriteQueue`` for this connection, touched only by
    /// its jobs on the connection's loop: whether a flush is due, how many of the pass's items
    /// are still to come, and the frames joined for one write so far. Kept here rather than in
    /// dictionaries by connection, which cost more than the writes they saved.
    nonisolated(unsafe) fileprivate var flushDue = false
    nonisolated(unsafe) fileprivate var itemsLeft = 0
    nonisolated(unsafe) fileprivate var joined: ByteBuffer?

    /// Runs the session's application work on the connection's event loop.
    let executor: LoopTaskExecutor

    /// On the channel's event loop, once the upgrade has put NIO's frame encoder in its pipeline.
    init(channel: any Channel, closeTimeout: Duration) throws {
        self.channel = channel
        frames = NIOLoopBound(try channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self), eventLoop: channel.eventLoop)
        self.queue = LoopWriteQueue.of(channel.eventLoop)
        self.executor = LoopTaskExecutor.of(channel.eventLoop)
        self.closeTimeout = closeTimeout
    }

    /// Whether the server began the closing handshake.
    var isClosing: Bool { closing.load(ordering: .acquiring) }

    func send(_ packets: [EnginePacket]) {
        queue.add(.packets(packets), for: self)
    }

    /// Sends a frame already made, shared with other connections.
    func send(frame: ByteBuffer) {
        queue.add(.frame(frame), for: self)
    }

    /// Writes whole frames (one or several in a row), unflushed; on the event loop.
    func write(frame: ByteBuffer) {
        guard keepsUp() else { return }
        frames.value.write(NIOAny(frame), promise: nil)
    }

    /// False once the client is so far behind that NIO holds more than its high water mark
    /// (`sendBuffer`) of unsent bytes beyond what the kernel buffers: such a client is dropped
    /// ("transport error", through the connection's handler), not buffered for. Asked here, on
    /// the loop that writes, rather than by every sender: read from the subscriber's thread,
    /// the flag the loop keeps changing cost a cache miss per event (1% of the gateway's CPU).
    private func keepsUp() -> Bool {
        if channel.isWritable { return true }
        if !isClosing { frames.value.fireErrorCaught(SendBufferFull()) }
        return false
    }

    /// Flushes what was written, on the event loop. From where frames enter, next to the
    /// socket: flushed from the pipeline's tail, the flush passed through every handler on the
    /// way, a retain and a release each (2.5% of the gateway's CPU in groups of 10); none of
    /// them holds writes back.
    func flush() {
        frames.value.flush()
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
        queue.add(.close, for: self)
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

/// A client that fell further behind than its send buffer.
struct SendBufferFull: Error {}

/// One value per event loop, made on first use (loops live as long as the process).
final class PerEventLoop<Value: Sendable>: Sendable {
    private let values = Mutex<[ObjectIdentifier: Value]>([:])
    private let make: @Sendable (any EventLoop) -> Value

    init(_ make: @escaping @Sendable (any EventLoop) -> Value) {
        self.make = make
    }

    func of(_ loop: any EventLoop) -> Value {
        values.withLock { values in
            if let value = values[ObjectIdentifier(loop)] { return value }
            let value = make(loop)
            values[ObjectIdentifier(loop)] = value
            return value
        }
    }
}

/// What every WebSocket of one event loop has to write, written by jobs on the loop: a burst
/// of events (a worker publishes its batch at once) costs the loop one wake-up and each
/// connection one flush, not one of each per event.
final class LoopWriteQueue: Sendable {
    enum Item: Sendable {
        case packets([EnginePacket])
        /// A whole frame, made once for many connections.
        case frame(ByteBuffer)
        /// The closing handshake's close frame, after what was sent before it.
        case close
    }

    private struct State {
        var items: [(WebSocketLink, Item)] = []
        var scheduled = false
    }

    private static let queues = PerEventLoop { LoopWriteQueue(loop: $0) }

    /// The queue of `loop`.
    static func of(_ loop: any EventLoop) -> LoopWriteQueue { queues.of(loop) }

    private let loop: any EventLoop
    private let state = Mutex(State())

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    func add(_ item: Item, for link: WebSocketLink) {
        let schedule = state.withLock { state in
            state.items.append((link, item))
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule { loop.execute { self.drain() } }
    }

    /// Writes what is queued, and flushes after the jobs already queued on the loop have run:
    /// a sender's ack, resumed by the reply that came with its message's events, then goes out
    /// with its own copy of the message in one write, in the order sent.
    private func drain() {
        var written: [WebSocketLink] = []
        write(take(finishing: false), into: &written)
        loop.execute { [written] in
            var all = written
            self.write(self.take(finishing: true), into: &all)
            for link in all {
                link.flushDue = false
                link.flush()
            }
        }
    }

    /// What is queued; unless `finishing`, a drain stays scheduled, so that what comes meanwhile
    /// waits for its flush.
    private func take(finishing: Bool) -> [(WebSocketLink, Item)] {
        state.withLock { state in
            if finishing { state.scheduled = false }
            defer { state.items = [] }
            return state.items
        }
    }

    /// Writes each connection's items of the pass as one buffer: a connection that has several
    /// (about six frames a flush at 6,000 msg/s in groups of 10) costs one write down NIO's
    /// pipeline and not one per frame. A connection's only frame goes as it is, shared with the
    /// other connections it is for. `written` gets each connection once, to be flushed.
    private func write(_ items: [(WebSocketLink, Item)], into written: inout [WebSocketLink]) {
        for (link, _) in items { link.itemsLeft += 1 }
        for (link, item) in items {
            if !link.flushDue {
                link.flushDue = true
                written.append(link)
            }
            link.itemsLeft -= 1
            let last = link.itemsLeft == 0
            switch item {
            case .frame(let frame) where last && link.joined == nil:
                link.write(frame: frame)
            case .frame(let frame):
                // The frames of one burst are mostly copies of one event's.
                if link.joined == nil { link.joined = link.channel.allocator.buffer(capacity: frame.readableBytes * (link.itemsLeft + 1)) }
                link.joined!.writeImmutableBuffer(frame)
            case .packets(let packets):
                if link.joined == nil { link.joined = link.channel.allocator.buffer(capacity: packets.reduce(0) { $0 + $1.webSocketFrameSize }) }
                for packet in packets { packet.writeWebSocketFrame(into: &link.joined!) }
            case .close:
                writeJoined(link)
                var code = link.channel.allocator.buffer(capacity: 2)
                code.write(webSocketErrorCode: .normalClosure)
                link.channel.write(WebSocketFrame(fin: true, opcode: .connectionClose, data: code), promise: nil)
            }
            if last { writeJoined(link) }
        }
    }

    private func writeJoined(_ link: WebSocketLink) {
        guard let frames = link.joined else { return }
        link.joined = nil
        link.write(frame: frames)
    }
}

/// Runs tasks' jobs on one event loop: work for a WebSocket session starts on the loop that read
/// its packet and resumes there, where its answer is written, instead of waking a thread of the
/// shared pool for each step.
final class LoopTaskExecutor: TaskExecutor {
    private static let executors = PerEventLoop { LoopTaskExecutor(loop: $0) }

    /// The executor of `loop`.
    static func of(_ loop: any EventLoop) -> LoopTaskExecutor { executors.of(loop) }

    private let loop: any EventLoop

    private init(loop: any EventLoop) {
        self.loop = loop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
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
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))).whenComplete { _ in
                    channel.close(promise: nil)
                }
            }
            end(reason: "transport close", cutOff: true)
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
            link.write(frame: EnginePacket.pong(Array("probe".utf8)).webSocketFrame(context.channel.allocator))
            context.flush()
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
    private func end(reason: String, cutOff: Bool) {
        if case .open(let session) = stage { session.close(reason: reason, cutOff: cutOff) }
        stage = .closed
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(reason: "transport close", cutOff: true)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(reason: "transport error", cutOff: true)
        context.close(promise: nil)
    }
}

extension EnginePacket {
    /// The packet as a whole server frame: a text frame with the packet's type digit, or a
    /// binary frame with the bare bytes.
    func webSocketFrame(_ allocator: ByteBufferAllocator) -> ByteBuffer {
        var frame = allocator.buffer(capacity: webSocketFrameSize)
        writeWebSocketFrame(into: &frame)
        return frame
    }

    /// The bytes of ``webSocketFrame(_:)``.
    var webSocketFrameSize: Int {
        if case .binary(let bytes) = self { return ByteBuffer.wholeWebSocketFrameSize(length: bytes.count) }
        return ByteBuffer.wholeWebSocketFrameSize(length: 1 + textParts.data.count)
    }

    /// Appends ``webSocketFrame(_:)`` to `buffer`.
    func writeWebSocketFrame(into buffer: inout ByteBuffer) {
        if case .binary(let bytes) = self {
            return buffer.writeWholeWebSocketFrame(opcode: .binary, length: bytes.count) { $0.writeBytes(bytes) }
        }
        let (type, data) = textParts
        buffer.writeWholeWebSocketFrame(opcode: .text, length: 1 + data.count) {
            $0.writeInteger(type)
            $0.writeBytes(data)
        }
    }
}
