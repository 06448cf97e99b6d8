import Foundation
@testable import ParleyCore
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
                fileId: Bool.random(using: &generator) ? UUID() : nil,
                senderOnline: [true, false, nil].randomElement(using: &generator)!)
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

    func testAHandWrittenMessageIsWhatTheEncoderWrites() throws {
        var generator = SystemRandomNumberGenerator()
        func maybe<T>(_ value: @autoclosure () -> T) -> T? { Bool.random(using: &generator) ? value() : nil }
        func date() -> Date { Date(timeIntervalSince1970: Double.random(in: 0...4_000_000_000, using: &generator)) }
        for _ in 0..<500 {
            let sender = User(
                id: UUIDv7.make(), firstName: randomText(using: &generator), lastName: randomText(using: &generator),
                email: randomText(using: &generator), image: maybe(randomText(using: &generator)), isOnline: Bool.random(using: &generator),
                lastSeen: maybe(date()), createdAt: date(), updatedAt: date())
            var content = MessageContent(text: maybe(randomText(using: &generator)))
            content.fileUrl = maybe(randomText(using: &generator))
            content.fileName = maybe(randomText(using: &generator))
            content.originalName = maybe(randomText(using: &generator))
            content.fileSize = maybe(Int.random(in: 0...Int(Int32.max), using: &generator))
            content.mimeType = maybe("image/webp")
            content.thumbnail = maybe(randomText(using: &generator))
            content.dimensions = maybe(MessageContent.Dimensions(width: .random(in: 1...9000), height: .random(in: 1...9000)))
            content.duration = Int.random(in: 0..<10, using: &generator) == 0 ? Double.random(in: 0...600, using: &generator) : nil
            let message = Message(
                id: UUIDv7.make(), chatId: UUIDv7.make(), sender: sender, messageType: [.text, .image, .file, .audio].randomElement(using: &generator)!,
                content: content, isEdited: Bool.random(using: &generator), editedAt: maybe(date()), isDeleted: Bool.random(using: &generator),
                deletedAt: maybe(date()), clientMessageId: maybe(randomText(using: &generator)), createdAt: date(), updatedAt: date())
            let expected = [UInt8](try JSON.encode(message))
            let written = try message.encoded()
            XCTAssertEqual(String(decoding: written, as: UTF8.self), String(decoding: expected, as: UTF8.self))
            if written != expected { return }
        }
    }

    /// The longest commands and messages of plain text fit the room reserved for them: written
    /// without growing (each growth copies what was written; with the room too small for the
    /// names, ids and times, every message the gateway sent grew once).
    func testTheLongestPlainCommandsAndMessagesFitTheirRoom() throws {
        func plain() -> String { String(repeating: "x", count: Int.random(in: 0...300)) }
        let latest = Date(timeIntervalSince1970: 4_000_000_000)
        for _ in 0..<100 {
            let create = MessageCreate(
                messageId: UUIDv7.make(), chatId: UUID(), senderId: UUIDv7.make(), messageType: .image, text: plain(),
                clientMessageId: plain(), fileId: UUID(), senderOnline: false)
            var command = Command(issuedAt: latest, replyTo: plain(), payload: .messageCreate(create))
            command.attempt = 999
            XCTAssertLessThanOrEqual(try command.encoded().count, Command.room(for: create, replyTo: command.replyTo))

            let sender = User(
                id: UUIDv7.make(), firstName: plain(), lastName: plain(), email: plain(), image: Bool.random() ? plain() : nil,
                isOnline: false, lastSeen: latest, createdAt: latest, updatedAt: latest)
            var content = MessageContent(text: plain())
            (content.fileUrl, content.fileName, content.originalName) = (plain(), plain(), plain())
            (content.mimeType, content.thumbnail) = (plain(), plain())
            content.fileSize = 999_999_999_999
            content.dimensions = MessageContent.Dimensions(width: 99_999, height: 99_999)
            let message = Message(
                id: UUIDv7.make(), chatId: UUIDv7.make(), sender: sender, messageType: .image, content: content, isEdited: false,
                editedAt: latest, isDeleted: false, deletedAt: latest, clientMessageId: plain(), createdAt: latest, updatedAt: latest)
            XCTAssertLessThanOrEqual(try message.encoded().count, message.encodedRoom)
        }
    }

    func testOtherCommandsGoThroughTheEncoder() throws {
        let command = Command(replyTo: "n", payload: .chatRead(ReadMark(chatId: UUID(), userId: UUID(), messageId: UUID())))
        XCTAssertEqual(try command.encoded(), [UInt8](try JSON.encode(command)))
    }
}
