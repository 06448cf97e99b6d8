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
        var awaiting: Int
        var acked = false

        var done: Bool { acked && awaiting <= 0 }
    }

    struct State {
        var ack = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var delivery = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var sent = 0
        var acked = 0
        var uploads = 0
        var delivered = 0
        var expected = 0
        var unexpected = 0
        var errors: [String: Int] = [:]
        var pending: [String: Pending] = [:]
        var connections = 0
        var peakConnections = 0
    }

    let state = Mutex(State())

    /// A message leaves; `recipients` sockets should get it.
    func sent(_ key: String, recipients: Int, at instant: ContinuousClock.Instant) {
        state.withLock {
            $0.sent += 1
            $0.expected += recipients
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
            $0.pending[key] = pending.done ? nil : pending
        }
    }

    /// User `receiver`'s socket got `message_received` for `key` (`<run>-<n>-<sender>`); the
    /// sender's own copies are not deliveries.
    func delivered(_ key: String, to receiver: Int, at instant: ContinuousClock.Instant) {
        state.withLock {
            if let sender = key.split(separator: "-").last, Int(sender) == receiver { return }
            guard var pending = $0.pending[key], pending.awaiting > 0 else {
                $0.unexpected += 1
                return
            }
            $0.delivered += 1
            _ = $0.delivery.record(Self.micros(instant - pending.sentAt))
            pending.awaiting -= 1
            $0.pending[key] = pending.done ? nil : pending
        }
    }

    func failed(_ key: String?, kind: String) {
        state.withLock {
            $0.errors[kind, default: 0] += 1
            if let key, let pending = $0.pending.removeValue(forKey: key) {
                // Nobody will get what was refused.
                $0.expected -= pending.awaiting
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
