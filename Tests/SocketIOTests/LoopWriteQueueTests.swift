import NIOCore
import NIOEmbedded
import NIOWebSocket
import XCTest

@testable import SocketIO

final class LoopWriteQueueTests: XCTestCase {
    /// Counts the flushes that reach the connection.
    final class FlushCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var flushes = 0

        func flush(context: ChannelHandlerContext) {
            flushes += 1
            context.flush()
        }
    }

    /// A WebSocket connection's pipeline as the upgrade leaves it, with `below` between the
    /// frame encoder and the socket, on `loop` (a new one unless given).
    private func upgradedChannel(
        below: some ChannelHandler = FlushCounter(), on loop: EmbeddedEventLoop = EmbeddedEventLoop()
    ) throws -> (EmbeddedChannel, WebSocketLink) {
        let channel = EmbeddedChannel(loop: loop)
        try channel.pipeline.syncOperations.addHandlers(below, WebSocketFrameEncoder())
        return (channel, try WebSocketLink(channel: channel, closeTimeout: .seconds(1)))
    }

    /// What reached the socket, one buffer per write.
    private func written(_ channel: EmbeddedChannel) throws -> [[UInt8]] {
        var buffers: [[UInt8]] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { buffers.append(Array(buffer.readableBytesView)) }
        return buffers
    }

    /// A job queued on the loop beside the drain (an ack resumed by the reply that came with the
    /// events) has its packets written in the same flush, after what was queued before it.
    func testWhatJobsAlreadyQueuedSendJoinsTheFlush() throws {
        let counter = FlushCounter()
        let (channel, link) = try upgradedChannel(below: counter)
        let loop = channel.embeddedEventLoop
        link.send([.message(Array("event".utf8))])
        loop.execute { link.send([.message(Array("ack".utf8))]) }
        loop.run()
        XCTAssertEqual(counter.flushes, 1)
        XCTAssertEqual(try written(channel), [[0x81, 6] + Array("4event".utf8), [0x81, 4] + Array("4ack".utf8)])

        // What comes after the flush gets a flush of its own.
        link.send([.message(Array("later".utf8))])
        loop.run()
        XCTAssertEqual(counter.flushes, 2)
        XCTAssertEqual(try written(channel), [[0x81, 6] + Array("4later".utf8)])
    }

    /// Each packet's frame has its header before its payload, with the length in the form its
    /// size asks for, and a connection's frames of one turn reach the socket as one buffer; a
    /// close frame still goes through NIO's encoder.
    func testFramesHaveTheirHeadersAndGoInOneBuffer() throws {
        let (channel, link) = try upgradedChannel()
        let medium = [UInt8](repeating: UInt8(ascii: "m"), count: 300)
        let large = [UInt8](repeating: 7, count: 70_000)
        link.send([.message(Array("hi".utf8)), .message(medium), .binary(large)])
        channel.embeddedEventLoop.run()
        let small: [UInt8] = [0x81, 3, UInt8(ascii: "4"), UInt8(ascii: "h"), UInt8(ascii: "i")]
        let mediumFrame: [UInt8] = [0x81, 126, 0x01, 0x2D, UInt8(ascii: "4")] + medium
        let largeFrame: [UInt8] = [0x82, 127, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70] + large
        XCTAssertEqual(try written(channel), [small + mediumFrame + largeFrame])

        link.close(cutOff: false)
        channel.embeddedEventLoop.run()
        XCTAssertEqual(try written(channel).joined().map { $0 }, [0x88, 2, 0x03, 0xE8])
    }

    /// A burst for several connections: each connection's frames, shared or its own, go in the
    /// order sent as one write; a connection's only frame goes as the shared buffer itself; what
    /// was sent before a close goes before the close frame.
    func testEachConnectionsFramesOfABurstAreOneWrite() throws {
        let (one, first) = try upgradedChannel()
        let (two, second) = try upgradedChannel(on: one.embeddedEventLoop)
        let shared = EnginePacket.message(Array("event".utf8)).webSocketFrame(ByteBufferAllocator())
        let other = EnginePacket.message(Array("other".utf8)).webSocketFrame(ByteBufferAllocator())
        first.send(frame: shared)
        second.send(frame: shared)
        first.send([.message(Array("ack".utf8))])
        first.send(frame: other)
        one.embeddedEventLoop.run()
        let frame = { (text: String) -> [UInt8] in [0x81, UInt8(1 + text.utf8.count), UInt8(ascii: "4")] + Array(text.utf8) }
        XCTAssertEqual(try written(one), [frame("event") + frame("ack") + frame("other")])
        let alone = try XCTUnwrap(two.readOutbound(as: ByteBuffer.self))
        XCTAssertEqual(alone, shared)
        XCTAssertEqual(alone.storageCapacity, shared.storageCapacity, "written as it was made, not copied")

        second.send([.message(Array("last".utf8))])
        second.close(cutOff: false)
        one.embeddedEventLoop.run()
        let last = try written(two)
        XCTAssertEqual(last.first, frame("last"))
        XCTAssertEqual(last.dropFirst().joined().map { $0 }, [0x88, 2, 0x03, 0xE8])
    }
}
