import Foundation

/// Several commands carried by one AMQP message: a JSON array of commands, in the order they
/// were published.
///
/// The broker's cost is mostly per message (each one wakes several of its processes and is
/// committed and confirmed on its own), so commands for the same queue that meet in the
/// publisher while an earlier message of theirs awaits its confirm travel together
/// (`QueuePublisher`). Each command keeps its own id, reply and fate: the consumer applies,
/// retries or parks each one, and settles the message once all of them are settled.
public enum CommandBatch {
    /// Whether commands of this type may share a message: those of the message worker's queue,
    /// which takes batches apart.
    public static func carries(_ type: CommandType) -> Bool {
        switch type {
        case .messageCreate, .messageEdit, .messageDelete, .chatCreateDirect, .chatRead, .chatCreateGroup, .chatRename,
             .chatAddMember, .chatRemoveMember, .chatClear:
            true
        case .mediaProcess, .presenceConnect, .presenceDisconnect, .presenceHeartbeat:
            false
        }
    }

    /// One message carrying the commands `bodies` (each a command's JSON).
    public static func encode(_ bodies: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bodies.reduce(2) { $0 + $1.count + 1 })
        out.append(UInt8(ascii: "["))
        for (index, body) in bodies.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += body
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// The commands of a message: one for a command, several for a batch.
    /// - Throws: a `DecodingError` if the message is not a command or an array of them.
    public static func decode(_ body: [UInt8]) throws -> [Command] {
        guard let start = body.firstIndex(where: { !$0.isJSONWhitespace }), body[start] == UInt8(ascii: "[") else {
            return [try decodeOne(body[...])]
        }
        guard let elements = elements(of: body[start...]) else {
            // Not an array as the publisher writes them: the decoder says what is wrong.
            return try JSON.decode([Command].self, from: Data(body))
        }
        guard !elements.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "a batch of no commands"))
        }
        return try elements.map(decodeOne)
    }

    /// A command by hand when it is a plain `message.create`, else by the decoder.
    private static func decodeOne(_ json: ArraySlice<UInt8>) throws -> Command {
        try Command.decodedByHand(json) ?? JSON.decode(Command.self, from: Data(json))
    }

    /// The texts of the values of the array `json` (which opens with its bracket), or nil if it
    /// is not an array of objects followed by nothing but space.
    private static func elements(of json: ArraySlice<UInt8>) -> [ArraySlice<UInt8>]? {
        var elements: [ArraySlice<UInt8>] = []
        var i = skipSpace(json, from: json.startIndex + 1)
        if i < json.endIndex, json[i] == UInt8(ascii: "]") {
            return skipSpace(json, from: i + 1) == json.endIndex ? [] : nil
        }
        while i < json.endIndex, json[i] == UInt8(ascii: "{"), let end = RawJSON.endOfValue(json, from: i) {
            elements.append(json[i..<end])
            i = skipSpace(json, from: end)
            guard i < json.endIndex else { return nil }
            if json[i] == UInt8(ascii: "]") { return skipSpace(json, from: i + 1) == json.endIndex ? elements : nil }
            guard json[i] == UInt8(ascii: ",") else { return nil }
            i = skipSpace(json, from: i + 1)
        }
        return nil
    }

    private static func skipSpace(_ json: ArraySlice<UInt8>, from start: Int) -> Int {
        json[start...].firstIndex(where: { !$0.isJSONWhitespace }) ?? json.endIndex
    }
}

private extension UInt8 {
    var isJSONWhitespace: Bool { self == 0x20 || self == 0x0A || self == 0x0D || self == 0x09 }
}
