import Foundation

extension Command {
    /// The command's JSON, byte for byte what ``JSON/encode(_:)`` writes. A `message.create`,
    /// which the gateway sends for every message, is written by hand: through `JSONEncoder` it
    /// cost about 14 µs of the gateway's CPU per message (a third of it sorting the keys).
    public func encoded() throws -> [UInt8] {
        guard case .messageCreate(let create) = payload else { return [UInt8](try JSON.encode(self)) }
        var out: [UInt8] = []
        out.reserveCapacity(320 + (create.text?.utf8.count ?? 0))
        // Keys in the encoder's sorted order.
        out += "{".utf8
        if attempt > 0 { out += #""attempt":\#(attempt),"#.utf8 }
        out += #""id":"#.utf8
        JSONBytes.append(id, to: &out)
        out += #","issuedAt":"#.utf8
        JSONBytes.append(JSON.dateString(issuedAt), to: &out)
        out += #","payload":{"chatId":"#.utf8
        JSONBytes.append(create.chatId, to: &out)
        if let key = create.clientMessageId {
            out += #","clientMessageId":"#.utf8
            JSONBytes.append(key, to: &out)
        }
        if let fileId = create.fileId {
            out += #","fileId":"#.utf8
            JSONBytes.append(fileId, to: &out)
        }
        out += #","messageId":"#.utf8
        JSONBytes.append(create.messageId, to: &out)
        out += #","messageType":"#.utf8
        JSONBytes.append(create.messageType.rawValue, to: &out)
        out += #","senderId":"#.utf8
        JSONBytes.append(create.senderId, to: &out)
        if let text = create.text {
            out += #","text":"#.utf8
            JSONBytes.append(text, to: &out)
        }
        out += "}".utf8
        if let replyTo {
            out += #","replyTo":"#.utf8
            JSONBytes.append(replyTo, to: &out)
        }
        out += #","type":"#.utf8
        JSONBytes.append(type.rawValue, to: &out)
        out += "}".utf8
        return out
    }
}

/// JSON values written straight into bytes, as Parley's encoder writes them.
enum JSONBytes {
    /// A string, escaped as `JSONEncoder` escapes (slashes left alone).
    static func append(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += #"\""#.utf8
            case UInt8(ascii: "\\"): out += #"\\"#.utf8
            case 0x0A: out += #"\n"#.utf8
            case 0x0D: out += #"\r"#.utf8
            case 0x09: out += #"\t"#.utf8
            case 0x08: out += #"\b"#.utf8
            case 0x0C: out += #"\f"#.utf8
            case 0..<0x20:
                out += #"\u00"#.utf8
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0xF)])
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A UUID in its text form, without going through `uuidString`: upper case as the encoder
    /// writes a `UUID`, or lower case as Parley's shapes write their ids.
    static func append(_ id: UUID, lowercase: Bool = false, to out: inout [UInt8]) {
        let digits = lowercase ? hexDigits : upperHexDigits
        out.append(UInt8(ascii: "\""))
        withUnsafeBytes(of: id.uuid) { bytes in
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { out.append(UInt8(ascii: "-")) }
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0xF)])
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// A timestamp, or `null`.
    static func append(_ date: Date?, to out: inout [UInt8]) {
        if let date { append(JSON.dateString(date), to: &out) } else { out += "null".utf8 }
    }

    static func append(_ flag: Bool, to out: inout [UInt8]) {
        out += (flag ? "true" : "false").utf8
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)
}

extension Message {
    /// The message's JSON, byte for byte what ``JSON/encode(_:)`` writes, written by hand: the
    /// message worker encodes every new message, and through `JSONEncoder` that was a sixth of
    /// its CPU. A message with a `duration` (a number the encoder formats its own way) goes
    /// through the encoder.
    public func encoded() throws -> [UInt8] {
        guard content.duration == nil else { return [UInt8](try JSON.encode(self)) }
        var out: [UInt8] = []
        out.reserveCapacity(640 + (content.text?.utf8.count ?? 0))
        // Keys in the encoder's sorted order.
        out += #"{"chatId":"#.utf8
        JSONBytes.append(chatId, lowercase: true, to: &out)
        if let clientMessageId {
            out += #","clientMessageId":"#.utf8
            JSONBytes.append(clientMessageId, to: &out)
        }
        out += #","content":{"#.utf8
        var separator = ""
        func key(_ name: String) {
            out += #"\#(separator)"\#(name)":"#.utf8
            separator = ","
        }
        if let dimensions = content.dimensions {
            key("dimensions")
            out += #"{"height":\#(dimensions.height),"width":\#(dimensions.width)}"#.utf8
        }
        if let fileName = content.fileName { key("fileName"); JSONBytes.append(fileName, to: &out) }
        if let fileSize = content.fileSize { key("fileSize"); out += "\(fileSize)".utf8 }
        if let fileUrl = content.fileUrl { key("fileUrl"); JSONBytes.append(fileUrl, to: &out) }
        if let mimeType = content.mimeType { key("mimeType"); JSONBytes.append(mimeType, to: &out) }
        if let originalName = content.originalName { key("originalName"); JSONBytes.append(originalName, to: &out) }
        if let text = content.text { key("text"); JSONBytes.append(text, to: &out) }
        if let thumbnail = content.thumbnail { key("thumbnail"); JSONBytes.append(thumbnail, to: &out) }
        out += #"},"createdAt":"#.utf8
        JSONBytes.append(createdAt, to: &out)
        out += #","deletedAt":"#.utf8
        JSONBytes.append(deletedAt, to: &out)
        out += #","editedAt":"#.utf8
        JSONBytes.append(editedAt, to: &out)
        out += #","id":"#.utf8
        JSONBytes.append(id, lowercase: true, to: &out)
        out += #","isDeleted":"#.utf8
        JSONBytes.append(isDeleted, to: &out)
        out += #","isEdited":"#.utf8
        JSONBytes.append(isEdited, to: &out)
        out += #","messageType":"#.utf8
        JSONBytes.append(messageType.rawValue, to: &out)
        out += #","sender":{"createdAt":"#.utf8
        JSONBytes.append(sender.createdAt, to: &out)
        out += #","email":"#.utf8
        JSONBytes.append(sender.email, to: &out)
        out += #","firstName":"#.utf8
        JSONBytes.append(sender.firstName, to: &out)
        out += #","id":"#.utf8
        JSONBytes.append(sender.id, lowercase: true, to: &out)
        out += #","image":"#.utf8
        if let image = sender.image { JSONBytes.append(image, to: &out) } else { out += "null".utf8 }
        out += #","isOnline":"#.utf8
        JSONBytes.append(sender.isOnline, to: &out)
        out += #","lastName":"#.utf8
        JSONBytes.append(sender.lastName, to: &out)
        out += #","lastSeen":"#.utf8
        JSONBytes.append(sender.lastSeen, to: &out)
        out += #","updatedAt":"#.utf8
        JSONBytes.append(sender.updatedAt, to: &out)
        out += #"},"updatedAt":"#.utf8
        JSONBytes.append(updatedAt, to: &out)
        out += "}".utf8
        return out
    }
}
