import Foundation
import NIOCore
import Synchronization

/// One Engine.IO session: its transport and the packets waiting to go out. Packets that come in
/// are handed to the server as they arrive (``SocketIOServer``); no task waits on a session.
final class EngineSession: Sendable {
    enum Transport: Sendable { case polling, websocket }

    private struct State {
        var transport: Transport
        /// Packets waiting for a polling GET (or for the WebSocket to attach).
        var outbox: [EnginePacket] = []
        /// What the outbox's packets add to polling payloads.
        var outboxBytes = 0
        var pollWaiter: CheckedContinuation<Void, Never>?
        var pollInProgress = false
        var webSocket: WebSocketLink?
        var closed = false
        var closeReason = ""
        var heartbeat: Heartbeat
        var connection: SocketIOConnection?
        /// Application work running for this session (events, connects).
        var running = 0
        /// Whether the work running must finish before any more messages are handled.
        var alone = false
        /// Messages that came while `running` was at the limit or work ran alone, in order.
        var waiting: [EnginePacket] = []
        /// Whether a finishing task is handing `waiting` on (one at a time, to keep the order).
        var draining = false
    }

    let sid: String
    let handshake: Handshake
    /// Most bytes queued for a polling client before it counts as too slow and is dropped.
    private let sendBuffer: Int
    private let state: Mutex<State>
    /// Called once, when the session closes.
    private let onClose: @Sendable (EngineSession) -> Void

    init(sid: String, handshake: Handshake, transport: Transport, heartbeat: Heartbeat, sendBuffer: Int, onClose: @escaping @Sendable (EngineSession) -> Void) {
        self.sid = sid
        self.handshake = handshake
        self.onClose = onClose
        self.sendBuffer = sendBuffer
        state = Mutex(State(transport: transport, heartbeat: heartbeat))
    }

    var isClosed: Bool { state.withLock { $0.closed } }
    var closeReason: String { state.withLock { $0.closeReason } }
    var transport: Transport { state.withLock { $0.transport } }

    var connection: SocketIOConnection? {
        get { state.withLock { $0.connection } }
        set { state.withLock { $0.connection = newValue } }
    }

    /// Whether a message may be handled now; if not, it waits (in order) for application work to
    /// finish, and the WebSocket is read no further meanwhile, so a client cannot pile up work.
    func admit(_ packet: EnginePacket, limit: Int) -> Bool {
        let (admitted, pause): (Bool, WebSocketLink?) = state.withLock { state in
            guard state.running >= limit || state.alone || state.draining || !state.waiting.isEmpty else { return (true, nil) }
            state.waiting.append(packet)
            return (false, state.waiting.count == 1 ? state.webSocket : nil)
        }
        pause?.pauseReading()
        return admitted
    }

    /// Runs application work in a task of its own; when it ends, `next` is given the messages
    /// that waited, as long as there is room. With `alone`, messages wait until it has ended.
    func run(limit: Int, alone: Bool = false, _ work: @escaping @Sendable () async -> Void, next: @escaping @Sendable (EnginePacket) -> Void) {
        runTask(on: began(alone: alone), limit: limit, alone: alone, work, next: next)
    }

    /// Starts application work that needs no task (`begin` says whether it could, and is given
    /// the call that ends it), else runs `work` as ``run(limit:alone:_:next:)`` does; counted
    /// against `limit` either way.
    func start(
        limit: Int, _ begin: (@escaping @Sendable () -> Void) -> Bool, orRun work: @escaping @Sendable () async -> Void,
        next: @escaping @Sendable (EnginePacket) -> Void
    ) {
        let executor = began(alone: false)
        if !begin({ [self] in finished(limit: limit, alone: false, next) }) {
            runTask(on: executor, limit: limit, alone: false, work, next: next)
        }
    }

    /// Counts work as at work (and, `alone`, as holding the messages after it back); the
    /// executor its task would run on. One lock for both.
    private func began(alone: Bool) -> LoopTaskExecutor? {
        state.withLock { state in
            state.running += 1
            if alone { state.alone = true }
            return state.webSocket?.executor
        }
    }

    private func runTask(
        on executor: LoopTaskExecutor?, limit: Int, alone: Bool, _ work: @escaping @Sendable () async -> Void,
        next: @escaping @Sendable (EnginePacket) -> Void
    ) {
        Task(executorPreference: executor) { [self] in
            await work()
            finished(limit: limit, alone: alone, next)
        }
    }

    private func finished(limit: Int, alone: Bool, _ next: (EnginePacket) -> Void) {
        state.withLock { state in
            state.running -= 1
            if alone { state.alone = false }
        }
        drain(limit: limit, next)
    }

    private func drain(limit: Int, _ next: (EnginePacket) -> Void) {
        guard state.withLock({ state in
            guard !state.draining, !state.waiting.isEmpty else { return false }
            state.draining = true
            return true
        }) else { return }
        while true {
            enum Step { case handle(EnginePacket), stop, resume(WebSocketLink?) }
            let step: Step = state.withLock { state in
                if state.waiting.isEmpty {
                    state.draining = false
                    return .resume(state.webSocket)
                }
                guard state.running < limit, !state.alone, !state.closed else {
                    // A later finishing task goes on.
                    state.draining = false
                    return .stop
                }
                return .handle(state.waiting.removeFirst())
            }
            switch step {
            case .handle(let packet): next(packet)
            case .stop: return
            case .resume(let link):
                link?.resumeReading()
                return
            }
        }
    }

    /// The client answered a ping.
    func ponged() {
        state.withLock { $0.heartbeat.pong(at: .now) }
    }

    /// Sends the ping that is due, or closes the session whose ping went unanswered or that
    /// joined no namespace in time.
    func sweep(now: ContinuousClock.Instant) {
        let connection = connection
        let action = state.withLock { state -> Heartbeat.Action in
            state.closed ? .none : state.heartbeat.due(at: now) { connection?.hasSockets ?? false }
        }
        switch action {
        case .none: break
        case .ping: send([.ping([])])
        case .close(let reason, let cutOff): close(reason: reason, cutOff: cutOff)
        }
    }

    /// Queues packets for the client on whichever transport is current.
    func send(_ packets: [EnginePacket]) {
        send(.packets(packets))
    }

    /// Queues a packet whose WebSocket frame is already made (``BroadcastEvent``).
    func send(_ packet: EnginePacket, frame: ByteBuffer) {
        send(.framed(packet, frame))
    }

    private enum Outgoing {
        case packets([EnginePacket])
        /// One packet and its frame, shared with other sessions: no array of its own is made
        /// for it unless it waits for a poll.
        case framed(EnginePacket, ByteBuffer)
    }

    private func send(_ outgoing: Outgoing) {
        enum Outcome { case done, wake(CheckedContinuation<Void, Never>?), stalled }
        let outcome: Outcome = state.withLock { state in
            guard !state.closed else { return .done }
            if let link = state.webSocket {
                // A client that does not keep up is found where its frames are written.
                switch outgoing {
                case .packets(let packets): link.send(packets)
                case .framed(_, let frame): link.send(frame: frame)
                }
                return .done
            }
            let packets = switch outgoing {
            case .packets(let packets): packets
            case .framed(let packet, _): [packet]
            }
            let size = packets.reduce(0) { $0 + $1.payloadCount }
            // A polling client that keeps up takes what is queued on each poll.
            guard state.outboxBytes + size <= sendBuffer else { return .stalled }
            state.outboxBytes += size
            state.outbox.append(contentsOf: packets)
            defer { state.pollWaiter = nil }
            return .wake(state.pollWaiter)
        }
        switch outcome {
        case .done: break
        case .wake(let waiter): waiter?.resume()
        case .stalled: close(reason: "transport error", cutOff: true)
        }
    }

    /// Ends the session: transports are released and the server told (once).
    /// - Parameter cutOff: the client is gone or stuck: drop its WebSocket without the closing
    ///   handshake, so that the session ends now rather than after the close timeout.
    func close(reason: String, cutOff: Bool = false) {
        let (closing, waiter, link): (Bool, CheckedContinuation<Void, Never>?, WebSocketLink?) = state.withLock { state in
            guard !state.closed else { return (false, nil, nil) }
            // What is still queued (a `close` packet, say) stays for a poll already waiting.
            state.closed = true
            state.closeReason = reason
            defer {
                state.pollWaiter = nil
                state.webSocket = nil
            }
            return (true, state.pollWaiter, state.webSocket)
        }
        guard closing else { return }
        waiter?.resume()
        link?.close(cutOff: cutOff)
        onClose(self)
    }

    // MARK: - Polling

    enum PollError: Error, Equatable { case concurrentPoll, wrongTransport }

    /// Waits for packets and takes all that are queued, as many as fit in `maxBytes` (at least
    /// one): a client that polls less often than events arrive catches up in one round trip.
    /// After the session closed, a `close` packet.
    func poll(maxBytes: Int) async throws(PollError) -> [EnginePacket] {
        try state.withLock { (state) throws(PollError) in
            guard state.transport == .polling else { throw .wrongTransport }
            guard !state.pollInProgress else { throw .concurrentPoll }
            state.pollInProgress = true
        }
        while true {
            let taken: [EnginePacket]? = state.withLock { state in
                if state.transport != .polling {
                    // Upgraded while this poll waited: let it finish empty-handed.
                    state.pollInProgress = false
                    return [.noop]
                }
                if state.closed {
                    // Whatever was queued (a `close` from the server among it) goes out; else the
                    // poll ends cleanly with `noop`.
                    state.pollInProgress = false
                    return state.outbox.isEmpty ? [.noop] : take(&state, maxBytes: maxBytes)
                }
                guard !state.outbox.isEmpty else { return nil }
                state.pollInProgress = false
                return take(&state, maxBytes: maxBytes)
            }
            if let taken { return taken }
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.closed || !state.outbox.isEmpty { return true }
                    state.pollWaiter = waiter
                    return false
                }
                if ready { waiter.resume() }
            }
        }
    }

    private func take(_ state: inout State, maxBytes: Int) -> [EnginePacket] {
        var count = 0
        var bytes = 0
        for packet in state.outbox {
            let size = packet.payloadCount
            if count > 0 && bytes + size > maxBytes { break }
            count += 1
            bytes += size
        }
        defer {
            state.outbox.removeFirst(count)
            state.outboxBytes -= bytes
        }
        return Array(state.outbox.prefix(count))
    }

    // MARK: - WebSocket

    /// Switches the session to its WebSocket; packets still queued for polling go first. A
    /// pending poll is answered with `noop` so that the client can finish the upgrade.
    func attachWebSocket(_ link: WebSocketLink) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard !state.closed else {
                link.close(cutOff: false)
                return nil
            }
            if !state.outbox.isEmpty { link.send(state.outbox) }
            state.outbox.removeAll()
            state.outboxBytes = 0
            state.transport = .websocket
            state.webSocket = link
            defer { state.pollWaiter = nil }
            return state.pollWaiter
        }
        waiter?.resume()
    }

    /// During an upgrade: answers a waiting poll with `noop` (the client then sends `upgrade`).
    func flushPollWithNoop() {
        send([.noop])
    }
}
