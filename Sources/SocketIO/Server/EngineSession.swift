import Foundation
import Synchronization

/// One Engine.IO session: its transport, the packets waiting to go out, and the stream of
/// packets that came in. Transports push in and drain out; the session task consumes ``inbound``.
final class EngineSession: Sendable {
    enum Transport: Sendable { case polling, websocket }

    private struct State {
        var transport: Transport
        /// Packets waiting for a polling GET (or for the WebSocket writer to attach).
        var outbox: [EnginePacket] = []
        var pollWaiter: CheckedContinuation<Void, Never>?
        var pollInProgress = false
        var webSocketWriter: AsyncStream<EnginePacket>.Continuation?
        var closed = false
        var closeReason = ""
        var lastPong: ContinuousClock.Instant = .now
        var pongWaiter: CheckedContinuation<Void, Never>?
        var connection: SocketIOConnection?
    }

    let sid: String
    let handshake: Handshake
    let inbound: AsyncStream<EnginePacket>
    private let inboundContinuation: AsyncStream<EnginePacket>.Continuation
    private let state: Mutex<State>

    init(sid: String, handshake: Handshake, transport: Transport) {
        self.sid = sid
        self.handshake = handshake
        (inbound, inboundContinuation) = AsyncStream.makeStream(of: EnginePacket.self)
        state = Mutex(State(transport: transport))
    }

    var isClosed: Bool { state.withLock { $0.closed } }
    var closeReason: String { state.withLock { $0.closeReason } }
    var transport: Transport { state.withLock { $0.transport } }
    var lastPong: ContinuousClock.Instant { state.withLock { $0.lastPong } }

    var connection: SocketIOConnection? {
        get { state.withLock { $0.connection } }
        set { state.withLock { $0.connection = newValue } }
    }

    /// Hands a packet from the client to the session task.
    func receive(_ packet: EnginePacket) {
        if case .pong = packet {
            let waiter = state.withLock { state in
                state.lastPong = .now
                defer { state.pongWaiter = nil }
                return state.pongWaiter
            }
            waiter?.resume()
        }
        inboundContinuation.yield(packet)
    }

    /// Returns once a pong arrived after `since`, or the session closed; cancellation ends the wait.
    func pong(since: ContinuousClock.Instant) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.closed || state.lastPong >= since || Task.isCancelled { return true }
                    state.pongWaiter = waiter
                    return false
                }
                if ready { waiter.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.pongWaiter = nil }
                return state.pongWaiter
            }
            waiter?.resume()
        }
    }

    /// Queues packets for the client on whichever transport is current.
    func send(_ packets: [EnginePacket]) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            guard !state.closed else { return nil }
            if let writer = state.webSocketWriter {
                for packet in packets { writer.yield(packet) }
                return nil
            }
            state.outbox.append(contentsOf: packets)
            defer { state.pollWaiter = nil }
            return state.pollWaiter
        }
        waiter?.resume()
    }

    /// Ends the session: the session task sees its inbound stream end, transports are released.
    func close(reason: String) {
        let (waiters, writer): ([CheckedContinuation<Void, Never>], AsyncStream<EnginePacket>.Continuation?) = state.withLock { state in
            guard !state.closed else { return ([], nil) }
            // What is still queued (a `close` packet, say) stays for a poll already waiting.
            state.closed = true
            state.closeReason = reason
            defer {
                state.pollWaiter = nil
                state.pongWaiter = nil
            }
            return ([state.pollWaiter, state.pongWaiter].compactMap { $0 }, state.webSocketWriter)
        }
        for waiter in waiters { waiter.resume() }
        writer?.finish()
        inboundContinuation.finish()
    }

    // MARK: - Polling

    enum PollError: Error, Equatable { case concurrentPoll, wrongTransport }

    /// Waits for packets and takes at most `maxPackets` of them within `maxBytes`; after the
    /// session closed, a `close` packet.
    func poll(maxPackets: Int, maxBytes: Int) async throws(PollError) -> [EnginePacket] {
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
                    return state.outbox.isEmpty ? [.noop] : take(&state.outbox, maxPackets: maxPackets, maxBytes: maxBytes)
                }
                guard !state.outbox.isEmpty else { return nil }
                state.pollInProgress = false
                return take(&state.outbox, maxPackets: maxPackets, maxBytes: maxBytes)
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

    private func take(_ outbox: inout [EnginePacket], maxPackets: Int, maxBytes: Int) -> [EnginePacket] {
        var count = 0
        var bytes = 0
        for packet in outbox.prefix(maxPackets) {
            let size = packet.text.count + 1
            if count > 0 && bytes + size > maxBytes { break }
            count += 1
            bytes += size
        }
        defer { outbox.removeFirst(count) }
        return Array(outbox.prefix(count))
    }

    // MARK: - WebSocket

    /// Switches the session to a WebSocket writer; packets still queued for polling go first.
    /// A pending poll is answered with `noop` so that the client can finish the upgrade.
    func attachWebSocket(_ writer: AsyncStream<EnginePacket>.Continuation) {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            for packet in state.outbox { writer.yield(packet) }
            state.outbox.removeAll()
            state.transport = .websocket
            state.webSocketWriter = writer
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
