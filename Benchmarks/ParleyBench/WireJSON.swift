import ArgumentParser
import Foundation
import ParleyCore
import SocketIO

/// The JSON every message is written and read as on its way: the gateway writes its
/// `message.create` command (from the client's `send_message` event it read), the worker reads
/// it and writes the stored message. No services.
struct WireJSON: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire-json",
        abstract: "Time reading a message's event, writing and reading its command and writing the stored message's JSON (ns per message).")

    @Option(help: "Characters of text per message.")
    var messageSize = 100

    @Option(help: "Messages per timed round.")
    var count = 100_000

    @Option(help: "Timed rounds (the median and the best are reported).")
    var rounds = 7

    func run() throws {
        let text = String(repeating: "x", count: messageSize)
        let create = MessageCreate(
            messageId: UUIDv7.make(), chatId: UUIDv7.make(), senderId: UUIDv7.make(), messageType: .text,
            text: text, clientMessageId: "load-123456-42", fileId: nil, senderOnline: true)
        let command = Command(replyTo: "gateway-1", payload: .messageCreate(create))
        let body = try command.encoded()
        let sender = User(
            id: create.senderId, firstName: "Ada", lastName: "Lovelace", email: "ada@example.com", image: nil,
            isOnline: true, lastSeen: nil, createdAt: Date(), updatedAt: Date())
        let message = Message(
            id: create.messageId, chatId: create.chatId, sender: sender, messageType: .text, content: MessageContent(text: text),
            isEdited: false, editedAt: nil, isDeleted: false, deletedAt: nil, clientMessageId: create.clientMessageId,
            createdAt: Date(), updatedAt: Date())

        let event = Array(#"42["send_message",{"chatId":"\#(create.chatId.lowercased)","text":"\#(text)","clientMessageId":"load-123456-42"}]"#.utf8)

        print("wire JSON, \(messageSize) characters of text, \(count) messages a round, \(rounds) rounds (ns per message, median / best):")
        try Self.report("event read (gateway)", count: count, rounds: rounds) { _ = SocketPacket.decode(event) }
        try Self.report("command written (gateway)", count: count, rounds: rounds) { _ = try command.encoded() }
        try Self.report("command read (worker)", count: count, rounds: rounds) { _ = try CommandBatch.decode(body) }
        try Self.report("message written (worker)", count: count, rounds: rounds) { _ = try message.encoded() }
    }

    static func report(_ name: String, count: Int, rounds: Int, _ body: () throws -> Void) throws {
        let clock = ContinuousClock()
        var perMessage: [Double] = []
        for _ in 0..<rounds {
            let elapsed = try clock.measure { for _ in 0..<count { try body() } }
            perMessage.append((Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9) / Double(count))
        }
        perMessage.sort()
        print("  \(name.padding(toLength: 28, withPad: " ", startingAt: 0)) \(String(format: "%7.0f / %7.0f", perMessage[rounds / 2], perMessage[0]))")
    }
}
