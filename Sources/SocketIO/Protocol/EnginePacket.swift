import Foundation

/// An Engine.IO v4 packet (`open`, `close`, `ping`, `pong`, `message`, `upgrade`, `noop`).
public enum EnginePacket: Sendable, Equatable {
    case open([UInt8])
    case close
    case ping([UInt8])
    case pong([UInt8])
    case message([UInt8])
    /// A binary message: WebSocket binary frames, or `b`-prefixed base64 in polling payloads.
    case binary([UInt8])
    case upgrade
    case noop

    /// The record separator that joins packets in a polling payload.
    static let separator: UInt8 = 0x1E

    /// The text form of a packet: a type digit and its data (binary data in base64, as polling
    /// carries it).
    public var text: [UInt8] {
        if case .binary(let d) = self { return [UInt8(ascii: "b")] + Array(Data(d).base64EncodedString().utf8) }
        let (type, data) = textParts
        return [type] + data
    }

    /// The length of `text`, without making it.
    var textCount: Int {
        if case .binary(let d) = self { return 1 + (d.count + 2) / 3 * 4 }
        return 1 + textParts.data.count
    }

    /// What the packet adds to a polling payload: its text and a separator.
    var payloadCount: Int { textCount + 1 }

    /// The type digit and data of a text packet (`binary` gives `b` and the raw bytes).
    var textParts: (type: UInt8, data: [UInt8]) {
        switch self {
        case .open(let d): (UInt8(ascii: "0"), d)
        case .close: (UInt8(ascii: "1"), [])
        case .ping(let d): (UInt8(ascii: "2"), d)
        case .pong(let d): (UInt8(ascii: "3"), d)
        case .message(let d): (UInt8(ascii: "4"), d)
        case .upgrade: (UInt8(ascii: "5"), [])
        case .noop: (UInt8(ascii: "6"), [])
        case .binary(let d): (UInt8(ascii: "b"), d)
        }
    }

    /// Decodes one text packet (a WebSocket text frame or one record of a polling payload).
    public static func decode(text: some Collection<UInt8>) -> EnginePacket? {
        guard let first = text.first else { return nil }
        let data = Array(text.dropFirst())
        switch first {
        case UInt8(ascii: "0"): return .open(data)
        case UInt8(ascii: "1"): return data.isEmpty ? .close : nil
        case UInt8(ascii: "2"): return .ping(data)
        case UInt8(ascii: "3"): return .pong(data)
        case UInt8(ascii: "4"): return .message(data)
        case UInt8(ascii: "5"): return data.isEmpty ? .upgrade : nil
        case UInt8(ascii: "6"): return data.isEmpty ? .noop : nil
        case UInt8(ascii: "b"):
            guard let bytes = Data(base64Encoded: Data(data)) else { return nil }
            return .binary([UInt8](bytes))
        default: return nil
        }
    }

    /// Splits a polling payload into packets; `nil` if any record is malformed.
    public static func decode(payload: [UInt8]) -> [EnginePacket]? {
        var packets: [EnginePacket] = []
        for record in payload.split(separator: separator, omittingEmptySubsequences: false) {
            guard let packet = decode(text: record) else { return nil }
            packets.append(packet)
        }
        return packets
    }

    /// Joins packets into one polling payload.
    public static func encode(payload packets: [EnginePacket]) -> [UInt8] {
        var out: [UInt8] = []
        for (i, packet) in packets.enumerated() {
            if i > 0 { out.append(separator) }
            out.append(contentsOf: packet.text)
        }
        return out
    }
}
