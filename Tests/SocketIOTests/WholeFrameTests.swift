import NIOCore
import NIOEmbedded
import NIOWebSocket
import XCTest

@testable import SocketIO

final class WholeFrameTests: XCTestCase {
    /// What `wholeWebSocketFrame` makes, NIO's decoder reads back as the same frame: each
    /// length form, masked (a client's) and not (a server's).
    func testNIOsDecoderReadsBackEveryLengthFormMaskedOrNot() throws {
        for length in [0, 1, 125, 126, 300, 65_535, 65_536, 70_001] {
            let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
            for maskKey in [nil, WebSocketMaskingKey.random(), WebSocketMaskingKey([1, 2, 3, 4])] {
                let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
                let bytes = channel.allocator.wholeWebSocketFrame(opcode: .binary, length: length, maskKey: maskKey) { $0.writeBytes(payload) }
                XCTAssertEqual(bytes.readableBytes, payload.count + (length < 126 ? 2 : length < 65_536 ? 4 : 10) + (maskKey == nil ? 0 : 4))
                try channel.writeInbound(bytes)
                let frame = try XCTUnwrap(try channel.readInbound(as: WebSocketFrame.self), "\(length)")
                XCTAssertTrue(frame.fin)
                XCTAssertEqual(frame.opcode, .binary)
                XCTAssertEqual(frame.maskKey, maskKey)
                XCTAssertEqual(Array(frame.unmaskedData.readableBytesView), payload, "\(length), masked: \(maskKey != nil)")
                if maskKey == [1, 2, 3, 4], length > 0 {
                    XCTAssertNotEqual(Array(frame.data.readableBytesView), payload, "the payload is sent masked")
                }
                XCTAssertNil(try channel.readInbound(as: WebSocketFrame.self))
            }
        }
    }
}
