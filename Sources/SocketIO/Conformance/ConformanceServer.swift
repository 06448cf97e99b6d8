import Hummingbird
import Logging

/// The server the official Engine.IO and Socket.IO protocol test suites talk to: `/engine.io/`
/// echoes every message; `/socket.io/` accepts `/` and `/custom`, emits `auth` with the CONNECT
/// payload, answers `message` with `message-back` and `message-with-ack` through the ack.
/// pingInterval 300 ms, pingTimeout 200 ms, maxPayload 1,000,000, CORS `*`, connect timeout 1 s.
public enum ConformanceServer {
    public static var configuration: SocketIOConfiguration {
        var configuration = SocketIOConfiguration()
        configuration.pingInterval = .milliseconds(300)
        configuration.pingTimeout = .milliseconds(200)
        configuration.maxPayload = 1_000_000
        configuration.connectTimeout = .seconds(1)
        configuration.corsOrigins = ["*"]
        return configuration
    }

    struct Handler: SocketIOHandler {
        func connect(_ socket: SocketIOSocket, auth: JSONValue?) async -> ConnectDecision {
            .accept(userData: 0)
        }

        func connected(_ socket: SocketIOSocket, auth: JSONValue?) async {
            socket.emit("auth", auth ?? .object([:]))
        }

        func event(_ socket: SocketIOSocket, name: String, arguments: [JSONValue], ack: Ack?) async {
            switch name {
            case "message": socket.emit("message-back", arguments)
            case "message-with-ack": ack?.send(arguments)
            default: break
            }
        }

        func disconnected(_ socket: SocketIOSocket, reason: String) async {}
    }

    /// The conformance application on `host:port`.
    /// - Parameter configuration: the conformance suites' timings unless a test needs others.
    public static func application(
        host: String = "127.0.0.1", port: Int, configuration: SocketIOConfiguration = configuration, logger: Logger
    ) -> some ApplicationProtocol {
        var engineConfiguration = configuration
        engineConfiguration.path = "/engine.io/"
        let engine = SocketIOServer.engineEcho(configuration: engineConfiguration, logger: logger)
        let socketIO = SocketIOServer(configuration: configuration, namespaces: ["/", "/custom"], handler: Handler(), logger: logger)
        let router = Router()
        for server in [engine, socketIO] {
            server.addPollingRoutes(to: router)
        }
        return Application(
            router: router, server: .socketIO([engine, socketIO]),
            configuration: .init(address: .hostname(host, port: port), serverName: "parley-conformance"),
            services: [engine, socketIO], logger: logger)
    }
}
