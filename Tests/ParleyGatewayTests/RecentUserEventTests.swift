import Foundation
import NIOCore
import ParleyCore
@testable import ParleyGateway
@testable import SocketIO
import XCTest

/// The gateway reads a user event and makes its frame once for the members' channels that
/// bring it in a row.
final class RecentUserEventTests: XCTestCase {
    func testTheSameEventOnTheNextChannelSharesItsFrameAndADifferentOneGetsItsOwn() throws {
        let recent = RecentUserEvent()
        let id = UUIDv7.make()
        let message = Array(#"["message_received",{"id":"\#(id.uuidString.lowercased())","text":"hi"}]"#.utf8)
        let first = try XCTUnwrap(Self.prepared(message, by: recent))
        XCTAssertTrue(first.isMessage)
        let accepted = try XCTUnwrap(first.acceptedAt)
        XCTAssertEqual(accepted.timeIntervalSince1970, UUIDv7.timestamp(of: id).timeIntervalSince1970, accuracy: 0.000_001)
        XCTAssertEqual(Self.text(first.shared.frame), Self.text(BroadcastEvent(rawEvent: message).frame))

        // Each channel's message is an array of its own; equal bytes are the same event.
        let again = try XCTUnwrap(Self.prepared(Array(message), by: recent))
        XCTAssertTrue(Self.sameStorage(again.shared.frame, first.shared.frame), "the next member's copy was made again")

        let typing = Array(#"["typing",{"chatId":"x","userId":"y"}]"#.utf8)
        let other = try XCTUnwrap(Self.prepared(typing, by: recent))
        XCTAssertFalse(other.isMessage)
        XCTAssertNil(other.acceptedAt)
        XCTAssertEqual(Self.text(other.shared.frame), Self.text(BroadcastEvent(rawEvent: typing).frame))
        XCTAssertFalse(Self.sameStorage(other.shared.frame, first.shared.frame))
        // An event of the same length differing in one byte is another event.
        var edited = message
        edited[edited.count - 4] = UInt8(ascii: "o")
        let changed = try XCTUnwrap(Self.prepared(edited, by: recent))
        XCTAssertEqual(Self.text(changed.shared.frame), Self.text(BroadcastEvent(rawEvent: edited).frame))

        XCTAssertNil(Self.prepared(Array(#"{"not":"an event"}"#.utf8), by: recent))
        XCTAssertNil(Self.prepared(Array(#"["a\"b",1]"#.utf8), by: recent))
    }

    /// As the subscriber hands a message over: its bytes in a buffer that is reused after the
    /// call, so nothing the gateway keeps may point into it.
    private static func prepared(_ bytes: [UInt8], by recent: RecentUserEvent) -> RecentUserEvent.Prepared? {
        var buffer = bytes
        let prepared = buffer.withUnsafeMutableBytes { recent.prepared(UnsafeRawBufferPointer($0)) }
        buffer.withUnsafeMutableBytes { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) }
        return prepared
    }

    private static func text(_ frame: ByteBuffer) -> [UInt8] {
        frame.getBytes(at: frame.readerIndex, length: frame.readableBytes) ?? []
    }

    private static func sameStorage(_ a: ByteBuffer, _ b: ByteBuffer) -> Bool {
        a.withUnsafeReadableBytes { a in b.withUnsafeReadableBytes { b in a.baseAddress == b.baseAddress } }
    }
}
