import CHiredis
import Foundation
import Logging
import ParleyIOThread
import Synchronization

/// A message received on a subscribed channel.
public struct PubSubMessage: Sendable {
    public let channel: String
    public let payload: [UInt8]
}

/// A message as it lies in the subscriber's read buffer, valid only while the receiver runs: a
/// receiver copies what it keeps (``copied``) and reads the rest in place. The gateway routes
/// every message of every member's channel, and most of them repeat the event before them.
public struct ReceivedPubSubMessage {
    public let channel: UnsafeRawBufferPointer
    public let payload: UnsafeRawBufferPointer

    /// The message copied out of the buffer, to keep.
    public var copied: PubSubMessage {
        PubSubMessage(channel: String(decoding: channel, as: UTF8.self), payload: [UInt8](payload))
    }
}

/// Redis pub/sub on a dedicated connection and thread: channels can be subscribed and
/// unsubscribed at run time, and messages go to the receiver set with ``receive(with:)``.
///
/// After a lost connection the thread reconnects with backoff and subscribes again to every
/// channel it held, so callers never re-subscribe themselves.
public final class RedisSubscriber: IOThreadService, Sendable {
    private enum Change: Sendable {
        case subscribe(String)
        case unsubscribe(String)
    }

    private struct State {
        /// What callers asked for; restored after a reconnect.
        var wanted: Set<String> = []
        /// What Redis confirmed on the current connection.
        var confirmed: Set<String> = []
        var waiters: [String: [(id: UUID, continuation: CheckedContinuation<Void, Never>)]] = [:]
    }

    /// The closure sits in a box. Kept in the mutex as a bare optional function, it came out of
    /// every `withLock` (an inout access) wrapped in more reabstraction thunks, so calls grew
    /// slower until they took half the gateway's CPU (perf); a class reference is not rewrapped.
    private final class Receiver: Sendable {
        let receive: @Sendable (ReceivedPubSubMessage) -> Void
        init(_ receive: @escaping @Sendable (ReceivedPubSubMessage) -> Void) { self.receive = receive }
    }

    private let receiver = Mutex<Receiver?>(nil)
    private let endpoint: RedisEndpoint
    private let logger: Logger
    private let thread: IOThread
    private let changes = Inbox<Change>()
    private let state = Mutex(State())

    public init(endpoint: RedisEndpoint, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
        self.thread = IOThread(name: "redis-subscriber")
    }

    public func start() { thread.start { [self] in loop() } }
    public func stop() { thread.stop() }

    /// Sets where every message of every subscribed channel goes: one receiver (the process's
    /// dispatcher routes messages onwards by channel), called on the subscriber's thread in the
    /// order messages arrive, so it must hand work on rather than block. Called right there,
    /// the thread-to-task hop a stream would cost per message is saved. Set it before
    /// subscribing: messages that arrive without a receiver are dropped.
    public func receive(with receiver: @escaping @Sendable (ReceivedPubSubMessage) -> Void) {
        self.receiver.withLock { $0 = Receiver(receiver) }
    }

    /// Subscribes to `channel` and returns once Redis confirmed it (at once if it already had).
    /// While Redis is unreachable this waits for the reconnect; cancelling the task ends the wait
    /// (the subscription stays wanted).
    public func subscribe(_ channel: String) async {
        let waiterId = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state -> Bool in
                    state.wanted.insert(channel)
                    // After a stop no thread is left to confirm it, nor to let the waiter go.
                    if state.confirmed.contains(channel) || thread.isStopped || Task.isCancelled { return true }
                    state.waiters[channel, default: []].append((waiterId, waiter))
                    return false
                }
                if done {
                    waiter.resume()
                } else {
                    changes.put(.subscribe(channel), waking: thread)
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let index = state.waiters[channel]?.firstIndex(where: { $0.id == waiterId }) else { return nil }
                return state.waiters[channel]?.remove(at: index).continuation
            }
            waiter?.resume()
        }
    }

    /// Stops receiving `channel`; does not wait for Redis.
    public func unsubscribe(_ channel: String) {
        let held = state.withLock { $0.wanted.remove(channel) != nil }
        guard held else { return }
        changes.put(.unsubscribe(channel), waking: thread)
    }

    /// The channels currently wanted.
    public var channels: Set<String> { state.withLock { $0.wanted } }

    // MARK: - Connection thread

    private func loop() {
        var backoff = Backoff()
        while !thread.isStopped {
            do {
                // It blocks in poll, not in reads, so it has no read timeout.
                var subscriberEndpoint = endpoint
                subscriberEndpoint.timeoutMilliseconds = 0
                let connection = try RedisConnection(subscriberEndpoint, readsInPlace: true)
                backoff.reset()
                _ = changes.takeAll()  // the full wanted set is sent below
                let wanted = state.withLock { $0.wanted }
                if !wanted.isEmpty {
                    connection.append([Array("SUBSCRIBE".utf8)] + wanted.map { Array($0.utf8) })
                    try connection.flush()
                }
                logger.info("redis subscriber connected", metadata: ["channels": "\(wanted.count)"])
                try serve(connection)
            } catch {
                state.withLock { $0.confirmed.removeAll() }
                if !thread.isStopped {
                    logger.warning("redis subscriber connection lost", metadata: ["error": "\(error)"])
                    thread.sleep(backoff.next())
                }
            }
        }
        state.withLock { state in
            for waiter in state.waiters.values.joined() { waiter.continuation.resume() }
            state.waiters.removeAll()
        }
    }

    private func serve(_ connection: RedisConnection) throws(RedisError) {
        while !thread.isStopped {
            let pending = changes.takeAll()
            if !pending.isEmpty {
                for change in pending {
                    switch change {
                    case .subscribe(let c): connection.append([Array("SUBSCRIBE".utf8), Array(c.utf8)])
                    case .unsubscribe(let c): connection.append([Array("UNSUBSCRIBE".utf8), Array(c.utf8)])
                    }
                }
                try connection.flush()
            }
            let polled = parley_redis_poll_read(connection.context, thread.wakeFD, 1000)
            if polled < 0 { throw .unavailable(connection.errorText.isEmpty ? "connection closed" : connection.errorText) }
            let receiver = receiver.withLock { $0 }
            while try connection.withBufferedReply({ handle($0, receiver: receiver) }) != nil {}
        }
    }

    /// A pub/sub reply, `[kind, channel, payload or count]`, read in place.
    private func handle(_ reply: FlatReply, receiver: Receiver?) {
        guard let count = reply.count, count >= 3, let kind = reply.bytes(0), let channelBytes = reply.bytes(1) else { return }
        // Compared as bytes: `elementsEqual` against a String's UTF-8 view walked both a byte
        // at a time through generic code, for every message (0.7% of a gateway at 6,000 msg/s).
        if kind.count == 7, memcmp(kind.baseAddress!, "message", 7) == 0 {
            if reply.type(2) == REDIS_REPLY_STRING, let payload = reply.bytes(2) {
                receiver?.receive(ReceivedPubSubMessage(channel: channelBytes, payload: payload))
            }
            return
        }
        let channel = String(decoding: channelBytes, as: UTF8.self)
        switch String(decoding: kind, as: UTF8.self) {
        case "subscribe":
            let waiters = state.withLock { state in
                state.confirmed.insert(channel)
                return state.waiters.removeValue(forKey: channel) ?? []
            }
            for waiter in waiters { waiter.continuation.resume() }
        case "unsubscribe":
            state.withLock { state in
                // A later subscribe may already have asked for it again.
                if !state.wanted.contains(channel) { state.confirmed.remove(channel) }
            }
        default:
            break
        }
    }
}
