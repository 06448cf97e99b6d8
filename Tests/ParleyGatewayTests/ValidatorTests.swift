import Foundation
import ParleyCore
import XCTest

@testable import ParleyGateway

final class ValidatorTests: XCTestCase {
    private func problems(ofText text: String) -> [String] {
        var validator = Validator()
        validator.messageText(text)
        return validator.errors
    }

    /// The limit counts characters, whatever their bytes: the byte count only spares the
    /// counting when it is within the limit already.
    func testMessageTextLimitCountsCharacters() {
        let limit = Limits.messageText
        XCTAssertEqual(problems(ofText: String(repeating: "x", count: limit)), [])
        XCTAssertEqual(problems(ofText: String(repeating: "x", count: limit + 1)).count, 1)
        // Two, four and (a flag) eight bytes a character.
        for character in ["é", "😀", "🇫🇷"] {
            XCTAssertEqual(problems(ofText: String(repeating: character, count: limit)), [], character)
            XCTAssertEqual(problems(ofText: String(repeating: character, count: limit + 1)).count, 1, character)
        }
        XCTAssertEqual(problems(ofText: " \n\t").count, 1, "blank")
    }

    func testNULIsFoundAnywhereInAText() {
        for text in ["\u{0}", "a\u{0}", "\u{0}b", "é\u{0}😀", String(repeating: "y", count: 5000) + "\u{0}"] {
            XCTAssertTrue(Validator.containsNUL(text), text.debugDescription)
            XCTAssertEqual(problems(ofText: text), ["text must not contain the NUL character"], text.debugDescription)
        }
        for text in ["", "a", "é😀", "0", "\\u0000", String(repeating: "y", count: 5000)] {
            XCTAssertFalse(Validator.containsNUL(text), text.debugDescription)
        }
        // A string that is not native (bridged from Foundation) is read all the same.
        let bridged = String(NSString(string: "bridged\u{0}"))
        XCTAssertTrue(Validator.containsNUL(bridged))
    }
}
