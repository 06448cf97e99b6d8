import Foundation

/// Every setting Parley reads, parsed and validated once at start.
///
/// Values come from the process environment; what it does not set comes from the defaults file
/// (`config/parley.env`). A missing or malformed value stops start-up with a ``ConfigError``
/// that names the setting.
public struct ParleyConfig: Sendable {
    public var port: Int
    public var host: String
    public var environment: String
    public var databaseURL: ServiceURL
    public var redisURL: ServiceURL
    public var amqpURL: ServiceURL
    /// Empty when not configured; see ``requireJWTSecret()``.
    public var jwtSecret: String
    public var jwtExpiry: Duration
    public var bcryptCost: Int
    public var uploadPath: String
    public var maxFileSize: Int
    public var allowedFileTypes: [String]
    public var fileURLExpiry: Duration
    /// Largest image (width × height × frames) the media worker decodes; larger ones are refused
    /// from their header, before any pixel is decoded.
    public var maxImagePixels: Int
    public var socketAuthTimeout: Duration
    /// Bytes a gateway holds for a socket that reads too slowly (beyond the kernel's buffers for
    /// a WebSocket) before it drops it.
    public var socketSendBuffer: Int
    /// Origins allowed to use Socket.IO long-polling from a browser (`*` for any).
    public var corsOrigins: [String]
    public var nodeID: String
    public var logLevel: String
    /// How long the gateway waits for a worker's reply before it answers 503.
    public var replyTimeout: Duration
    /// How many unacknowledged RabbitMQ messages (a command, or a batch of them) a worker holds at once.
    public var workerPrefetch: Int
    /// How long a gateway node counts as alive after its last heartbeat; its connections are
    /// reaped (their users go offline) within twice this after it stops.
    public var presenceTTL: Duration
    /// Where a worker process started on its own serves `/metrics` (0: nowhere; gateways serve
    /// it on `PORT`).
    public var workerMetricsPort: Int
    /// Threads of the process's shared event loops (sockets, HTTP, PostgreSQL); 0: one per core.
    public var eventLoopThreads: Int
    /// What `EVENT_LOOP_THREADS` (and `parley loadtest --event-loops`) may be.
    public static let eventLoopThreadsRange = 0...1024

    public var isDevelopment: Bool { environment == "development" }

    /// Where uploads are staged and stored.
    public var uploads: UploadStorage { UploadStorage(root: uploadPath) }

    /// Reads the configuration from an environment and a defaults file.
    /// - Parameters:
    ///   - environment: the process environment (overrides the file).
    ///   - defaultsFile: a `KEY=VALUE` file; `nil` looks for `PARLEY_CONFIG` or `config/parley.env`.
    public static func load(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        defaultsFile: String? = nil
    ) throws(ConfigError) -> ParleyConfig {
        let path = defaultsFile ?? environment["PARLEY_CONFIG"] ?? "config/parley.env"
        var values: [String: String] = [:]
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            values = EnvFile.parse(text)
        } else if defaultsFile != nil || environment["PARLEY_CONFIG"] != nil {
            throw ConfigError(key: "PARLEY_CONFIG", problem: "cannot read defaults file '\(path)'")
        }
        values.merge(environment) { _, fromEnvironment in fromEnvironment }
        return try ParleyConfig(values: Settings(values: values))
    }

    init(values s: Settings) throws(ConfigError) {
        port = try s.int("PORT", in: 1...65535)
        host = try s.string("HOST")
        let env = try s.string("PARLEY_ENV", allowEmpty: true)
        environment = env.isEmpty ? "production" : env
        databaseURL = try s.url("DATABASE_URL", schemes: ["postgres", "postgresql"])
        redisURL = try s.url("REDIS_URL", schemes: ["redis"])
        amqpURL = try s.url("AMQP_URL", schemes: ["amqp"])
        jwtSecret = try s.string("JWT_SECRET", allowEmpty: true)
        jwtExpiry = try s.duration("JWT_EXPIRY")
        bcryptCost = try s.int("BCRYPT_COST", in: 4...31)
        uploadPath = try s.string("UPLOAD_PATH")
        maxFileSize = try s.int("MAX_FILE_SIZE", in: 1...Int(Int32.max))
        allowedFileTypes = try s.list("ALLOWED_FILE_TYPES")
        fileURLExpiry = try s.duration("FILE_URL_EXPIRY")
        maxImagePixels = try s.int("MAX_IMAGE_PIXELS", in: 1...1_000_000_000)
        socketAuthTimeout = .milliseconds(try s.int("SOCKET_AUTH_TIMEOUT", in: 1...3_600_000))
        socketSendBuffer = try s.int("SOCKET_SEND_BUFFER", in: 16_384...1_073_741_824)
        corsOrigins = try s.string("CORS_ORIGINS", allowEmpty: true).split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let node = try s.string("NODE_ID", allowEmpty: true)
        nodeID = node.isEmpty ? Self.generatedNodeID() : node
        logLevel = try s.oneOf("LOG_LEVEL", ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        replyTimeout = .milliseconds(try s.int("REPLY_TIMEOUT", in: 100...600_000))
        workerPrefetch = try s.int("WORKER_PREFETCH", in: 1...65535)
        presenceTTL = .seconds(try s.int("PRESENCE_TTL", in: 2...3600))
        workerMetricsPort = try s.int("WORKER_METRICS_PORT", in: 0...65535)
        eventLoopThreads = try s.int("EVENT_LOOP_THREADS", in: Self.eventLoopThreadsRange)
    }

    /// The JWT secret, or a random one in development.
    ///
    /// - Returns: the secret and whether it was generated.
    /// - Throws: ``ConfigError`` when `JWT_SECRET` is unset outside development.
    public func requireJWTSecret() throws(ConfigError) -> (secret: String, generated: Bool) {
        if !jwtSecret.isEmpty {
            // HS256 wants a key at least as long as its 32-byte output.
            guard jwtSecret.utf8.count >= 32 else {
                throw ConfigError(key: "JWT_SECRET", problem: "must be at least 32 bytes long")
            }
            return (jwtSecret, false)
        }
        guard isDevelopment else {
            throw ConfigError(key: "JWT_SECRET", problem: "is required (or set PARLEY_ENV=development to use a random one)")
        }
        let random = (0..<4).map { _ in UUID().uuidString }.joined()
        return (random, true)
    }

    private static func generatedNodeID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "node"
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())"
    }
}

/// A setting that is missing or malformed; its description is the one line printed at start.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let key: String
    public let problem: String

    public init(key: String, problem: String) {
        self.key = key
        self.problem = problem
    }

    public var description: String { "configuration error: \(key) \(problem)" }
}
