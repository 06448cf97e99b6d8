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
        /// Socket sends to their acks.
        var ack = LoadRecorder.histogram()
        /// Uploads to their 201: a file's trip through the media worker, apart from the sends'.
        var upload = LoadRecorder.histogram()
        var delivery = LoadRecorder.histogram()
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
        /// By message number.
        var pending: [Int: Pending] = [:]
        /// Messages acknowledged and delivered to everyone, a bit per message number: any
        /// further copy is a repeat. Bits, not keys, so that a long run's memory stays small.
        var finished = MessageNumbers()
        var connections = 0
        var peakConnections = 0
    }

    let state = Mutex(State())

    /// A message leaves; the sockets of `recipients` (user indexes) should get it.
    func sent(_ key: MessageKey, recipients: [Int], at instant: ContinuousClock.Instant) {
        state.withLock {
            $0.sent += 1
            $0.expected += recipients.count
            $0.pending[key.number] = Pending(sentAt: instant, awaiting: recipients)
        }
    }

    /// The gateway acknowledged a send (or an upload answered 201).
    func acked(_ key: MessageKey, upload: Bool, at instant: ContinuousClock.Instant) {
        state.withLock {
            guard let pending = $0.pending[key.number], !pending.acked else { return }
            $0.acked += 1
            let latency = Self.micros(instant - pending.sentAt)
            if upload {
                $0.uploads += 1
                _ = $0.upload.record(latency)
            } else {
                _ = $0.ack.record(latency)
            }
            pending.acked = true
            $0.finishIfDone(key.number, pending)
        }
    }

    /// User `receiver`'s socket got `message_received` for `key`; the sender's own copies are
    /// not deliveries.
    func delivered(_ key: MessageKey, to receiver: Int, at instant: ContinuousClock.Instant) {
        if key.sender == receiver { return }
        state.withLock {
            guard let pending = $0.pending[key.number] else {
                if $0.finished.contains(key.number) { $0.repeated += 1 } else { $0.late += 1 }
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
            $0.finishIfDone(key.number, pending)
        }
    }

    func failed(_ key: MessageKey?, kind: String) {
        state.withLock {
            $0.errors[kind, default: 0] += 1
            if let key, let pending = $0.pending.removeValue(forKey: key.number) {
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

    static func histogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    static func micros(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}

extension LoadRecorder.State {
    /// Moves the message to ``finished`` once it is done.
    mutating func finishIfDone(_ number: Int, _ message: LoadRecorder.Pending) {
        guard message.done else { return }
        pending[number] = nil
        finished.insert(number)
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

/// A message of the run: its number (0, 1, 2, ... as the run sends them) and its sender's user
/// index. On the wire it is the message's `clientMessageId`, `<run>-<number>-<sender>`: the
/// sender rides in it so that its own sockets' copies are told apart even after the message is
/// done, and the run so that another run's messages to the same users are not counted.
struct MessageKey: Sendable, Equatable {
    let number: Int
    let sender: Int

    /// Letters, digits and dashes: nothing to escape in JSON.
    func text(run: String) -> String { "\(run)-\(number)-\(sender)" }

    private static let field = Array(#""clientMessageId":""#.utf8)

    /// The key of a message of run `run` in the message's JSON; nil for another run's or none.
    /// Found without decoding the JSON (the text is ours and never holds the field's name) and
    /// read without making a string: the generator reads one for every delivery. (Foundation's
    /// generic `firstRange(of:)` was a seventh of its CPU; a `String` key, made and hashed per
    /// delivery, another few percent.)
    init?(inMessage json: ArraySlice<UInt8>, run: [UInt8]) {
        guard let key = json.withUnsafeBufferPointer({ bytes in
            Self.field.withUnsafeBufferPointer { field in run.withUnsafeBufferPointer { run in Self.read(bytes, field, run) } }
        }) else { return nil }
        self = key
    }

    init(number: Int, sender: Int) {
        self.number = number
        self.sender = sender
    }

    private static func read(_ bytes: UnsafeBufferPointer<UInt8>, _ field: UnsafeBufferPointer<UInt8>, _ run: UnsafeBufferPointer<UInt8>) -> MessageKey? {
        guard bytes.count > field.count else { return nil }
        for i in 0...(bytes.count - field.count) where bytes[i] == field[0] && memcmp(bytes.baseAddress! + i, field.baseAddress!, field.count) == 0 {
            var at = i + field.count
            guard bytes.count - at > run.count, memcmp(bytes.baseAddress! + at, run.baseAddress!, run.count) == 0,
                  bytes[at + run.count] == UInt8(ascii: "-") else { return nil }
            at += run.count + 1
            guard let number = decimal(bytes, &at, endingAt: UInt8(ascii: "-")),
                  let sender = decimal(bytes, &at, endingAt: UInt8(ascii: "\"")) else { return nil }
            return MessageKey(number: number, sender: sender)
        }
        return nil
    }

    /// Decimal digits from `at` up to `end`, which `at` is left past.
    private static func decimal(_ bytes: UnsafeBufferPointer<UInt8>, _ at: inout Int, endingAt end: UInt8) -> Int? {
        var value = 0
        let start = at
        while at < bytes.count, bytes[at] != end {
            let digit = bytes[at] &- UInt8(ascii: "0")
            guard digit < 10, at - start < 18 else { return nil }
            value = value * 10 + Int(digit)
            at += 1
        }
        guard at < bytes.count, at > start else { return nil }
        at += 1
        return value
    }
}
