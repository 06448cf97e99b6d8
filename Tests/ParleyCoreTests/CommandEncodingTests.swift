import Foundation
import ParleyCore
import XCTest

final class CommandEncodingTests: XCTestCase {
    /// Text with what an encoder must escape, and what it must leave alone.
    func randomText<G: RandomNumberGenerator>(using generator: inout G) -> String {
        let pieces = ["a", "Zz", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{08}", "\u{0C}", "\u{00}", "\u{01}", "\u{1F}", "\u{7F}",
                      "é", "€", "\u{2028}", "😀", "👩‍👩‍👧", "</script>", "{\"x\":[1]}"]
        return (0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
    }

    func testAHandWrittenNewMessageCommandIsWhatTheEncoderWrites() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<500 {
            let create = MessageCreate(
                messageId: UUIDv7.make(), chatId: UUID(), senderId: UUIDv7.make(),
                messageType: [.text, .image, .file].randomElement(using: &generator)!,
                text: Bool.random(using: &generator) ? randomText(using: &generator) : nil,
                clientMessageId: Bool.random(using: &generator) ? randomText(using: &generator) : nil,
                fileId: Bool.random(using: &generator) ? UUID() : nil)
            var command = Command(
                issuedAt: Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000, using: &generator)),
                replyTo: Bool.random(using: &generator) ? "node-\(round)" : nil, payload: .messageCreate(create))
            command.attempt = round % 3
            let expected = [UInt8](try JSON.encode(command))
            let written = try command.encoded()
            XCTAssertEqual(String(decoding: written, as: UTF8.self), String(decoding: expected, as: UTF8.self))
            if written != expected { return }
        }
    }

    func testOtherCommandsGoThroughTheEncoder() throws {
        let command = Command(replyTo: "n", payload: .chatRead(ReadMark(chatId: UUID(), userId: UUID(), messageId: UUID())))
        XCTAssertEqual(try command.encoded(), [UInt8](try JSON.encode(command)))
    }
}
