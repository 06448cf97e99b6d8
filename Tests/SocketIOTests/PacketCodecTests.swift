@testable import SocketIO
import XCTest

final class EnginePacketTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testTextPacketsRoundTrip() {
        let packets: [EnginePacket] = [.open(bytes("{}")), .close, .ping([]), .ping(bytes("probe")), .pong(bytes("probe")),
                                       .message(bytes("2[\"hi\"]")), .upgrade, .noop]
        for packet in packets {
            XCTAssertEqual(EnginePacket.decode(text: packet.text), packet)
        }
    }

    func testTextCountIsTheLengthOfTheText() {
        var packets: [EnginePacket] = [.open(bytes("{}")), .close, .ping([]), .pong(bytes("probe")), .message(bytes("2[\"hé\"]")), .upgrade, .noop]
        packets += (0..<8).map { .binary(Array(repeating: 7, count: $0)) }
        for packet in packets {
            XCTAssertEqual(packet.textCount, packet.text.count, "\(packet)")
        }
    }

    func testPollingPayloadJoinsWithRecordSeparatorAndBase64ForBinary() {
        let payload = EnginePacket.encode(payload: [.message(bytes("hello")), .binary([1, 2, 3, 4]), .ping([])])
        XCTAssertEqual(String(decoding: payload, as: UTF8.self), "4hello\u{1e}bAQIDBA==\u{1e}2")
        XCTAssertEqual(EnginePacket.decode(payload: payload), [.message(bytes("hello")), .binary([1, 2, 3, 4]), .ping([])])
    }

    func testMalformedPacketsAreRejected() {
        for bad in ["", "9", "x", "1junk", "5x", "6x", "b!!!notbase64"] {
            XCTAssertNil(EnginePacket.decode(text: bytes(bad)), bad)
        }
        XCTAssertNil(EnginePacket.decode(payload: bytes("4ok\u{1e}\u{1e}2")), "an empty record is malformed")
    }
}

final class SocketPacketTests: XCTestCase {
    func decode(_ s: String) -> SocketPacket? { SocketPacket.decode(Array(s.utf8)) }
    func text(_ p: SocketPacket) -> String { String(decoding: p.encoded, as: UTF8.self) }

    func testConnectPackets() {
        XCTAssertEqual(decode("0"), SocketPacket(kind: .connect))
        XCTAssertEqual(decode("0/admin,"), SocketPacket(kind: .connect, namespace: "/admin"))
        XCTAssertEqual(decode("0{\"token\":\"abc\"}")?.data, .object(["token": .string("abc")]))
        XCTAssertEqual(decode("0/admin,{\"token\":\"abc\"}")?.namespace, "/admin")
        XCTAssertEqual(text(SocketPacket(kind: .connect, data: .object(["sid": .string("x")]))), "0{\"sid\":\"x\"}")
        XCTAssertEqual(text(SocketPacket(kind: .connectError, namespace: "/a", data: .object(["message": .string("no")]))), "4/a,{\"message\":\"no\"}")
    }

    func testEventsAndAcks() {
        let event = decode("2/chat,12[\"send\",{\"n\":1},true]")
        XCTAssertEqual(event?.kind, .event)
        XCTAssertEqual(event?.namespace, "/chat")
        XCTAssertEqual(event?.id, 12)
        XCTAssertEqual(event?.data, .array([.string("send"), .object(["n": .number(1)]), .bool(true)]))
        XCTAssertEqual(text(SocketPacket(kind: .ack, id: 7, data: .array([.object(["ok": .bool(true)])]))), "37[{\"ok\":true}]")
        XCTAssertEqual(String(decoding: SocketPacket.encodeEvent(rawEvent: Array("[\"m\",{\"a\":1}]".utf8)), as: UTF8.self), "2[\"m\",{\"a\":1}]")
        // Raw events and acks decode like built ones.
        let odd = SocketPacket.decode(SocketPacket.encodeEvent(namespace: "/chat", rawEvent: Array(#"["say \"hi\"",1]"#.utf8)))
        XCTAssertEqual(odd?.data, .array([.string("say \"hi\""), .number(1)]))
        XCTAssertEqual(odd?.namespace, "/chat")
        let ack = SocketPacket.decode(SocketPacket.encodeAck(namespace: "/chat", id: 42, rawArguments: [Array("{\"ok\":true}".utf8)]))
        XCTAssertEqual(ack?.kind, .ack)
        XCTAssertEqual(ack?.id, 42)
        XCTAssertEqual(ack?.namespace, "/chat")
        XCTAssertEqual(ack?.data, .array([.object(["ok": .bool(true)])]))
    }

    func testBinaryEventCarriesItsAttachmentCountAndPlaceholders() throws {
        let packet = try XCTUnwrap(decode("51-[\"upload\",{\"_placeholder\":true,\"num\":0}]"))
        XCTAssertEqual(packet.kind, .binaryEvent)
        XCTAssertEqual(packet.attachments, 1)
        let filled = packet.data?.fillingPlaceholders(with: [[9, 8, 7]])
        XCTAssertEqual(filled, .array([.string("upload"), .binary([9, 8, 7])]))
        XCTAssertNil(packet.data?.fillingPlaceholders(with: []), "a placeholder without its attachment")

        var attachments: [[UInt8]] = []
        let stripped = JSONValue.array([.string("file"), .binary([1, 2])]).extractingBinaries(into: &attachments)
        XCTAssertEqual(attachments, [[1, 2]])
        XCTAssertEqual(stripped, .array([.string("file"), .object(["_placeholder": .bool(true), "num": .number(0)])]))
    }

    func testMalformedPacketsAreRejectedNotCrashed() {
        let bad = [
            "", "7", "x", "2", "2{}", "2[]", "2[1]", "2[\"a\"", "3[]", "31", "1{\"a\":1}", "0[1]", "05",
            "5[\"a\"]", "5-[\"a\"]", "5999999-[\"a\"]", "2999999999999999999[\"a\"]", "4", "2/chat[\"a\"]x",
            String(repeating: "[", count: 100_000),
        ]
        for input in bad {
            XCTAssertNil(decode(input), "accepted: \(input.prefix(40))")
        }
    }

    func testRandomBytesNeverCrashTheDecoders() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("0123456789[]{}\",:/-_abc\u{1e}".utf8)
        for _ in 0..<20_000 {
            let length = Int.random(in: 0..<24, using: &generator)
            let input = (0..<length).map { _ in alphabet.randomElement(using: &generator)! }
            _ = SocketPacket.decode(input)
            _ = EnginePacket.decode(payload: input)
        }
    }
}
