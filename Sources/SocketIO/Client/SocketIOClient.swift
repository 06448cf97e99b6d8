import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

/// A Socket.IO v5 client over WebSocket, for tests and the load tester.
///
/// The connection lives for the duration of ``connect(to:namespace:auth:headers:logger:_:)``'s body.
public final class SocketIOClient: Sendable {
    /// An event the server emitted.
    public struct Event: Sendable {
        public let name: String
        public let arguments: [JSONValue]
    }

    /// Why connecting failed.
    public enum ClientError: Error, Equatable, Sendable {
        /// The server answered CONNECT_ERROR with this message.
        case refused(String)
        /// The connection closed before the namespace was joined or an ack came.
        case closed
        case timeout
    }

    /// Every event the server emits, in order.
    public let events: AsyncStream<Event>
    private let eventsContinuation: AsyncStream<Event>.Continuation
    private let outgoing: AsyncStream<String>.Continuation
    private let namespace: String
    private let acks = Mutex<(next: Int, waiting: [Int: CheckedContinuation<[JSONValue], any Error>])>((0, [:]))
    /// The Socket.IO socket id the server assigned.
    public let sid: String

    private init(namespace: String, sid: String, outgoing: AsyncStream<String>.Continuation) {
        (events, eventsContinuation) = AsyncStream.makeStream(of: Event.self)
        self.namespace = namespace
        self.sid = sid
        self.outgoing = outgoing
    }

    /// Emits an event without asking for an acknowledgement.
    public func emit(_ event: String, _ arguments: JSONValue...) {
        send(SocketPacket(kind: .event, namespace: namespace, data: .array([.string(event)] + arguments)))
    }

    /// Emits an event and waits for the server's acknowledgement.
    public func emitWithAck(_ event: String, _ arguments: JSONValue..., timeout: Duration = .seconds(10)) async throws -> [JSONValue] {
        let id = acks.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        return try await withThrowingTaskGroup(of: [JSONValue].self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    self.acks.withLock { $0.waiting[id] = continuation }
                    self.send(SocketPacket(kind: .event, namespace: self.namespace, id: id, data: .array([.string(event)] + arguments)))
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw ClientError.timeout
            }
            defer { group.cancelAll() }
            do {
                return try await group.next()!
            } catch {
                acks.withLock { $0.waiting.removeValue(forKey: id) }?.resume(throwing: error)
                throw error
            }
        }
    }

    private func send(_ packet: SocketPacket) {
        outgoing.yield("4" + String(decoding: packet.encoded, as: UTF8.self))
    }

    /// Connects, joins `namespace` with `auth`, runs `body`, then disconnects.
    /// - Parameters:
    ///   - url: the server's base URL (`http://host:port`).
    ///   - namespace: the namespace to join.
    ///   - auth: the CONNECT payload.
    ///   - headers: extra handshake headers (e.g. `Authorization`).
    ///   - logger: for the WebSocket client.
    ///   - body: what to do while connected.
    /// - Throws: ``ClientError/refused(_:)`` when the server refuses the namespace.
    public static func connect<T: Sendable>(
        to url: String, namespace: String = "/", auth: JSONValue? = nil, headers: [(String, String)] = [],
        logger: Logger, _ body: @escaping @Sendable (SocketIOClient) async throws -> T
    ) async throws -> T {
        let wsURL = url.replacingOccurrences(of: "http://", with: "ws://") + "/socket.io/?EIO=4&transport=websocket"
        var configuration = WebSocketClientConfiguration()
        var fields = HTTPFields()
        for (name, value) in headers { if let name = HTTPField.Name(name) { fields[name] = value } }
        configuration.additionalHeaders = fields
        let result = ResultBox<T>()
        try await WebSocketClient.connect(url: wsURL, configuration: configuration, logger: logger) { inbound, outbound, _ in
            var messages = inbound.messages(maxSize: 10_000_000).makeAsyncIterator()
            guard case .text(let open)? = try await messages.next(), open.hasPrefix("0") else { throw ClientError.closed }
            var connect = SocketPacket(kind: .connect, namespace: namespace, data: auth).encoded
            if auth == nil, namespace == "/" { connect = Array("0".utf8) }
            try await outbound.write(.text("4" + String(decoding: connect, as: UTF8.self)))
            let sid = try await joined(namespace, messages: &messages)
            let (writes, writer) = AsyncStream.makeStream(of: String.self)
            let client = SocketIOClient(namespace: namespace, sid: sid, outgoing: writer)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await text in writes { try await outbound.write(.text(text)) }
                }
                group.addTask {
                    do {
                        let value = try await body(client)
                        result.value.withLock { $0 = .success(value) }
                    } catch {
                        result.value.withLock { $0 = .failure(error) }
                    }
                    writer.finish()
                    try? await outbound.close(.normalClosure, reason: nil)
                }
                // Read until the server closes (or answers our close).
                while let message = try? await messages.next() {
                    guard case .text(let text) = message else { continue }
                    client.receive(Array(text.utf8), writer: writer)
                }
                client.closed()
                writer.finish()
                try await group.waitForAll()
            }
        }
        guard let outcome = result.value.withLock({ $0 }) else { throw ClientError.closed }
        return try outcome.get()
    }

    /// Reads until the CONNECT answer for `namespace`.
    private static func joined(_ namespace: String, messages: inout WebSocketInboundMessageStream.AsyncIterator) async throws -> String {
        while let message = try await messages.next() {
            guard case .text(let text) = message, text.hasPrefix("4"),
                  let packet = SocketPacket.decode(Array(text.utf8.dropFirst())), packet.namespace == namespace
            else { continue }
            switch packet.kind {
            case .connect: return packet.data?["sid"]?.stringValue ?? ""
            case .connectError: throw ClientError.refused(packet.data?["message"]?.stringValue ?? "")
            default: continue
            }
        }
        throw ClientError.closed
    }

    private func receive(_ text: [UInt8], writer: AsyncStream<String>.Continuation) {
        guard let engine = EnginePacket.decode(text: text) else { return }
        switch engine {
        case .ping(let data):
            writer.yield(String(decoding: EnginePacket.pong(data).text, as: UTF8.self))
        case .message(let bytes):
            guard let packet = SocketPacket.decode(bytes), packet.namespace == namespace else { return }
            switch packet.kind {
            case .event:
                guard case .array(let items)? = packet.data, case .string(let name)? = items.first else { return }
                eventsContinuation.yield(Event(name: name, arguments: Array(items.dropFirst())))
            case .ack:
                guard let id = packet.id, case .array(let arguments)? = packet.data else { return }
                acks.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: arguments)
            case .disconnect:
                closed()
            default:
                return
            }
        default:
            return
        }
    }

    private func closed() {
        eventsContinuation.finish()
        let waiting = acks.withLock { state in
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        for continuation in waiting { continuation.resume(throwing: ClientError.closed) }
    }
}

/// Carries the body's result out of the WebSocket handler.
private final class ResultBox<T: Sendable>: Sendable {
    let value = Mutex<Result<T, any Error>?>(nil)
}
