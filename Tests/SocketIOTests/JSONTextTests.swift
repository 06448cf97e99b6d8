import Foundation
import XCTest

@testable import SocketIO

final class JSONTextTests: XCTestCase {
    func parse(_ text: String) -> JSONValue? { JSONValue.parse(Array(text.utf8)) }
    func text(_ value: JSONValue) -> String { String(decoding: value.serialized, as: UTF8.self) }

    func testParsesEveryKindOfValue() {
        XCTAssertEqual(
            parse(#" { "a" : [1, -2.5, 3e2, 0, -0.125E-1, true, false, null], "b": {"c": "d"}, "": "" } "#),
            .object([
                "a": .array([.number(1), .number(-2.5), .number(300), .number(0), .number(-0.0125), .bool(true), .bool(false), .null]),
                "b": .object(["c": .string("d")]),
                "": .string(""),
            ]))
        XCTAssertEqual(parse("[]"), .array([]))
        XCTAssertEqual(parse("{}"), .object([:]))
        XCTAssertEqual(parse("\"x\""), .string("x"))
        XCTAssertEqual(parse("17"), .number(17))
    }

    func testStringEscapesAndUnicode() {
        XCTAssertEqual(parse(#""a\"b\\c\/d\b\f\n\r\t""#), .string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        XCTAssertEqual(parse(#""caf\u00e9 \ud83d\ude00 日本""#), .string("café 😀 日本"))
        XCTAssertEqual(parse("\"héllo\""), .string("héllo"))
    }

    func testRejectsWhatIsNotJSON() {
        let bad = [
            "", " ", "[1,]", "{\"a\":1,}", "[01]", "+1", ".5", "1.", "1e", "-", "NaN", "0x10", "{a:1}", "{\"a\" 1}",
            "[1 2]", "\"open", "\"tab\there\"", #""\x""#, #""\u12""#, #""\ud83d""#, #""\ud83d\u0041""#, "tru", "nul",
            "[1]x", "{\"a\":1}}", "'a'",
        ]
        for text in bad { XCTAssertNil(parse(text), text) }
        XCTAssertNil(JSONValue.parse([0x22, 0xFF, 0xFE, 0x22]), "invalid UTF-8")
    }

    func testAStringIsReadExactlyWhenItIsUTF8AndRefusedOtherwise() {
        var generator = SystemRandomNumberGenerator()
        // Bytes a string may hold unescaped: ASCII runs, and bytes with the high bit that may or
        // may not make UTF-8 (sequences cut short, lone continuations, overlong forms).
        let pool: [UInt8] = Array(0x20...0x7E).filter { $0 != 0x22 && $0 != 0x5C } + [0x80, 0xA9, 0xBF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF8, 0xFF]
        for _ in 0..<5_000 {
            let inner = (0..<Int.random(in: 0...12, using: &generator)).map { _ in pool.randomElement(using: &generator)! }
            let expected = String(validating: inner, as: UTF8.self).map(JSONValue.string)
            XCTAssertEqual(JSONValue.parse([0x22] + inner + [0x22]), expected, "\(inner)")
        }
        XCTAssertNil(JSONValue.parse(Array("\"abc".utf8) + [0xC0, 0xAF] + Array("def\"".utf8)), "an overlong slash after ASCII")
    }

    func testNestingIsBounded() {
        func nested(_ depth: Int) -> String { String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }
        XCTAssertNotNil(parse(nested(JSONText.maxDepth)))
        XCTAssertNil(parse(nested(JSONText.maxDepth + 1)))
        XCTAssertNil(parse(nested(100_000)), "refused, not a stack overflow")
    }

    func testWritesCompactSortedJSON() {
        let value: JSONValue = .object([
            "z": .number(1), "a": .array([.number(1.5), .number(-3), .null, .bool(false)]),
            "path": .string("a/b \"q\" \\ \n\u{1}é"), "nan": .number(.nan),
        ])
        XCTAssertEqual(text(value), #"{"a":[1.5,-3,null,false],"nan":null,"path":"a/b \"q\" \\ \n\u0001é","z":1}"#)
    }

    func testWritingAgreesWithFoundationAndReadsBack() throws {
        let values: [JSONValue] = [
            .object(["id": .string("0193f2a4-7c1e-7000-8000-000000000001"), "text": .string("hi 👋 \"there\"\t"), "n": .number(42)]),
            .array([.number(0.1), .number(1e-7), .number(123456.789), .number(-1e300), .string(""), .object([:])]),
            .string("\u{7f}\u{2028}</script>"),
        ]
        for value in values {
            let written = value.serialized
            XCTAssertEqual(JSONValue.parse(written), value, text(value))
            // Foundation reads the same document.
            let foundation = try JSONSerialization.jsonObject(with: Data(written), options: [.fragmentsAllowed])
            let again = try JSONSerialization.data(withJSONObject: foundation, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
            XCTAssertEqual(JSONValue.parse(Array(again)), value, text(value))
        }
    }
}
