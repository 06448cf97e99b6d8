import Foundation
import ParleyCore
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
