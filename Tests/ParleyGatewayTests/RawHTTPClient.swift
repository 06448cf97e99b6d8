import NIOCore
import NIOPosix

/// An HTTP/1.1 client on a plain connection that sends a request's head and body separately and
/// reads responses one by one, interim ones included. A response that does not come within 5 s
/// ends the connection (and the test, with an error).
final class RawHTTPClient {
    struct Response {
        var status: String
        var body: String
    }

    struct ConnectionEnded: Error {}

    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private var buffer = ByteBuffer()
    private let channel: any Channel

    private init(_ channel: any Channel, inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.channel = channel
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    static func withConnection(port: Int, _ body: (RawHTTPClient) async throws -> Void) async throws {
        let connection = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
        try await connection.executeThenClose { inbound, outbound in
            try await body(RawHTTPClient(connection.channel, inbound: inbound, outbound: outbound))
        }
    }

    func send(head: String, headers: [String]) async throws {
        try await send(([head + " HTTP/1.1", "Host: 127.0.0.1"] + headers).joined(separator: "\r\n") + "\r\n\r\n")
    }

    func send(_ text: String) async throws {
        try await outbound.write(ByteBuffer(string: text))
    }

    /// The next response: its status line and, after a final one, its body (by `Content-Length`).
    func response() async throws -> Response {
        let channel = channel
        let deadline = channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        defer { deadline.cancel() }
        let head = try await read { buffer in
            buffer.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)).map { buffer.readString(length: $0.upperBound - buffer.readerIndex)! }
        }
        let lines = head.split(separator: "\r\n")
        let length = lines.dropFirst().first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
        let body = try await read { buffer in buffer.readableBytes >= length ? buffer.readString(length: length) : nil }
        return Response(status: String(lines.first ?? ""), body: body)
    }

    private func read(until parse: (inout ByteBuffer) -> String?) async throws -> String {
        while true {
            if let parsed = parse(&buffer) { return parsed }
            guard var more = try await inbound.next() else { throw ConnectionEnded() }
            buffer.writeBuffer(&more)
        }
    }
}
