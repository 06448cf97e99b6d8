import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A bare WebSocket to drive the protocol frame by frame, as the official test suites do.
final class RawSocket: Sendable {
    enum Frame: Equatable, Sendable {
        case text(String)
        case binary([UInt8])
    }

    private let buffer = Mutex<[Frame]>([])
    private let outgoing: AsyncStream<Frame>.Continuation
    private let closedFlag = Mutex(false)
    /// Answer server pings by itself (for tests that are not about heartbeats).
    let autoPong: Bool

    private init(outgoing: AsyncStream<Frame>.Continuation, autoPong: Bool) {
        self.outgoing = outgoing
        self.autoPong = autoPong
    }

    var isClosed: Bool { closedFlag.withLock { $0 } }

    func send(_ text: String) { outgoing.yield(.text(text)) }
    func send(binary: [UInt8]) { outgoing.yield(.binary(binary)) }

    /// The next frame (pings skipped when auto-answering), or nil once closed or after `timeout`.
    func next(timeout: Duration = .seconds(3)) async -> Frame? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let frame: Frame? = buffer.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            if let frame { return frame }
            if isClosed { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    /// Waits until the server closes the connection.
    func waitForClose(timeout: Duration = .seconds(3)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isClosed { return true }
            _ = await next(timeout: .milliseconds(50))
        }
        return isClosed
    }

    private func received(_ frame: Frame) {
        if autoPong, frame == .text("2") {
            send("3")
            return
        }
        buffer.withLock { $0.append(frame) }
    }

    /// Opens `url` (ws://…), runs `body`, closes. Throws if the upgrade is refused.
    static func with(_ url: String, autoPong: Bool = false, _ body: @escaping @Sendable (RawSocket) async throws -> Void) async throws {
        var logger = Logger(label: "raw-socket")
        logger.logLevel = .critical
        let (writes, writer) = AsyncStream.makeStream(of: Frame.self)
        let socket = RawSocket(outgoing: writer, autoPong: autoPong)
        try await WebSocketClient.connect(url: url, logger: logger) { inbound, outbound, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await frame in writes {
                        switch frame {
                        case .text(let text): try await outbound.write(.text(text))
                        case .binary(let bytes): try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                        }
                    }
                    try? await outbound.close(.normalClosure, reason: nil)
                }
                group.addTask {
                    defer { writer.finish() }
                    try await body(socket)
                }
                do {
                    for try await message in inbound.messages(maxSize: 1 << 22) {
                        switch message {
                        case .text(let text): socket.received(.text(text))
                        case .binary(let buffer): socket.received(.binary(Array(buffer.readableBytesView)))
                        }
                    }
                } catch {}
                socket.closedFlag.withLock { $0 = true }
                try await group.waitForAll()
            }
        }
    }
}
