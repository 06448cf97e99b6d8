import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// An Engine.IO v4 / Socket.IO v5 server: WebSocket and HTTP long-polling transports with upgrade,
/// heartbeats, namespaces and acknowledgements. It knows nothing of the application: a
/// ``SocketIOHandler`` decides on connections and handles events.
///
/// Run it as a `Service` (every session's task is a child of ``run()``), and mount it with
/// ``addPollingRoutes(to:)`` and ``addWebSocketRoutes(to:)``.
public final class SocketIOServer: Service, Sendable {
    /// What sits on top of the Engine.IO sessions.
    private enum Layer: Sendable {
        case socketIO
        /// Every message back to its sender: the server the Engine.IO protocol test suite expects.
        case engineEcho
    }

    public let configuration: SocketIOConfiguration
    private let layer: Layer
    private let handler: any SocketIOHandler
    private let namespaces: Set<String>
    private let logger: Logger
    private let sessions = Mutex<[String: EngineSession]>([:])
    private let newSessions: AsyncStream<EngineSession>
    private let newSessionsContinuation: AsyncStream<EngineSession>.Continuation

    /// - Parameters:
    ///   - configuration: protocol settings.
    ///   - namespaces: the namespaces clients may join; others get CONNECT_ERROR.
    ///   - handler: the application.
    ///   - logger: for protocol violations and closes.
    public convenience init(configuration: SocketIOConfiguration = .init(), namespaces: Set<String> = ["/"], handler: any SocketIOHandler, logger: Logger) {
        self.init(layer: .socketIO, configuration: configuration, namespaces: namespaces, handler: handler, logger: logger)
    }

    /// A bare Engine.IO server that echoes every message and binary packet, for protocol
    /// conformance checks of the transport layer.
    public static func engineEcho(configuration: SocketIOConfiguration, logger: Logger) -> SocketIOServer {
        SocketIOServer(layer: .engineEcho, configuration: configuration, namespaces: [], handler: NoHandler(), logger: logger)
    }

    private init(layer: Layer, configuration: SocketIOConfiguration, namespaces: Set<String>, handler: any SocketIOHandler, logger: Logger) {
        self.layer = layer
        self.configuration = configuration
        self.handler = handler
        self.namespaces = namespaces
        self.logger = logger
        (newSessions, newSessionsContinuation) = AsyncStream.makeStream(of: EngineSession.self)
    }

    /// How many Engine.IO sessions are open.
    public var sessionCount: Int { sessions.withLock { $0.count } }

    /// The configuration to mount ``addWebSocketRoutes(to:)`` with: frames as large as a
    /// packet may be, and no WebSocket pings (Engine.IO has its own heartbeat).
    public var webSocketConfiguration: WebSocketServerConfiguration {
        WebSocketServerConfiguration(maxFrameSize: configuration.maxPayload, autoPing: .disabled)
    }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { sweeper in
                sweeper.addTask { await self.sweep() }
                // Sessions that began on polling have a task each; WebSocket ones run in their
                // connection's.
                await withDiscardingTaskGroup { group in
                    for await session in newSessions {
                        group.addTask {
                            var packets = session.inbound.makeAsyncIterator()
                            await self.serve(session, packets: &packets)
                        }
                    }
                }
                sweeper.cancelAll()
            }
        } onGracefulShutdown: {
            self.newSessionsContinuation.finish()
            for session in self.sessions.withLock({ Array($0.values) }) {
                session.send([.close])
                session.close(reason: "server shutting down")
            }
        }
    }

    // MARK: - Sessions

    /// A new session and its `open` packet, which the transport sends first.
    private func open(handshake: Handshake, webSocket: WebSocketLink?) -> (EngineSession, EnginePacket) {
        let sid = SocketIOConnection.randomId()
        let heartbeat = Heartbeat(
            now: .now, interval: configuration.pingInterval, timeout: configuration.pingTimeout,
            connectTimeout: layer == .socketIO ? configuration.connectTimeout : nil)
        let session = EngineSession(sid: sid, handshake: handshake, transport: webSocket == nil ? .polling : .websocket, heartbeat: heartbeat)
        if let webSocket { session.attachWebSocket(webSocket) }
        sessions.withLock { $0[sid] = session }
        let open: JSONValue = .object([
            "sid": .string(sid),
            "upgrades": .array(webSocket == nil ? [.string("websocket")] : []),
            "pingInterval": .number(Double(configuration.pingInterval.milliseconds)),
            "pingTimeout": .number(Double(configuration.pingTimeout.milliseconds)),
            "maxPayload": .number(Double(configuration.maxPayload)),
        ])
        if webSocket == nil { newSessionsContinuation.yield(session) }
        return (session, .open(open.serialized))
    }

    /// The open session with that id; a closed one is gone for clients even before its task ends.
    private func session(_ sid: String?) -> EngineSession? {
        guard let sid, let session = sessions.withLock({ $0[sid] }), !session.isClosed else { return nil }
        return session
    }

    /// The life of one session: every packet it receives until its transport ends or it closes.
    private func serve<Packets: AsyncIteratorProtocol<EnginePacket, Never>>(_ session: EngineSession, packets: inout Packets) async {
        let connection = SocketIOConnection(session: session, handler: handler, namespaces: namespaces)
        session.connection = connection
        await withTaskGroup(of: Void.self) { group in
            let (finished, finishedContinuation) = AsyncStream.makeStream(of: Void.self)
            var finishedIterator = finished.makeAsyncIterator()
            var inFlight = 0
            while !session.isClosed, let packet = await packets.next(isolation: #isolation) {
                let outcome: SocketIOConnection.Outcome
                switch (layer, packet) {
                case (.engineEcho, .message), (.engineEcho, .binary): session.send([packet]); outcome = .none
                case (_, .message(let text)): outcome = await connection.receive(text: text)
                case (_, .binary(let bytes)): outcome = await connection.receive(binary: bytes)
                case (_, .ping(let data)): session.send([.pong(data)]); outcome = .none
                case (_, .pong): session.ponged(); outcome = .none
                case (_, .close): session.close(reason: "transport close"); outcome = .none
                case (_, .noop), (_, .upgrade): outcome = .none
                case (_, .open): outcome = .violation("clients do not send open")
                }
                switch outcome {
                case .none:
                    break
                case .violation(let why):
                    logger.debug("closing session after a protocol violation", metadata: ["sid": "\(session.sid)", "why": "\(why)"])
                    session.close(reason: "parse error")
                case .wait(let run):
                    await withDiscardingTaskGroup { $0.addTask { await run() } }
                case .event(let run):
                    if inFlight >= configuration.concurrentEventsPerConnection {
                        await finishedIterator.next()
                        inFlight -= 1
                    }
                    inFlight += 1
                    group.addTask {
                        await run()
                        finishedContinuation.yield()
                    }
                }
            }
            group.cancelAll()
        }
        await connection.closeAll(reason: session.closeReason)
        sessions.withLock { _ = $0.removeValue(forKey: session.sid) }
    }

    /// Pings, ping timeouts and connect deadlines of every session, from one task.
    private func sweep() async {
        let interval = Heartbeat.sweepInterval(configuration)
        while true {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            let now = ContinuousClock.now
            for session in sessions.withLock({ Array($0.values) }) { session.sweep(now: now) }
        }
    }

    // MARK: - HTTP long-polling

    /// Mounts the polling transport (and the handshake) on `configuration.path`.
    public func addPollingRoutes<Context: RequestContext>(to router: Router<Context>) {
        let path = RouterPath(stringLiteral: configuration.path)
        router.get(path) { request, context in try await self.pollingGet(request, remoteAddress: Self.remoteAddress(of: context)) }
        router.post(path) { request, context in try await self.pollingPost(request, maxSize: self.configuration.maxPayload) }
        router.on(path, method: .options) { request, _ in self.withCORS(Response(status: .noContent), request: request) }
        for method in [HTTPRequest.Method.put, .delete, .patch] {
            router.on(path, method: method) { request, _ in self.withCORS(Self.protocolError(2, "Bad handshake method"), request: request) }
        }
    }

    static func remoteAddress(of context: some RequestContext) -> String? {
        (context as? any RemoteAddressRequestContext)?.remoteAddress?.ipAddress
    }

    private func pollingGet(_ request: Request, remoteAddress: String?) async throws -> Response {
        let query = request.uri.queryParameters
        if let error = checkQuery(query, expecting: "polling") { return withCORS(error, request: request) }
        guard let sid = query.get("sid") else {
            let (_, open) = open(handshake: Handshake(headers: request.headers, query: Self.queryDictionary(query), transport: "polling", remoteAddress: remoteAddress), webSocket: nil)
            return withCORS(Self.payload([open]), request: request)
        }
        guard let session = session(sid) else { return withCORS(Self.protocolError(1, "Session ID unknown"), request: request) }
        do {
            let packets = try await session.poll(maxPackets: 16, maxBytes: configuration.maxPayload)
            return withCORS(Self.payload(packets), request: request)
        } catch .concurrentPoll {
            // Two polls at once: the client is confused; end the session, the first poll gets `close`.
            session.send([.close])
            session.close(reason: "transport error")
            return withCORS(Self.protocolError(3, "Bad request"), request: request)
        } catch {
            // Polling a session that moved to WebSocket: refused, the session goes on.
            return withCORS(Self.protocolError(3, "Bad request"), request: request)
        }
    }

    private func pollingPost(_ request: Request, maxSize: Int) async throws -> Response {
        let query = request.uri.queryParameters
        if let error = checkQuery(query, expecting: "polling") { return withCORS(error, request: request) }
        guard let session = session(query.get("sid")) else {
            return withCORS(Self.protocolError(query.get("sid") == nil ? 2 : 1, query.get("sid") == nil ? "Bad handshake method" : "Session ID unknown"), request: request)
        }
        guard session.transport == .polling else { return withCORS(Self.protocolError(3, "Bad request"), request: request) }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maxSize)
        } catch {
            session.close(reason: "transport error")
            return withCORS(Response(status: .contentTooLarge), request: request)
        }
        guard let packets = EnginePacket.decode(payload: Array(body.readableBytesView)) else {
            session.close(reason: "parse error")
            return withCORS(Self.protocolError(3, "Bad request"), request: request)
        }
        for packet in packets { session.receive(packet) }
        var response = Response(status: .ok, headers: [.contentType: "text/html"], body: .init(byteBuffer: ByteBuffer(string: "ok")))
        response = withCORS(response, request: request)
        return response
    }

    private func checkQuery(_ query: Parameters, expecting transport: String) -> Response? {
        guard query.get("EIO") == "4" else { return Self.protocolError(5, "Unsupported protocol version") }
        guard let asked = query.get("transport"), ["polling", "websocket"].contains(asked) else {
            return Self.protocolError(0, "Transport unknown")
        }
        // A WebSocket handshake that reached the HTTP routes carried no upgrade.
        guard asked == transport else { return Self.protocolError(3, "Bad request") }
        return nil
    }

    private func withCORS(_ response: Response, request: Request) -> Response {
        guard !configuration.corsOrigins.isEmpty else { return response }
        var response = response
        let origin = request.headers[.origin]
        if configuration.corsOrigins.contains("*") && origin == nil {
            response.headers[.accessControlAllowOrigin] = "*"
        } else if let origin, configuration.corsOrigins.contains("*") || configuration.corsOrigins.contains(origin) {
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.accessControlAllowCredentials] = "true"
            response.headers[.vary] = "Origin"
        }
        if request.method == .options {
            response.headers[.accessControlAllowMethods] = "GET, POST, OPTIONS"
            response.headers[.accessControlAllowHeaders] = request.headers[.accessControlRequestHeaders] ?? "content-type, authorization"
        }
        return response
    }

    static func payload(_ packets: [EnginePacket]) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/plain; charset=UTF-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: EnginePacket.encode(payload: packets))))
    }

    static func protocolError(_ code: Int, _ message: String) -> Response {
        let body = JSONValue.object(["code": .number(Double(code)), "message": .string(message)]).serialized
        return Response(status: .badRequest, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func queryDictionary(_ query: Parameters) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in query { result[String(key)] = String(value) }
        return result
    }

    // MARK: - WebSocket

    /// Mounts the WebSocket transport (direct, or upgrading a polling session) on `configuration.path`.
    /// Mount the router with ``webSocketConfiguration``.
    public func addWebSocketRoutes<Context: SocketIOWebSocketRequestContext>(to router: Router<Context>) {
        router.ws(RouterPath(stringLiteral: configuration.path)) { request, _ in
            let query = request.uri.queryParameters
            guard query.get("EIO") == "4", query.get("transport") == "websocket" else { return .dontUpgrade }
            if let sid = query.get("sid") {
                guard let session = self.session(sid), session.transport == .polling else { return .dontUpgrade }
            }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            let link = WebSocketLink(channel: context.requestContext.channel, outbound: outbound, closeTimeout: self.webSocketConfiguration.closeTimeout)
            try await self.serveWebSocket(
                inbound: inbound, outbound: outbound, link: link, request: context.request,
                remoteAddress: Self.remoteAddress(of: context.requestContext))
        }
    }

    private func serveWebSocket(
        inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, link: WebSocketLink, request: Request, remoteAddress: String?
    ) async throws {
        let query = request.uri.queryParameters
        var messages = inbound.messages(maxSize: configuration.maxPayload).makeAsyncIterator()
        if let sid = query.get("sid") {
            guard let session = self.session(sid) else { return }
            guard try await probe(session, messages: &messages, outbound: outbound) else { return }
            session.attachWebSocket(link)
            // The session's task (it began on polling) handles what this connection reads.
            var packets = WebSocketPackets(messages: messages, session: session)
            while !session.isClosed, let packet = await packets.next() { session.receive(packet) }
        } else {
            let handshake = Handshake(headers: request.headers, query: Self.queryDictionary(query), transport: "websocket", remoteAddress: remoteAddress)
            let (session, open) = open(handshake: handshake, webSocket: link)
            session.send([open])
            var packets = WebSocketPackets(messages: messages, session: session)
            await serve(session, packets: &packets)
        }
    }

    /// The Engine.IO packets of a WebSocket; the end of the connection, or a frame that is no
    /// packet, closes the session.
    private struct WebSocketPackets: AsyncIteratorProtocol {
        var messages: WebSocketInboundMessageStream.AsyncIterator
        let session: EngineSession

        mutating func next() async -> EnginePacket? {
            do {
                switch try await messages.next() {
                case .text(let text)?:
                    if let packet = EnginePacket.decode(text: text.utf8) { return packet }
                    session.close(reason: "parse error")
                case .binary(let buffer)?:
                    return .binary(Array(buffer.readableBytesView))
                case nil:
                    session.close(reason: "transport close")
                }
            } catch {
                // Over maxPayload, or the connection broke.
                session.close(reason: "transport error")
            }
            return nil
        }
    }

    /// The upgrade handshake on a new WebSocket for a polling session: `2probe` → `3probe`, then
    /// `5`. Returns false if the client does something else.
    private func probe(_ session: EngineSession, messages: inout WebSocketInboundMessageStream.AsyncIterator, outbound: WebSocketOutboundWriter) async throws -> Bool {
        guard case .text(let probe)? = try await messages.next(), probe == "2probe" else { return false }
        try await outbound.write(.text("3probe"))
        session.flushPollWithNoop()
        guard case .text(let upgrade)? = try await messages.next(), upgrade == "5" else { return false }
        return true
    }
}

extension Duration {
    var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }
}

/// The handler of a server without a Socket.IO layer: never called.
private struct NoHandler: SocketIOHandler {
    func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision { .reject(message: "no namespaces") }
    func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {}
    func disconnected(_ socket: SocketIOSocket, reason: String) async {}
}
