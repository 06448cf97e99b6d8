import Foundation

/// A worker's answer to the gateway node that published a command (`parley:node:{nodeId}`).
public struct CommandReply: Codable, Sendable, Equatable {
    public var commandId: UUID
    public var outcome: Outcome

    public init(commandId: UUID, outcome: Outcome) {
        self.commandId = commandId
        self.outcome = outcome
    }

    /// The effect of a command, or why it was refused.
    public enum Outcome: Codable, Sendable, Equatable {
        /// `created` is false when the command found what it would have made (a redelivery, a
        /// repeated `clientMessageId`, an existing 1:1 chat).
        case message(Message, created: Bool)
        case chat(Chat, created: Bool)
        /// A read mark as it stands after the command (it never moves back).
        case read(ReadMark)
        case failed(ParleyError)
    }
}

extension CommandReply {
    /// The JSON of a reply with `.message(_, created:)`, written around the message's JSON as
    /// the encoder would write the whole: a worker encodes each new message once, for its event
    /// and its reply alike.
    public static func encodedMessageReply(commandId: UUID, messageJSON: [UInt8], created: Bool) -> [UInt8] {
        let (head, middle) = (#"{"commandId":""#.utf8, #"","outcome":{"message":{"_0":"#.utf8)
        let tail = (created ? #","created":true}}}"# : #","created":false}}}"#).utf8
        // One buffer of the right size: grown as it was written, it was five allocations.
        var out: [UInt8] = []
        out.reserveCapacity(head.count + 36 + middle.count + messageJSON.count + tail.count)
        out += head
        commandId.forEachTextByte(uppercase: true) { out.append($0) }
        out += middle
        out += messageJSON
        out += tail
        return out
    }
}
