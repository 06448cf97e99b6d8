import NIOCore
import NIOEmbedded
import NIOWebSocket
import XCTest

@testable import SocketIO

final class LoopWriteQueueTests: XCTestCase {
    /// Counts the flushes that reach the connection.
    final class FlushCounter: ChannelOutboundHandler {
        typealias OutboundIn = WebSocketFrame
        var flushes = 0

        func flush(context: ChannelHandlerContext) {
            flushes += 1
            context.flush()
        }
    }

    /// A job queued on the loop beside the drain (an ack resumed by the reply that came with the
    /// events) has its packets written in the same flush, after what was queued before it.
    func testWhatJobsAlreadyQueuedSendJoinsTheFlush() throws {
        let counter = FlushCounter()
        let channel = EmbeddedChannel(handler: counter)
        let loop = channel.embeddedEventLoop
        let queue = LoopWriteQueue.of(loop)
        queue.add(.packets([.message(Array("event".utf8))]), for: channel)
        loop.execute { queue.add(.packets([.message(Array("ack".utf8))]), for: channel) }
        loop.run()
        XCTAssertEqual(counter.flushes, 1)
        var texts: [String] = []
        while let frame = try channel.readOutbound(as: WebSocketFrame.self) {
            texts.append(String(buffer: frame.data))
        }
        XCTAssertEqual(texts, ["4event", "4ack"])

        // What comes after the flush gets a flush of its own.
        queue.add(.packets([.message(Array("later".utf8))]), for: channel)
        loop.run()
        XCTAssertEqual(counter.flushes, 2)
        XCTAssertEqual(try channel.readOutbound(as: WebSocketFrame.self).map { String(buffer: $0.data) }, "4later")
    }
}
