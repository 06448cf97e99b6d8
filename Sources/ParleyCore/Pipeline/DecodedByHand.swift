import Foundation

extension Command {
    /// A `message.create` command read without `JSONDecoder` (a tenth of the message worker's
    /// CPU at 3,000 messages/s): the same value the decoder gives, or nil when the command is of
    /// another type or anything read is not in the plain form the gateway writes (a string with
    /// an escape or a control character, a value of another JSON type, text that is not UTF-8).
    /// Then the decoder reads it, and gives its error if there is one. Like the decoder it
    /// ignores members it does not know; unlike it, it does not check the parts it skips.
    static func decodedByHand(_ json: ArraySlice<UInt8>) -> Command? {
        let top = RawJSON.members(["type", "id", "issuedAt", "replyTo", "attempt", "payload"], in: json)
        guard let type = top[0], Plain.string(type) == CommandType.messageCreate.rawValue,
              let id = top[1].flatMap(UUID.init(quotedUTF8:)),
              let issuedAt = top[2].flatMap(Plain.date),
              let replyTo = Plain.optional(top[3], Plain.string),
              let attempt = Plain.optional(top[4], Plain.int),
              let payloadJSON = top[5], payloadJSON.first == UInt8(ascii: "{")
        else { return nil }
        let fields = RawJSON.members(["messageId", "chatId", "senderId", "messageType", "text", "clientMessageId", "fileId", "senderOnline"], in: payloadJSON)
        guard let messageId = fields[0].flatMap(UUID.init(quotedUTF8:)),
              let chatId = fields[1].flatMap(UUID.init(quotedUTF8:)),
              let senderId = fields[2].flatMap(UUID.init(quotedUTF8:)),
              let messageType = fields[3].flatMap(Plain.string).flatMap(MessageType.init(rawValue:)),
              let text = Plain.optional(fields[4], Plain.string),
              let clientMessageId = Plain.optional(fields[5], Plain.string),
              let fileId = Plain.optional(fields[6], UUID.init(quotedUTF8:)),
              let senderOnline = Plain.optional(fields[7], Plain.bool)
        else { return nil }
        let create = MessageCreate(
            messageId: messageId, chatId: chatId, senderId: senderId, messageType: messageType, text: text,
            clientMessageId: clientMessageId, fileId: fileId, senderOnline: senderOnline)
        var command = Command(id: id, issuedAt: issuedAt, replyTo: replyTo, payload: .messageCreate(create))
        command.attempt = attempt ?? 0
        return command
    }
}

/// JSON values in the plain form, each nil for anything else.
private enum Plain {
    /// A string without escapes or control characters, valid UTF-8.
    static func string(_ value: ArraySlice<UInt8>) -> String? {
        guard value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") else { return nil }
        let inner = value.dropFirst().dropLast()
        guard !inner.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 < 0x20 }) else { return nil }
        // `String(decoding:)` validates on its fast path and repairs what is not UTF-8, and a
        // repaired string is not the bytes it came from. `String(validating:)` took a generic
        // path, a tenth of reading a command.
        let string = inner.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
        return RawJSON.same(inner, as: string) ? string : nil
    }

    /// A timestamp in the form Parley writes, read from its bytes; others through a string.
    static func date(_ value: ArraySlice<UInt8>) -> Date? {
        if value.count == 26, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\""),
           let date = value.dropFirst().dropLast().withUnsafeBufferPointer(JSON.writtenDate) {
            return date
        }
        return string(value).flatMap(JSON.date)
    }

    /// `true` or `false`.
    static func bool(_ value: ArraySlice<UInt8>) -> Bool? {
        if value.elementsEqual("true".utf8) { return true }
        if value.elementsEqual("false".utf8) { return false }
        return nil
    }

    /// A whole number without sign, fraction, exponent or leading zero.
    static func int(_ value: ArraySlice<UInt8>) -> Int? {
        guard !value.isEmpty, value.count < 18, value.count == 1 || value.first != UInt8(ascii: "0"), value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// An optional member: `.some(nil)` when absent or `null`, nil when present but unreadable.
    static func optional<T>(_ value: ArraySlice<UInt8>?, _ read: (ArraySlice<UInt8>) -> T?) -> T?? {
        guard let value, !value.elementsEqual("null".utf8) else { return .some(nil) }
        return read(value).map { .some($0) }
    }
}
