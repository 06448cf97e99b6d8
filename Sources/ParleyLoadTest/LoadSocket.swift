import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket
import SocketIO

/// One user's Socket.IO connection for the load generator, on NIO handlers alone: frames are
/// read and deliveries recorded on the event loop, with no task per connection or per frame (the
/// generator shares the machine with what it measures, so its cost per delivery counts).
/// Speaks what the load test needs: WebSocket only, the default namespace, `send_message` with
/// an ack, `message_received` handed over as raw JSON.
final class LoadSocket: Sendable {
    enum Failure: Error, Equatable {
        case refused(String)
        case closed
        case timeout
        case handshake(String)
    }

    /// What the server answered to a send.
    enum Answer: Sendable, Equatable {
        case ok
        /// The error code of `{ok: false, error: {code}}`.
        case refused(String)
    }

    private let channel: any Channel
    private let handler: Handler

    private init(channel: any Channel, handler: Handler) {
        self.channel = channel
        self.handler = handler
    }

    /// Connects to `url` (`http://host:port`), joins `/` with `token`, and hands every
    /// `message_received`'s arguments to `onMessage` (on the event loop).
    static func connect(to url: String, token: String, onMessage: @escaping @Sendable (ArraySlice<UInt8>) -> Void) async throws -> LoadSocket {
        guard let address = URL(string: url), let host = address.host, let port = address.port else { throw Failure.handshake("bad URL \(url)") }
        let auth = JSONValue.object(["token": .string(token)]).serialized
        // The loop is chosen here, once: `any()` off a loop and the bootstrap's own pick each take
        // the group's next loop, so with two loops the sockets piled up on one of them.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let joined = loop.makePromise(of: Void.self)
        let handler = Handler(auth: auth, joined: joined, onMessage: onMessage)
        let request = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\n"
            + "Connection: Upgrade\r\nSec-WebSocket-Key: \(Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString())\r\n"
            + "Sec-WebSocket-Version: 13\r\n\r\n"
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Upgrade(request: request, next: handler))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            joined.fail(error)
            throw error
        }
        let socket = LoadSocket(channel: channel, handler: handler)
        do {
            try await joined.futureResult.get()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return socket
    }

    /// The event loop the connection runs on; ``sendMessage(_:timeout:answered:)`` is called there.
    var eventLoop: any EventLoop { channel.eventLoop }

    /// Emits `send_message` with `payload` (its JSON) and calls `answered` with its ack or
    /// failure, both on ``eventLoop``: no task or continuation per message (their thread hops
    /// cost the generator about an eighth of its CPU in 1:1 chats).
    func sendMessage(_ payload: [UInt8], timeout: Duration = .seconds(10), answered: @escaping (Result<Answer, any Error>) -> Void) {
        channel.eventLoop.preconditionInEventLoop()
        handler.sendMessage(payload, context: channel, timeout: timeout, answered: answered)
    }

    func close() {
        channel.close(promise: nil)
    }

    // MARK: - Handshake

    /// Writes the upgrade request, reads the response, then gives the connection to NIO's frame
    /// decoder and `next`, which writes whole frames itself.
    private final class Upgrade: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        private let request: String
        private let next: Handler
        private var received = ByteBuffer()

        init(request: String, next: Handler) {
            self.request = request
            self.next = next
        }

        func channelActive(context: ChannelHandlerContext) {
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.writeBuffer(&bytes)
            let view = received.readableBytesView
            guard let end = view.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            guard head.hasPrefix("HTTP/1.1 101") else {
                next.fail(.handshake(String(head.prefix(40))))
                context.close(promise: nil)
                return
            }
            received.moveReaderIndex(to: end.upperBound)
            let rest = received
            do {
                try context.pipeline.syncOperations.addHandlers(
                    [ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 24)), next], position: .after(self))
            } catch {
                next.fail(.handshake("\(error)"))
                context.close(promise: nil)
                return
            }
            if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }

        typealias InboundOut = ByteBuffer
    }

    // MARK: - Engine.IO and Socket.IO

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // Touched on the channel's event loop only.
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = ByteBuffer

        private let joined: EventLoopPromise<Void>
        private let auth: [UInt8]
        private let onMessage: @Sendable (ArraySlice<UInt8>) -> Void
        private var nextAck = 0
        private var acks: [Int: (answered: (Result<Answer, any Error>) -> Void, deadline: NIODeadline)] = [:]
        /// Ends the acks overdue: one periodic task for the socket rather than a timer set and
        /// cancelled for every send (a tenth of the generator's CPU in 1:1 chats).
        private var sweep: RepeatedTask?
        private var closed = false

        /// Completed once: joined, refused, or closed first.
        init(auth: [UInt8], joined: EventLoopPromise<Void>, onMessage: @escaping @Sendable (ArraySlice<UInt8>) -> Void) {
            self.auth = auth
            self.joined = joined
            self.onMessage = onMessage
        }

        func fail(_ failure: Failure) {
            joined.fail(failure)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            switch frame.opcode {
            case .text:
                let bytes = Array(frame.unmaskedData.readableBytesView)
                handle(bytes[...], channel: context.channel)
            case .ping:
                var data = frame.unmaskedData
                let pong = context.channel.allocator.wholeWebSocketFrame(opcode: .pong, length: data.readableBytes, maskKey: .random()) { $0.writeBuffer(&data) }
                context.writeAndFlush(wrapOutboundOut(pong), promise: nil)
            case .connectionClose:
                context.close(promise: nil)
            default:
                break
            }
        }

        private func handle(_ text: ArraySlice<UInt8>, channel: any Channel) {
            guard let type = text.first else { return }
            let body = text.dropFirst()
            switch type {
            case UInt8(ascii: "0"):
                send(Array("40".utf8) + auth, channel: channel)
            case UInt8(ascii: "2"):
                send(Array("3".utf8) + body, channel: channel)
            case UInt8(ascii: "4"):
                socketIO(body, channel: channel)
            case UInt8(ascii: "1"):
                channel.close(promise: nil)
            default:
                break
            }
        }

        private func socketIO(_ packet: ArraySlice<UInt8>, channel: any Channel) {
            guard let kind = packet.first else { return }
            let rest = packet.dropFirst()
            switch kind {
            case UInt8(ascii: "0"):
                joined.succeed(())
            case UInt8(ascii: "4"):
                let message = JSONValue.parse(rest)?["message"]?.stringValue ?? ""
                joined.fail(Failure.refused(message))
            case UInt8(ascii: "2"):
                // Only the name is read: `["message_received",{...}]`.
                let prefix = Array(#"["message_received","#.utf8)
                guard rest.starts(with: prefix), rest.last == UInt8(ascii: "]") else { return }
                onMessage(rest.dropFirst(prefix.count).dropLast())
            case UInt8(ascii: "3"):
                var i = rest.startIndex
                var id = 0
                while i < rest.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(rest[i]) {
                    id = id * 10 + Int(rest[i] - UInt8(ascii: "0"))
                    i += 1
                }
                guard let (answered, _) = acks.removeValue(forKey: id) else { return }
                let answer = rest[i...]
                if answer.starts(with: Array(#"[{"ok":true"#.utf8)) {
                    answered(.success(.ok))
                } else {
                    let code = JSONValue.parse(answer).flatMap { value -> String? in
                        guard case .array(let items) = value else { return nil }
                        return items.first?["error"]?["code"]?.stringValue
                    }
                    answered(.success(.refused(code ?? "unknown")))
                }
            default:
                break
            }
        }

        /// Emits `send_message` with `argument` and an ack id.
        func sendMessage(
            _ argument: [UInt8], context channel: any Channel, timeout: Duration, answered: @escaping (Result<Answer, any Error>) -> Void
        ) {
            guard !closed else { return answered(.failure(Failure.closed)) }
            let id = nextAck
            nextAck += 1
            if sweep == nil {
                let interval = TimeAmount(min(timeout / 10, .seconds(1)))
                sweep = channel.eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in
                    endOverdueAcks(at: .now())
                }
            }
            acks[id] = (answered, .now() + TimeAmount(timeout))
            var packet = Array("42\(id)[".utf8)
            packet += Self.sendMessageName
            packet += argument
            packet.append(UInt8(ascii: "]"))
            send(packet, channel: channel)
        }

        /// The event's name as it opens the arguments' array.
        private static let sendMessageName = Array(#""send_message","#.utf8)

        private func endOverdueAcks(at now: NIODeadline) {
            for (id, ack) in acks where ack.deadline <= now {
                acks.removeValue(forKey: id)
                ack.answered(.failure(Failure.timeout))
            }
        }

        private func send(_ text: [UInt8], channel: any Channel) {
            channel.writeAndFlush(channel.allocator.wholeWebSocketFrame(opcode: .text, length: text.count, maskKey: .random()) { $0.writeBytes(text) }, promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            closed = true
            joined.fail(Failure.closed)
            sweep?.cancel()
            let waiting = acks.values
            acks.removeAll()
            for (answered, _) in waiting { answered(.failure(Failure.closed)) }
            context.fireChannelInactive()
        }
    }
}
