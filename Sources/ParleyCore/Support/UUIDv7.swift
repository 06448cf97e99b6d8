import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Time-ordered UUIDs (RFC 9562 version 7): keyset pagination on `(chat_id, id)` follows
/// creation order, and index inserts stay at the right edge.
public enum UUIDv7 {
    private struct State {
        var millis: UInt64 = 0
        var counter: UInt16 = 0
        /// Random words from the system's generator, taken a block at a time: a `getrandom` call
        /// per id was about 1% of the gateway's CPU (two ids per message sent).
        var random = RandomBlock()
    }

    private static let last = Mutex(State())

    /// A new UUIDv7; ids made in one process are strictly increasing.
    public static func make(now: Date = Date()) -> UUID {
        var millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        let (counter, tail): (UInt16, UInt64) = last.withLock { state in
            // 12 bits of rand_a hold a counter so that ids made within one millisecond (or after
            // the clock went back) still sort; a full counter moves on to the next millisecond.
            if millis <= state.millis && state.counter < 0x0FFF {
                millis = state.millis
                state.counter += 1
            } else {
                millis = max(millis, state.millis + 1)
                state.millis = millis
                state.counter = UInt16(truncatingIfNeeded: state.random.next() % 0x0400)
            }
            return (state.counter, state.random.next())
        }
        // Written in place: an array here was a heap allocation per id (two per message sent).
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { bytes in
            for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> (40 - 8 * UInt64(i))) }
            bytes[6] = 0x70 | UInt8(counter >> 8)
            bytes[7] = UInt8(truncatingIfNeeded: counter)
            for i in 8..<16 { bytes[i] = UInt8(truncatingIfNeeded: tail >> (8 * UInt64(i - 8))) }
            bytes[8] = 0x80 | (bytes[8] & 0x3F)
        }
        return UUID(uuid: uuid)
    }

    /// The largest UUIDv7 of `date`'s millisecond: every id made up to then sorts at or below it
    /// (PostgreSQL compares uuids byte by byte).
    public static func upperBound(at date: Date) -> UUID {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var b = [UInt8](repeating: 0xFF, count: 16)
        for i in 0..<6 { b[i] = UInt8(truncatingIfNeeded: millis >> (40 - 8 * UInt64(i))) }
        b[6] = 0x7F
        b[8] = 0xBF
        return UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]))
    }

    /// The creation time a UUIDv7 carries, to the millisecond.
    public static func timestamp(of id: UUID) -> Date {
        let b = id.uuid
        let millis = [b.0, b.1, b.2, b.3, b.4, b.5].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Date(timeIntervalSince1970: Double(millis) / 1000)
    }
}

extension UUID {
    /// The RFC 9562 text form (lower case), as every id appears in Parley's JSON and channels.
    /// Written here: `uuidString` goes through `sprintf`, and a worker names ten channels per
    /// group message.
    public var lowercased: String { text(uppercase: false) }

    /// `uuidString`'s upper-case form (AMQP message ids, and ids as the encoder writes them),
    /// without its `sprintf`: the gateway names every command it publishes.
    public var uppercased: String { text(uppercase: true) }

    private func text(uppercase: Bool) -> String {
        String(unsafeUninitializedCapacity: 36) { writeText(uppercase: uppercase, into: $0, at: 0) }
    }

    /// Writes the 36 bytes of the text form into `buffer` from `start`; returns where they end.
    @inline(__always)
    func writeText(uppercase: Bool, into buffer: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        var position = start
        forEachTextByte(uppercase: uppercase) { byte in
            buffer[position] = byte
            position += 1
        }
        return position
    }

    /// Hands over the 36 bytes of the text form, in upper case as `uuidString` writes it or in
    /// lower case.
    @inline(__always)
    func forEachTextByte(uppercase: Bool, _ body: (UInt8) -> Void) {
        let digits: StaticString = uppercase ? "0123456789ABCDEF" : "0123456789abcdef"
        digits.withUTF8Buffer { digits in
            withUnsafeBytes(of: uuid) { raw in
                for (index, byte) in raw.enumerated() {
                    if index == 4 || index == 6 || index == 8 || index == 10 { body(UInt8(ascii: "-")) }
                    body(digits[Int(byte >> 4)])
                    body(digits[Int(byte & 0xF)])
                }
            }
        }
    }
}

extension UUID {
    /// Reads the 36-character text form, in either case, and nothing else. Foundation's
    /// `UUID(uuidString:)` goes through `sscanf`, which cost a few percent of a gateway that
    /// reads ids from every event, and takes spaces and signs inside the digits on Linux
    /// (`-5705507-…` reads as `FB705507-…`).
    public init?(text: some StringProtocol) {
        self.init(utf8: text.utf8)
    }

    /// Reads a JSON string holding the text form (`"…"`, 38 bytes), as ``RawJSON`` finds it.
    public init?(quotedUTF8 json: ArraySlice<UInt8>) {
        guard json.count == 38, json.first == UInt8(ascii: "\""), json.last == UInt8(ascii: "\"") else { return nil }
        self.init(utf8: json.dropFirst().dropLast())
    }

    /// Reads the 36-byte text form, in either case.
    init?(utf8 text: some Collection<UInt8>) {
        // Walking a substring's UTF-8 view index by index cost more than the parse itself.
        let fast = text.withContiguousStorageIfAvailable { UUID.parse($0) }
        guard let id = fast ?? UUID.parse(Array(text)) else { return nil }
        self = id
    }

    private static func parse(_ text: UnsafeBufferPointer<UInt8>) -> UUID? {
        guard text.count == 36, let base = text.baseAddress else { return nil }
        let dash = UInt8(ascii: "-")
        guard base[8] == dash, base[13] == dash, base[18] == dash, base[23] == dash else { return nil }
        return hexDigits.withUnsafeBufferPointer { digits -> UUID? in
            var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
            // Any byte that is not a digit sets a high bit here; checked once at the end.
            var invalid: UInt8 = 0
            withUnsafeMutableBytes(of: &uuid) { out in
                var position = 0
                for index in 0..<16 {
                    if index == 4 || index == 6 || index == 8 || index == 10 { position += 1 }
                    let high = digits[Int(base[position])], low = digits[Int(base[position + 1])]
                    invalid |= high | low
                    out[index] = high << 4 | low
                    position += 2
                }
            }
            return invalid & 0xF0 == 0 ? UUID(uuid: uuid) : nil
        }
    }

    private static func parse(_ text: [UInt8]) -> UUID? {
        text.withUnsafeBufferPointer { parse($0) }
    }

    /// Each byte's value as a hex digit, 0xFF for a byte that is none. Looked up rather than
    /// compared: on ids' random digits the branches between digits and letters were mispredicted
    /// so often that a parse took 170 ns, against 26 ns looked up.
    private static let hexDigits: [UInt8] = (0...255).map { byte in
        switch UInt8(byte) {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt8(byte) - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt8(byte) - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt8(byte) - UInt8(ascii: "A") + 10
        default: 0xFF
        }
    }
}

/// Words of the system's cryptographic generator, fetched 64 at a time (one `getrandom` call
/// instead of one per word; glibc's `arc4random_buf` reads the kernel's generator).
struct RandomBlock {
    private var words = [UInt64](repeating: 0, count: 64)
    private var used = 64

    mutating func next() -> UInt64 {
        if used == words.count {
            words.withUnsafeMutableBytes { arc4random_buf($0.baseAddress!, $0.count) }
            used = 0
        }
        defer { used += 1 }
        return words[used]
    }
}
