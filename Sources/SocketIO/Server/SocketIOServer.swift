import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOWebSocket
import ServiceLifecycle
import Synchronization

/// An Engine.IO v4 / Socket.IO v5 server: WebSocket and HTTP long-polling transports with upgrade,
/// heartbeats, namespaces and acknowledgements. It knows nothing of the application: a
/// ``SocketIOHandler`` decides on connections and handles events.
///
/// Run it as a `Service` (its one task pings every session), mount the polling transport with
/// ``addPollingRoutes(to:)`` and serve the application with ``HTTPServerBuilder/socketIO(_:)``,
/// which takes WebSocket upgrades to the server's path. Packets are handled as they arrive; work
/// for the application runs in a task per event, so an idle connection costs no task.
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
    /// Sessions whose sockets are still being reported gone to the handler.
    private let leaving = Atomic<Int>(0)

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
    }

    /// How many Engine.IO sessions are open.
    public var sessionCount: Int { sessions.withLock { $0.count } }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.sweep() }
        for session in sessions.withLock({ Array($0.values) }) {
            session.send([.close])
            session.close(reason: "server shutting down")
        }
        // The application hears of every socket leaving before the services after this one stop
        // (a presence reporter, say); bounded, so that a handler that hangs cannot hold shutdown.
        let deadline = ContinuousClock.now + configuration.webSocketCloseTimeout
        while leaving.load(ordering: .acquiring) > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    // MARK: - Sessions

    /// A new session and its `open` packet, which the transport sends first.
    private func open(handshake: Handshake, webSocket: WebSocketLink?) -> (EngineSession, EnginePacket) {
        let sid = SocketIOConnection.randomId()
        let heartbeat = Heartbeat(
            now: .now, interval: configuration.pingInterval, timeout: configuration.pingTimeout,
            connectTimeout: layer == .socketIO ? configuration.connectTimeout : nil)
        let session = EngineSession(
            sid: sid, handshake: handshake, transport: webSocket == nil ? .polling : .websocket, heartbeat: heartbeat,
            sendBuffer: configuration.sendBuffer
        ) { self.closed($0) }
        if layer == .socketIO { session.connection = SocketIOConnection(session: session, handler: handler, namespaces: namespaces) }
        if let webSocket { session.attachWebSocket(webSocket) }
        sessions.withLock { $0[sid] = session }
        let open: JSONValue = .object([
            "sid": .string(sid),
            "upgrades": .array(webSocket == nil ? [.string("websocket")] : []),
            "pingInterval": .number(Double(configuration.pingInterval.milliseconds)),
            "pingTimeout": .number(Double(configuration.pingTimeout.milliseconds)),
            "maxPayload": .number(Double(configuration.maxPayload)),
        ])
        return (session, .open(open.serialized))
    }

    /// The open session with that id; a closed one is gone for clients even before its task ends.
    private func session(_ sid: String?) -> EngineSession? {
        guard let sid, let session = sessions.withLock({ $0[sid] }), !session.isClosed else { return nil }
        return session
    }

    /// A session ended: it is forgotten and its sockets leave.
    private func closed(_ session: EngineSession) {
        sessions.withLock { _ = $0.removeValue(forKey: session.sid) }
        guard let connection = session.connection else { return }
        leaving.add(1, ordering: .acquiringAndReleasing)
        Task {
            await connection.closeAll(reason: session.closeReason)
            // The session and its connection hold each other.
            session.connection = nil
            leaving.subtract(1, ordering: .acquiringAndReleasing)
        }
    }

    /// A packet from the client, on whichever transport it came. Messages wait while the
    /// session's application work is at `concurrentEventsPerConnection`.
    func receive(_ packet: EnginePacket, in session: EngineSession) {
        guard !session.isClosed else { return }
        switch packet {
        case .message, .binary:
            guard session.admit(packet, limit: configuration.concurrentEventsPerConnection) else { return }
        default:
            break
        }
        handle(packet, in: session)
    }

    private func handle(_ packet: EnginePacket, in session: EngineSession) {
        let outcome: SocketIOConnection.Outcome
        switch (layer, packet, session.connection) {
        case (.engineEcho, .message, _), (.engineEcho, .binary, _): session.send([packet]); outcome = .none
        case (_, .message(let text), let connection?): outcome = connection.receive(text: text)
        case (_, .binary(let bytes), let connection?): outcome = connection.receive(binary: bytes)
        case (_, .message, nil), (_, .binary, nil): outcome = .none
        case (_, .ping(let data), _): session.send([.pong(data)]); outcome = .none
        case (_, .pong, _): session.ponged(); outcome = .none
        case (_, .close, _): session.close(reason: "transport close"); outcome = .none
        case (_, .noop, _), (_, .upgrade, _): outcome = .none
        case (_, .open, _): outcome = .violation("clients do not send open")
        }
        switch outcome {
        case .none:
            break
        case .violation(let why):
            logger.debug("closing session after a protocol violation", metadata: ["sid": "\(session.sid)", "why": "\(why)"])
            session.close(reason: "parse error")
        case .run(let work):
            session.run(limit: configuration.concurrentEventsPerConnection, work) { self.handle($0, in: session) }
        case .runAlone(let work):
            session.run(limit: configuration.concurrentEventsPerConnection, alone: true, work) { self.handle($0, in: session) }
        case .start(let begin, let work):
            session.start(limit: configuration.concurrentEventsPerConnection, begin, orRun: work) { self.handle($0, in: session) }
        }
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
        // HEAD too: a router that answers HEAD with its GET routes would otherwise open a
        // session, or take a poller's packets, for nobody to read.
        for method in [HTTPRequest.Method.head, .put, .delete, .patch] {
            router.on(path, method: method) { request, _ in self.withCORS(Self.protocolError(2, "Bad handshake method"), request: request) }
        }
    }

    private static func remoteAddress(of context: some RequestContext) -> String? {
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
            let packets = try await session.poll(maxBytes: configuration.maxPayload)
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
        for packet in packets { receive(packet, in: session) }
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
        } else if let origin, configuration.allowsOrigin(origin) {
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

    /// Whether this server takes the WebSocket upgrade of `head`: its path, Engine.IO 4, and a
    /// new session or a polling session to upgrade.
    func acceptsWebSocket(_ head: HTTPRequestHead) -> Bool {
        let uri = URI(head.uri)
        guard uri.path == configuration.path else { return false }
        let query = uri.queryParameters
        guard query.get("EIO") == "4", query.get("transport") == "websocket" else { return false }
        if let sid = query.get("sid") {
            guard let session = session(sid), session.transport == .polling else { return false }
        }
        return true
    }

    /// The handler of an upgraded connection: a new session, or the polling session it upgrades.
    func webSocketHandler(channel: any Channel, head: HTTPRequestHead) throws -> EngineWebSocketHandler? {
        let uri = URI(head.uri)
        let query = uri.queryParameters
        let limit = configuration.sendBuffer
        // Fails only for a channel already closed, which the handler then finds closed too.
        try? channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: limit / 2, high: limit))
        let link = try WebSocketLink(channel: channel, closeTimeout: configuration.webSocketCloseTimeout)
        if let sid = query.get("sid") {
            guard let session = session(sid) else { return nil }
            return EngineWebSocketHandler(server: self, link: link, session: session, upgrading: true, maxMessage: configuration.maxPayload)
        }
        let headers = (try? HTTPRequest(head, secure: false, splitCookie: false))?.headerFields ?? [:]
        let handshake = Handshake(
            headers: headers, query: Self.queryDictionary(query), transport: "websocket", remoteAddress: channel.remoteAddress?.ipAddress)
        let (session, open) = open(handshake: handshake, webSocket: link)
        session.send([open])
        return EngineWebSocketHandler(server: self, link: link, session: session, upgrading: false, maxMessage: configuration.maxPayload)
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
