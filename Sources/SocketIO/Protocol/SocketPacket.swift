import Foundation

/// A Socket.IO v5 packet: `<type>[<attachments>-][<namespace>,][<id>][<json>]`.
public struct SocketPacket: Sendable, Equatable {
    public enum Kind: UInt8, Sendable {
        case connect = 0, disconnect, event, ack, connectError, binaryEvent, binaryAck
    }

    public var kind: Kind
    public var namespace: String
    public var id: Int?
    /// The JSON payload, if any (still with `_placeholder` objects for binary packets).
    public var data: JSONValue?
    /// How many binary attachments follow (binary kinds only).
    public var attachments: Int

    public init(kind: Kind, namespace: String = "/", id: Int? = nil, data: JSONValue? = nil, attachments: Int = 0) {
        self.kind = kind
        self.namespace = namespace
        self.id = id
        self.data = data
        self.attachments = attachments
    }

    /// Largest ack id accepted: ids are JavaScript integers.
    static let maxId = 1 << 53

    /// Parses the text of an Engine.IO message; `nil` for anything malformed.
    public static func decode(_ bytes: [UInt8]) -> SocketPacket? {
        var i = 0
        guard i < bytes.count, let kind = Kind(rawValue: bytes[i] &- UInt8(ascii: "0")) else { return nil }
        i += 1
        var attachments = 0
        if kind == .binaryEvent || kind == .binaryAck {
            let start = i
            while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
            guard i > start, i < bytes.count, bytes[i] == UInt8(ascii: "-"),
                  let n = Int(String(decoding: bytes[start..<i], as: UTF8.self)), n <= 1000 else { return nil }
            attachments = n
            i += 1
        }
        var namespace = "/"
        if i < bytes.count, bytes[i] == UInt8(ascii: "/") {
            let start = i
            while i < bytes.count, bytes[i] != UInt8(ascii: ",") { i += 1 }
            namespace = String(decoding: bytes[start..<i], as: UTF8.self)
            if i < bytes.count { i += 1 }
        }
        var id: Int?
        let digitsStart = i
        while i < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[i]) { i += 1 }
        if i > digitsStart {
            guard i - digitsStart <= 16, let n = Int(String(decoding: bytes[digitsStart..<i], as: UTF8.self)), n <= maxId else { return nil }
            id = n
        }
        var data: JSONValue?
        if i < bytes.count {
            guard let parsed = JSONValue.parse(bytes[i...]) else { return nil }
            data = parsed
        }
        let packet = SocketPacket(kind: kind, namespace: namespace, id: id, data: data, attachments: attachments)
        return packet.isWellFormed ? packet : nil
    }

    /// The shape rules of the protocol for each kind.
    var isWellFormed: Bool {
        switch kind {
        case .connect:
            if case .object? = data { return id == nil }
            return data == nil && id == nil
        case .disconnect:
            return data == nil && id == nil
        case .connectError:
            return id == nil && data != nil
        case .event, .binaryEvent:
            guard case .array(let args)? = data, case .string? = args.first else { return false }
            return true
        case .ack, .binaryAck:
            guard case .array? = data else { return false }
            return id != nil
        }
    }

    /// The text form; binary attachments, if any, are sent after it as separate packets.
    public var encoded: [UInt8] {
        var out = Self.header(kind: kind, attachments: attachments, namespace: namespace, id: id)
        if let data { out += data.serialized }
        return out
    }

    /// What every packet starts with: type digit, attachment count, namespace and ack id.
    private static func header(kind: Kind, attachments: Int = 0, namespace: String, id: Int?) -> [UInt8] {
        var out: [UInt8] = []
        writeHeader(kind: kind, attachments: attachments, namespace: namespace, id: id, into: &out)
        return out
    }

    private static func writeHeader(kind: Kind, attachments: Int = 0, namespace: String, id: Int?, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "0") + kind.rawValue)
        if kind == .binaryEvent || kind == .binaryAck {
            out += "\(attachments)-".utf8
        }
        if namespace != "/" {
            out += namespace.utf8
            out.append(UInt8(ascii: ","))
        }
        if let id { out += String(id).utf8 }
    }

    /// An EVENT packet whose `[name, ...arguments]` array is already JSON text, taken as it is.
    public static func encodeEvent(namespace: String = "/", rawEvent: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(2 + namespace.utf8.count + rawEvent.count)
        writeHeader(kind: .event, namespace: namespace, id: nil, into: &out)
        out += rawEvent
        return out
    }

    /// An ACK packet whose arguments are already JSON text.
    public static func encodeAck(namespace: String = "/", id: Int, rawArguments: [[UInt8]]) -> [UInt8] {
        var out = header(kind: .ack, namespace: namespace, id: id)
        out.append(UInt8(ascii: "["))
        for (index, argument) in rawArguments.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += argument
        }
        out.append(UInt8(ascii: "]"))
        return out
    }
}

extension JSONValue {
    /// Puts the binary attachments of a BINARY_EVENT or BINARY_ACK where their
    /// `{"_placeholder": true, "num": n}` stand; `nil` if a placeholder names no attachment.
    func fillingPlaceholders(with attachments: [[UInt8]]) -> JSONValue? {
        switch self {
        case .object(let o):
            if o["_placeholder"] == .bool(true), case .number(let n)? = o["num"] {
                guard n >= 0, Int(n) < attachments.count, Double(Int(n)) == n else { return nil }
                return .binary(attachments[Int(n)])
            }
            var filled: [String: JSONValue] = [:]
            for (key, value) in o {
                guard let v = value.fillingPlaceholders(with: attachments) else { return nil }
                filled[key] = v
            }
            return .object(filled)
        case .array(let a):
            var filled: [JSONValue] = []
            for value in a {
                guard let v = value.fillingPlaceholders(with: attachments) else { return nil }
                filled.append(v)
            }
            return .array(filled)
        default:
            return self
        }
    }

    /// Takes every `.binary` value out, leaving placeholders, for sending as attachments.
    func extractingBinaries(into attachments: inout [[UInt8]]) -> JSONValue {
        switch self {
        case .binary(let bytes):
            attachments.append(bytes)
            return .object(["_placeholder": .bool(true), "num": .number(Double(attachments.count - 1))])
        case .object(let o):
            return .object(o.mapValues { $0.extractingBinaries(into: &attachments) })
        case .array(let a):
            return .array(a.map { $0.extractingBinaries(into: &attachments) })
        default:
            return self
        }
    }

    /// Whether a `.binary` value is anywhere inside.
    var containsBinary: Bool {
        switch self {
        case .binary: true
        case .object(let o): o.values.contains { $0.containsBinary }
        case .array(let a): a.contains { $0.containsBinary }
        default: false
        }
    }
}
