import Foundation
import Histogram
import Synchronization

/// Everything a run measures, shared by the senders and the receivers.
///
/// Latencies are microseconds in HdrHistograms (1 µs to 60 s, 3 significant digits).
final class LoadRecorder: Sendable {
    /// A message until both its ack and all its deliveries are in (a delivery may beat the ack).
    /// A class, changed where it lies: as a struct every delivery copied it out of the
    /// dictionary and back, its `awaiting` with it (the recorder's share of the generator's CPU
    /// went from 7.5% to 5.4%).
    final class Pending {
        let sentAt: ContinuousClock.Instant
        /// The users whose sockets have not got it yet: counted per user, so that a copy twice
        /// to one cannot stand in for a copy never given to another.
        var awaiting: [Int]
        var acked = false

        init(sentAt: ContinuousClock.Instant, awaiting: [Int]) {
            self.sentAt = sentAt
            self.awaiting = awaiting
        }

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
        /// Messages acknowledged and delivered to everyone, a bit per message number: any
        /// further copy is a repeat. Bits, not keys, so that a long run's memory stays small.
        var finished = MessageNumbers()
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
            guard let pending = $0.pending[key], !pending.acked else { return }
            $0.acked += 1
            if upload { $0.uploads += 1 }
            _ = $0.ack.record(Self.micros(instant - pending.sentAt))
            pending.acked = true
            $0.finishIfDone(key, pending, number: Self.parts(of: key)?.number)
        }
    }

    /// User `receiver`'s socket got `message_received` for `key` (`<run>-<n>-<sender>`); the
    /// sender's own copies are not deliveries.
    func delivered(_ key: String, to receiver: Int, at instant: ContinuousClock.Instant) {
        let parts = Self.parts(of: key)
        if parts?.sender == receiver { return }
        state.withLock {
            guard let pending = $0.pending[key] else {
                if let number = parts?.number, $0.finished.contains(number) { $0.repeated += 1 } else { $0.late += 1 }
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
            $0.finishIfDone(key, pending, number: parts?.number)
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

    /// The message number and the sender's user index in a key (`<run>-<n>-<sender>`).
    static func parts(of key: String) -> (number: Int, sender: Int)? {
        let utf8 = key.utf8
        guard let last = utf8.lastIndex(of: UInt8(ascii: "-")),
              let previous = utf8[..<last].lastIndex(of: UInt8(ascii: "-")),
              let number = Int(Substring(utf8[utf8.index(after: previous)..<last])),
              let sender = Int(Substring(utf8[utf8.index(after: last)...]))
        else { return nil }
        return (number, sender)
    }

    static func micros(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}

extension LoadRecorder.State {
    /// Moves the message to ``finished`` once it is done.
    mutating func finishIfDone(_ key: String, _ message: LoadRecorder.Pending, number: @autoclosure () -> Int?) {
        guard message.done else { return }
        pending[key] = nil
        if let number = number() { finished.insert(number) }
    }
}

/// A set of message numbers (0, 1, 2, ... as a run sends them), a bit each.
struct MessageNumbers {
    private var words: [UInt64] = []

    mutating func insert(_ number: Int) {
        guard number >= 0 else { return }
        let (word, bit) = number.quotientAndRemainder(dividingBy: 64)
        if word >= words.count { words += repeatElement(0, count: max(word + 1 - words.count, words.count)) }
        words[word] |= 1 << UInt64(bit)
    }

    func contains(_ number: Int) -> Bool {
        guard number >= 0 else { return false }
        let (word, bit) = number.quotientAndRemainder(dividingBy: 64)
        return word < words.count && words[word] & (1 << UInt64(bit)) != 0
    }
}
