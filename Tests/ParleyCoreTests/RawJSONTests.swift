import Foundation
import ParleyCore
import XCTest

final class RawJSONTests: XCTestCase {
    func member(_ key: String, _ json: String) -> String? {
        RawJSON.member(key, in: Array(json.utf8)[...]).map { String(decoding: $0, as: UTF8.self) }
    }

    func testFindsTheMembersOfAnObjectWhateverTheyHold() {
        let json = #"{"a":"x}\"{","b" : { "c": [1, {"d": "]"}], "e": null } ,"n":-12.5e3,"t":true,"s":"\\","z":{}}"#
        XCTAssertEqual(member("a", json), #""x}\"{""#)
        XCTAssertEqual(member("b", json), #"{ "c": [1, {"d": "]"}], "e": null }"#)
        XCTAssertEqual(member("n", json), "-12.5e3")
        XCTAssertEqual(member("t", json), "true")
        XCTAssertEqual(member("s", json), #""\\""#)
        XCTAssertEqual(member("z", json), "{}")
        // Only the object's own members: `c` and `d` are nested.
        XCTAssertNil(member("c", json))
        XCTAssertNil(member("d", json))
        XCTAssertNil(member("missing", json))
    }

    func testAWorkerReplyCanBeTakenApartWithoutDecoding() throws {
        let message = #"{"id":"0193f2a4-7c1e-7000-8000-000000000001","text":"hi \"you\" {"}"#
        let reply = #"{"commandId":"0193f2a4-7c1e-7000-8000-000000000002","outcome":{"message":{"_0":"# + message + #","created":true}}}"#
        let outcome = try XCTUnwrap(RawJSON.member("outcome", in: Array(reply.utf8)[...]))
        let created = try XCTUnwrap(RawJSON.member("message", in: outcome))
        XCTAssertEqual(RawJSON.member("_0", in: created).map { String(decoding: $0, as: UTF8.self) }, message)
        XCTAssertEqual(RawJSON.member("created", in: created).map { String(decoding: $0, as: UTF8.self) }, "true")
        XCTAssertEqual(
            RawJSON.member("commandId", in: Array(reply.utf8)[...]).flatMap(UUID.init(quotedUTF8:)), UUID(uuidString: "0193f2a4-7c1e-7000-8000-000000000002"))
    }

    func testSeveralMembersAreFoundInOnePassInTheOrderAsked() {
        let json = Array(#"{"a":"x}\"{","b" : { "c": [1, {"d": "]"}] } ,"n":-1,"a":"second"}"#.utf8)[...]
        let found = RawJSON.members(["n", "missing", "a", "b"], in: json).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        XCTAssertEqual(found, ["-1", nil, #""x}\"{""#, #"{ "c": [1, {"d": "]"}] }"#], "the first of a repeated member")
    }

    func testAnObjectIsReachedByItsPathAndReadOnlyAsFarAsNeeded() throws {
        let reply = Array(#"{"commandId":"c","outcome":{"message":{"_0":{"id":"m","text":"}{"},"created":false}}}"#.utf8)[...]
        let message = try XCTUnwrap(RawJSON.object(at: ["outcome", "message"], in: reply))
        XCTAssertEqual(message.first, UInt8(ascii: "{"))
        let parts = RawJSON.members(["_0", "created"], in: message).map { $0.map { String(decoding: $0, as: UTF8.self) } }
        XCTAssertEqual(parts, [#"{"id":"m","text":"}{"}"#, "false"])
        XCTAssertNil(RawJSON.object(at: ["commandId"], in: reply), "a string is not an object")
        XCTAssertNil(RawJSON.object(at: ["outcome", "failed"], in: reply))
        XCTAssertEqual(RawJSON.object(at: [], in: reply).map(Array.init), Array(reply))
    }

    /// An event's payload is a slice in the middle of what Redis delivered: indices are the
    /// slice's own, and a string ends at the first quote after an even run of backslashes.
    func testMembersOfASliceInsideLongerTextAndStringsWithEscapes() throws {
        let text = String(repeating: #"a\"b\\"#, count: 50)
        let object = #"{"text":""# + text + #"\\","q":"\"","id":"x"}"#
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(object.utf8)), "the text is JSON")
        let bytes = Array(#"["message_received","#.utf8) + Array(object.utf8) + Array("]".utf8)
        let payload = bytes[20..<(bytes.count - 1)]
        XCTAssertEqual(String(decoding: payload, as: UTF8.self), object)
        XCTAssertEqual(RawJSON.member("id", in: payload).map { String(decoding: $0, as: UTF8.self) }, #""x""#)
        XCTAssertEqual(RawJSON.member("q", in: payload).map { String(decoding: $0, as: UTF8.self) }, #""\"""#)
        XCTAssertEqual(RawJSON.member("text", in: payload).map { String(decoding: $0, as: UTF8.self) }, #"""# + text + #"\\""#)
        let cut = bytes[20..<(20 + 12)]
        XCTAssertNil(RawJSON.member("text", in: cut), "a string cut off before its quote")
    }

    func testMalformedOrNonObjectTextGivesNothing() {
        for json in ["", "[]", "\"a\"", "{", #"{"a""#, #"{"a":"#, #"{"a":"open}"#, #"{"a":[1,2"#, #"{"b":1 "a":2}"#] {
            XCTAssertNil(member("a", json), json)
        }
    }
}
