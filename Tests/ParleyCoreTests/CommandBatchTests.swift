import Foundation
@testable import ParleyCore
import XCTest

final class CommandBatchTests: XCTestCase {
    func command(_ text: String) -> Command {
        Command(replyTo: "node-1", payload: .messageCreate(MessageCreate(
            messageId: UUIDv7.make(), chatId: UUIDv7.make(), senderId: UUIDv7.make(), messageType: .text, text: text, clientMessageId: nil)))
    }

    func testABatchGivesBackItsCommandsInOrder() throws {
        let commands = ["a", "b ,[]", "c"].map(command)
        let body = CommandBatch.encode(try commands.map { [UInt8](try JSON.encode($0)) })
        XCTAssertEqual(try CommandBatch.decode(body).map(\.essence), commands.map(\.essence))
    }

    func testACommandAloneIsItsOwnBatch() throws {
        let one = command("x")
        XCTAssertEqual(try CommandBatch.decode([UInt8](JSON.encode(one))).map(\.essence), [one.essence])
        XCTAssertEqual(try CommandBatch.decode(Array("  \n".utf8) + CommandBatch.encode([[UInt8](JSON.encode(one))])).map(\.essence), [one.essence])
    }

    func testWhatIsNotCommandsIsRefused() {
        for junk in ["", "[]", "[{}]", "{\"type\":\"message.create\"}", "[{\"id\":1}", "42", "\"x\""] {
            XCTAssertThrowsError(try CommandBatch.decode(Array(junk.utf8)), junk)
        }
    }

    /// Commands as the gateway writes them and as the encoder does, alone and in batches beside
    /// other commands: read by hand, what the decoder reads; plain ones are read by hand.
    func testCommandsReadByHandAreWhatTheDecoderReads() throws {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "Zz", " ", "é", "€", "😀", "\u{2028}", "/", "\u{7F}", "</script>"]
        let escaped = ["\"", "\\", "\n", "\t", "\u{01}", "\u{1F}"]
        var plainReadByHand = 0
        for round in 0..<400 {
            func text(escaping: Bool) -> String {
                var parts = (0..<Int.random(in: 0...8, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }
                if escaping { parts.insert(escaped.randomElement(using: &generator)!, at: Int.random(in: 0...parts.count, using: &generator)) }
                return parts.joined()
            }
            let escaping = round % 4 == 0
            let create = MessageCreate(
                messageId: UUIDv7.make(), chatId: UUID(), senderId: UUIDv7.make(),
                messageType: [.text, .image, .file, .video, .audio].randomElement(using: &generator)!,
                text: Bool.random(using: &generator) ? text(escaping: escaping) : nil,
                clientMessageId: Bool.random(using: &generator) ? text(escaping: escaping) : nil,
                fileId: Bool.random(using: &generator) ? UUID() : nil,
                senderOnline: [true, false, nil].randomElement(using: &generator)!)
            var command = Command(
                issuedAt: Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000, using: &generator)),
                replyTo: Bool.random(using: &generator) ? "node-\(round)" : nil, payload: .messageCreate(create))
            command.attempt = [0, 1, 7, 12].randomElement(using: &generator)!
            let other = Command(replyTo: "node-x", payload: .chatRead(ReadMark(chatId: UUID(), userId: UUID(), messageId: UUID())))
            for body in [try command.encoded(), [UInt8](try JSON.encode(command))] {
                let expected = try JSON.decode(Command.self, from: Data(body))
                XCTAssertEqual(try CommandBatch.decode(body), [expected])
                let batch = CommandBatch.encode([body, [UInt8](try JSON.encode(other)), body])
                XCTAssertEqual(try CommandBatch.decode(batch), try JSON.decode([Command].self, from: Data(batch)))
                let byHand = Command.decodedByHand(body[...])
                if escaping && (create.text != nil || create.clientMessageId != nil) {
                    XCTAssertNil(byHand, "read by hand: \(String(decoding: body, as: UTF8.self))")
                } else {
                    XCTAssertEqual(byHand, expected, String(decoding: body, as: UTF8.self))
                    plainReadByHand += 1
                }
            }
            XCTAssertNil(Command.decodedByHand([UInt8](try JSON.encode(other))[...]), "only message.create is read by hand")
        }
        XCTAssertGreaterThan(plainReadByHand, 400)
    }

    /// Text that is not UTF-8 is not read by hand, whether repairing it would change its
    /// length or not.
    func testTextThatIsNotUTF8IsNotReadByHand() throws {
        let good = try command("ab").encoded()
        let text = try XCTUnwrap(good.firstRange(of: Array(#""text":"ab""#.utf8))).upperBound - 3
        for invalid: [UInt8] in [[0xC3, 0x28], [0xFF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0xF0, 0x9F, 0x98]] {
            var body = good
            body.replaceSubrange(text..<text + 2, with: invalid)
            XCTAssertNil(Command.decodedByHand(body[...]), "\(invalid)")
        }
        XCTAssertNotNil(Command.decodedByHand(good[...]))
    }

    func testWhatTheDecoderRefusesIsRefusedEvenWhereItLooksPlain() throws {
        let good = String(decoding: try command("x").encoded(), as: UTF8.self)
        let id = try XCTUnwrap(good.firstRange(of: "\"id\":\"")).upperBound
        let broken = [
            good.replacingCharacters(in: id..<good.index(id, offsetBy: 4), with: "zzzz"),  // not an id
            good.replacingOccurrences(of: "\"text\"", with: "\"text\":1,\"x\""),      // text not a string
            good.replacingOccurrences(of: "\"messageType\":\"text\"", with: "\"messageType\":\"poem\""),
            good.replacingOccurrences(of: "\"issuedAt\":\"", with: "\"issuedAt\":\"yesterday"),
            "[" + good + "," + good,                                                   // unterminated batch
            "[" + good + "] x",
        ]
        for junk in broken {
            XCTAssertThrowsError(try JSON.decode([Command].self, from: Data((junk.hasPrefix("[") ? junk : "[" + junk + "]").utf8)), junk)
            XCTAssertThrowsError(try CommandBatch.decode(Array(junk.utf8)), junk)
        }
    }

    func testOnlyTheMessageWorkersCommandsShareMessages() {
        let shared = CommandType.allCases.filter(CommandBatch.carries).map(\.rawValue)
        XCTAssertTrue(shared.allSatisfy { $0.hasPrefix("message.") || $0.hasPrefix("chat.") }, "\(shared)")
        XCTAssertTrue(CommandBatch.carries(.messageCreate))
        XCTAssertFalse(CommandBatch.carries(.mediaProcess))
        XCTAssertFalse(CommandBatch.carries(.presenceConnect))
    }
}

private struct Essence: Equatable {
    let id: UUID
    let replyTo: String?
    let payload: Command.Payload
}

private extension Command {
    /// All but `issuedAt`, which JSON keeps to the millisecond.
    var essence: Essence { Essence(id: id, replyTo: replyTo, payload: payload) }
}
