import Foundation
import Histogram
import Synchronization

/// Everything a run measures, shared by the senders and the receivers.
///
/// Latencies are microseconds in HdrHistograms (1 µs to 60 s, 3 significant digits).
final class LoadRecorder: Sendable {
    /// A message until both its ack and all its deliveries are in (a delivery may beat the ack).
    struct Pending {
        let sentAt: ContinuousClock.Instant
        /// The users whose sockets have not got it yet: counted per user, so that a copy twice
        /// to one cannot stand in for a copy never given to another.
        var awaiting: [Int]
        var acked = false

        var done: Bool { acked && awaiting.isEmpty }
    }

    struct State {
        var ack = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var delivery = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var sent = 0
        var acked = 0
        var uploads = 0
        var delivered = 0
        var expected = 0
        /// Deliveries of a message its receiver had already got.
        var repeated = 0
        /// Deliveries of a message whose send had failed (e.g. timed out).
        var late = 0
        var errors: [String: Int] = [:]
        var pending: [String: Pending] = [:]
        /// Messages acknowledged and delivered to everyone: any further copy is a repeat.
        var finished = Set<String>()
        var connections = 0
        var peakConnections = 0
    }

    let state = Mutex(State())

    /// A message leaves; the sockets of `recipients` (user indexes) should get it.
    func sent(_ key: String, recipients: [Int], at instant: ContinuousClock.Instant) {
        state.withLock {
            $0.sent += 1
            $0.expected += recipients.count
            $0.pending[key] = Pending(sentAt: instant, awaiting: recipients)
        }
    }

    /// The gateway acknowledged a send (or an upload answered 201).
    func acked(_ key: String, upload: Bool, at instant: ContinuousClock.Instant) {
        state.withLock {
            guard var pending = $0.pending[key], !pending.acked else { return }
            $0.acked += 1
            if upload { $0.uploads += 1 }
            _ = $0.ack.record(Self.micros(instant - pending.sentAt))
            pending.acked = true
            $0.settle(key, pending)
        }
    }

    /// User `receiver`'s socket got `message_received` for `key` (`<run>-<n>-<sender>`); the
    /// sender's own copies are not deliveries.
    func delivered(_ key: String, to receiver: Int, at instant: ContinuousClock.Instant) {
        state.withLock {
            if let sender = key.split(separator: "-").last, Int(sender) == receiver { return }
            guard var pending = $0.pending[key] else {
                if $0.finished.contains(key) { $0.repeated += 1 } else { $0.late += 1 }
                return
            }
            guard let index = pending.awaiting.firstIndex(of: receiver) else {
                $0.repeated += 1
                return
            }
            pending.awaiting.swapAt(index, pending.awaiting.count - 1)
            pending.awaiting.removeLast()
            $0.delivered += 1
            _ = $0.delivery.record(Self.micros(instant - pending.sentAt))
            $0.settle(key, pending)
        }
    }

    func failed(_ key: String?, kind: String) {
        state.withLock {
            $0.errors[kind, default: 0] += 1
            if let key, let pending = $0.pending.removeValue(forKey: key) {
                // Nobody will get what was refused.
                $0.expected -= pending.awaiting.count
            }
        }
    }

    func connected() {
        state.withLock {
            $0.connections += 1
            $0.peakConnections = max($0.peakConnections, $0.connections)
        }
    }

    func disconnected() {
        state.withLock { $0.connections -= 1 }
    }

    static func micros(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}

extension LoadRecorder.State {
    /// Keeps `pending` as the message's state, or moves it to ``finished`` once it is done.
    mutating func settle(_ key: String, _ pending: LoadRecorder.Pending) {
        if pending.done {
            self.pending[key] = nil
            finished.insert(key)
        } else {
            self.pending[key] = pending
        }
    }
}
