import Foundation

extension Command {
    /// The command's JSON, byte for byte what ``JSON/encode(_:)`` writes. A `message.create`,
    /// which the gateway sends for every message, is written by hand: through `JSONEncoder` it
    /// cost about 14 µs of the gateway's CPU per message (a third of it sorting the keys).
    public func encoded() throws -> [UInt8] {
        guard case .messageCreate(let create) = payload else { return [UInt8](try JSON.encode(self)) }
        // Members in the encoder's sorted order; absent optionals left out, as it leaves them.
        var json = JSONObjectWriter(capacity: Self.room(for: create, replyTo: replyTo))
        if attempt > 0 { json.int("attempt", attempt) }
        json.id("id", id)
        json.date("issuedAt", issuedAt)
        json.object("payload") { payload in
            payload.id("chatId", create.chatId)
            payload.string("clientMessageId", ifPresent: create.clientMessageId)
            if let fileId = create.fileId { payload.id("fileId", fileId) }
            payload.id("messageId", create.messageId)
            payload.string("messageType", create.messageType.rawValue)
            payload.id("senderId", create.senderId)
            if let online = create.senderOnline { payload.bool("senderOnline", online) }
            payload.string("text", ifPresent: create.text)
        }
        json.string("replyTo", ifPresent: replyTo)
        json.string("type", type.rawValue)
        return json.finished()
    }

    /// Bytes reserved for a `message.create`'s JSON, so that it is written without growing (each
    /// growth a copy): the strings as they are, and 432 for the rest (names, ids, times,
    /// punctuation), more than the most it takes. Escaped characters take more; such a command
    /// grows once.
    static func room(for create: MessageCreate, replyTo: String?) -> Int {
        432 + create.text.utf8Count + create.clientMessageId.utf8Count + replyTo.utf8Count
    }
}

extension Message {
    /// The message's JSON, byte for byte what ``JSON/encode(_:)`` writes, written by hand: the
    /// message worker encodes every new message, and through `JSONEncoder` that was a sixth of
    /// its CPU. A message with a `duration` (a number the encoder formats its own way) goes
    /// through the encoder.
    public func encoded() throws -> [UInt8] {
        guard content.duration == nil else { return [UInt8](try JSON.encode(self)) }
        // Members in the encoder's sorted order; Parley's shapes write ids in lower case and
        // some optionals as `null`.
        var json = JSONObjectWriter(capacity: encodedRoom)
        json.id("chatId", chatId, lowercase: true)
        json.string("clientMessageId", ifPresent: clientMessageId)
        json.object("content") { content in
            if let dimensions = self.content.dimensions {
                content.object("dimensions") { size in
                    size.int("height", dimensions.height)
                    size.int("width", dimensions.width)
                }
            }
            content.string("fileName", ifPresent: self.content.fileName)
            if let fileSize = self.content.fileSize { content.int("fileSize", fileSize) }
            content.string("fileUrl", ifPresent: self.content.fileUrl)
            content.string("mimeType", ifPresent: self.content.mimeType)
            content.string("originalName", ifPresent: self.content.originalName)
            content.string("text", ifPresent: self.content.text)
            content.string("thumbnail", ifPresent: self.content.thumbnail)
        }
        json.date("createdAt", createdAt)
        json.date("deletedAt", deletedAt)
        json.date("editedAt", editedAt)
        json.id("id", id, lowercase: true)
        json.bool("isDeleted", isDeleted)
        json.bool("isEdited", isEdited)
        json.string("messageType", messageType.rawValue)
        json.object("sender") { user in
            user.date("createdAt", sender.createdAt)
            user.string("email", sender.email)
            user.string("firstName", sender.firstName)
            user.id("id", sender.id, lowercase: true)
            user.string("image", orNull: sender.image)
            user.bool("isOnline", sender.isOnline)
            user.string("lastName", sender.lastName)
            user.date("lastSeen", sender.lastSeen)
            user.date("updatedAt", sender.updatedAt)
        }
        json.date("updatedAt", updatedAt)
        return json.finished()
    }

    /// Bytes reserved for the message's JSON, as for a command (``Command/room(for:replyTo:)``):
    /// its strings, and 768 for the rest, sizes of up to twelve digits included.
    var encodedRoom: Int {
        768 + content.text.utf8Count + content.fileName.utf8Count + content.fileUrl.utf8Count + content.mimeType.utf8Count
            + content.originalName.utf8Count + content.thumbnail.utf8Count + clientMessageId.utf8Count
            + sender.email.utf8.count + sender.firstName.utf8.count + sender.lastName.utf8.count + sender.image.utf8Count
    }
}

extension String? {
    /// The length of the text as written, escapes aside; none is 0.
    fileprivate var utf8Count: Int { self?.utf8.count ?? 0 }
}

/// One JSON object written straight into bytes, its members in the order they are given, each
/// value as Parley's encoder writes it.
struct JSONObjectWriter {
    private var bytes: [UInt8] = []
    private var empty = true

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// An object nested in `bytes`, which it takes over until ``finished()``.
    private init(nestedIn bytes: inout [UInt8]) {
        swap(&self.bytes, &bytes)
        self.bytes.append(UInt8(ascii: "{"))
    }

    /// The object, closed; the writer is left empty. The buffer is swapped out, never shared:
    /// held by two owners at once, its next byte copied it whole (as a consuming method and
    /// an initializer taking it by value did, three copies of every command the gateway sent).
    mutating func finished() -> [UInt8] {
        bytes.append(UInt8(ascii: "}"))
        var done: [UInt8] = []
        swap(&done, &bytes)
        return done
    }

    mutating func string(_ name: String, _ value: String) {
        key(name)
        Self.append(value, to: &bytes)
    }

    /// A member only if there is a value (`encodeIfPresent`).
    mutating func string(_ name: String, ifPresent value: String?) {
        if let value { string(name, value) }
    }

    /// A member that is `null` when there is no value (`encode` of an optional).
    mutating func string(_ name: String, orNull value: String?) {
        if let value { string(name, value) } else { literal(name, "null") }
    }

    /// An id: upper case as the encoder writes a `UUID`, or lower case as Parley's shapes write
    /// theirs; without going through `uuidString`.
    mutating func id(_ name: String, _ value: UUID, lowercase: Bool = false) {
        quoted(name, length: 36) { value.writeText(uppercase: !lowercase, into: $0, at: $1) }
    }

    /// A timestamp, or `null`.
    mutating func date(_ name: String, _ value: Date?) {
        guard let value else { return literal(name, "null") }
        guard JSON.dateIsWrittenByHand(value) else { return string(name, JSON.dateString(value)) }
        quoted(name, length: 24) { JSON.writeDate(value, into: $0, at: $1) }
    }

    /// A string that needs no escaping, of `length` bytes that `write` puts into a buffer from
    /// an index and returns where they end: written in quotes on the stack, then appended at
    /// once (an id or a timestamp, without a `String` of its own).
    @inline(__always)
    private mutating func quoted(_ name: String, length: Int, _ write: (UnsafeMutableBufferPointer<UInt8>, Int) -> Int) {
        key(name)
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length + 2) { text in
            text[0] = UInt8(ascii: "\"")
            let end = write(text, 1)
            text[end] = UInt8(ascii: "\"")
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[...end]))
        }
    }

    mutating func bool(_ name: String, _ value: Bool) { literal(name, value ? "true" : "false") }

    mutating func int(_ name: String, _ value: Int) { literal(name, "\(value)") }

    mutating func object(_ name: String, _ members: (inout JSONObjectWriter) -> Void) {
        key(name)
        var child = JSONObjectWriter(nestedIn: &bytes)
        members(&child)
        bytes = child.finished()
    }

    private mutating func literal(_ name: String, _ text: String) {
        key(name)
        bytes += text.utf8
    }

    /// Member names are Parley's own identifiers: nothing in them needs escaping.
    private mutating func key(_ name: String) {
        if !empty { bytes.append(UInt8(ascii: ",")) }
        empty = false
        bytes.append(UInt8(ascii: "\""))
        bytes += name.utf8
        bytes += #"":"#.utf8
    }

    /// A string, escaped as `JSONEncoder` escapes (slashes left alone). The runs between the
    /// bytes that need escaping are copied whole: appended byte by byte, a message's text cost
    /// the gateway and the worker a uniqueness and capacity check per character.
    private static func append(_ string: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var string = string
        string.withUTF8 { bytes in
            var start = 0
            for index in bytes.indices where bytes[index] < 0x20 || bytes[index] == UInt8(ascii: "\"") || bytes[index] == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<index]))
                escape(bytes[index], into: &out)
                start = index + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func escape(_ byte: UInt8, into out: inout [UInt8]) {
        switch byte {
        case UInt8(ascii: "\""): out += #"\""#.utf8
        case UInt8(ascii: "\\"): out += #"\\"#.utf8
        case 0x0A: out += #"\n"#.utf8
        case 0x0D: out += #"\r"#.utf8
        case 0x09: out += #"\t"#.utf8
        case 0x08: out += #"\b"#.utf8
        case 0x0C: out += #"\f"#.utf8
        default:
            out += #"\u00"#.utf8
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0xF)])
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
