import Foundation

/// Finding values in JSON text without decoding it: gateways forward what workers wrote and only
/// need to know where a member is (a reply's message, an event's id). It trusts its input to be
/// JSON from a worker: it never reads past the end, but counts brackets rather than pairing them.
public enum RawJSON {
    /// The text of member `key` of the object `json` (its own members only, not nested ones);
    /// nil when `json` is not an object, lacks the member, or is malformed before reaching it.
    public static func member(_ key: String, in json: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        guard let start = valueStart(of: key, in: json), let end = endOfValue(json, from: start) else { return nil }
        return json[start..<end]
    }

    /// The members `keys` of the object `json`, in the order of `keys`, found in one pass that
    /// stops once all are found; each nil when absent (or malformed before reaching it).
    public static func members(_ keys: [String], in json: ArraySlice<UInt8>) -> [ArraySlice<UInt8>?] {
        var found = [ArraySlice<UInt8>?](repeating: nil, count: keys.count)
        var missing = keys.count
        walk(json) { name, valueStart in
            guard let index = keys.firstIndex(where: { same(name, as: $0) }), found[index] == nil else { return .skip }
            guard let valueEnd = endOfValue(json, from: valueStart) else { return .stop }
            found[index] = json[valueStart..<valueEnd]
            missing -= 1
            return missing == 0 ? .stop : .skipTo(valueEnd)
        }
        return found
    }

    /// The object at `path` in `json` (each key a member of the object before it), as the text
    /// from its opening brace to the end of `json`: an enclosing object is read only as far as
    /// the member wanted, and the object's own end is not looked for (read it with
    /// ``members(_:in:)``, which stops at what it needs).
    public static func object(at path: [String], in json: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var current = json
        for key in path {
            guard let start = valueStart(of: key, in: current), start < current.endIndex, current[start] == UInt8(ascii: "{") else { return nil }
            current = current[start...]
        }
        return current
    }

    /// Where the value of member `key` starts, the object read only as far as that member.
    private static func valueStart(of key: String, in json: ArraySlice<UInt8>) -> Int? {
        var start: Int?
        walk(json) { name, valueStart in
            guard same(name, as: key) else { return .skip }
            start = valueStart
            return .stop
        }
        return start
    }

    /// Whether `bytes` are `string`'s UTF-8 (a member's name is compared as it is in the JSON:
    /// names with escapes are not Parley's), compared by length, then by `memcmp`: the generic
    /// `elementsEqual` stepped through both a byte at a time (for every member name and key, a
    /// tenth of reading a command).
    static func same(_ bytes: ArraySlice<UInt8>, as string: String) -> Bool {
        let utf8 = string.utf8
        guard bytes.count == utf8.count else { return false }
        guard !bytes.isEmpty else { return true }
        return utf8.withContiguousStorageIfAvailable { text in
            bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, text.baseAddress!, text.count) == 0 }
        } ?? bytes.elementsEqual(utf8)
    }

    private enum Step {
        /// Go on past this member's value.
        case skip
        /// Go on from this index, the end of the member's value, already found.
        case skipTo(Int)
        case stop
    }

    /// Walks the members of the object that opens `json`, handing `visit` each name and where
    /// its value starts; a value is scanned past only when `visit` goes on without its end.
    private static func walk(_ json: ArraySlice<UInt8>, _ visit: (ArraySlice<UInt8>, Int) -> Step) {
        var i = skipSpace(json, from: json.startIndex)
        guard i < json.endIndex, json[i] == UInt8(ascii: "{") else { return }
        i += 1
        while true {
            i = skipSpace(json, from: i)
            guard i < json.endIndex, json[i] == UInt8(ascii: "\""), let keyEnd = endOfValue(json, from: i) else { return }
            let name = json[(i + 1)..<(keyEnd - 1)]
            i = skipSpace(json, from: keyEnd)
            guard i < json.endIndex, json[i] == UInt8(ascii: ":") else { return }
            let valueStart = skipSpace(json, from: i + 1)
            let valueEnd: Int
            switch visit(name, valueStart) {
            case .stop: return
            case .skipTo(let end): valueEnd = end
            case .skip:
                guard let end = endOfValue(json, from: valueStart) else { return }
                valueEnd = end
            }
            i = skipSpace(json, from: valueEnd)
            guard i < json.endIndex, json[i] == UInt8(ascii: ",") else { return }
            i += 1
        }
    }

    /// The index just past the value that starts at `start`: a string, an object or array
    /// (brackets counted, strings skipped), or a bare literal or number.
    static func endOfValue(_ json: ArraySlice<UInt8>, from start: Int) -> Int? {
        guard start >= json.startIndex, start < json.endIndex else { return nil }
        // Over the slice's own storage, without a bounds check for each byte: the gateway reads
        // past a message's text for every event it routes.
        return json.withUnsafeBufferPointer { bytes in
            endOfValue(bytes, from: start - json.startIndex).map { $0 + json.startIndex }
        }
    }

    private static func endOfValue(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var i = start
        var depth = 0
        repeat {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                guard let close = closingQuote(bytes, after: i) else { return nil }
                i = close
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                guard depth >= 0 else { return nil }
            default:
                if depth == 0 {
                    // A literal or number ends at the first delimiter.
                    while i < bytes.count, !isDelimiter(bytes[i]) { i += 1 }
                    return i
                }
            }
            i += 1
        } while depth > 0 && i < bytes.count
        return depth == 0 ? i : nil
    }

    /// The quote that closes the string opening at `open`: the first one after it not escaped,
    /// that is, not after an odd run of backslashes. Found with `memchr`, which reads a long
    /// text many bytes at a time.
    private static func closingQuote(_ bytes: UnsafeBufferPointer<UInt8>, after open: Int) -> Int? {
        guard let base = bytes.baseAddress else { return nil }
        var from = open + 1
        while from < bytes.count {
            guard let found = memchr(base + from, Int32(UInt8(ascii: "\"")), bytes.count - from) else { return nil }
            let quote = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
            var backslashes = 0
            while quote - backslashes - 1 > open, bytes[quote - backslashes - 1] == UInt8(ascii: "\\") { backslashes += 1 }
            if backslashes % 2 == 0 { return quote }
            from = quote + 1
        }
        return nil
    }

    /// A switch, not a `Set`: hashing each byte of every number and literal showed in profiles.
    private static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D: true
        default: false
        }
    }

    private static func skipSpace(_ json: ArraySlice<UInt8>, from start: Int) -> Int {
        var i = start
        while i < json.endIndex, json[i] == 0x20 || json[i] == 0x09 || json[i] == 0x0A || json[i] == 0x0D { i += 1 }
        return i
    }
}
