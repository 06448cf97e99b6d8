import ArgumentParser
import Hummingbird
import Logging
import Maintenance
import SocketIO

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway and every worker in one process (a single machine).",
        discussion: "Applies pending migrations first. Listens on HOST:PORT.")

    func run() async throws {
        let runtime = Runtime.start(label: "serve")
        try await runtime.migrate()
        try await runtime.run(
            [runtime.messageWorker(), runtime.presenceWorker(), runtime.mediaWorker(), runtime.maintenance()] + runtime.gatewayServices())
    }
}

struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Run one gateway node: HTTP API and real-time connections.",
        discussion: "Needs the schema in place (parley migrate). Scale out by running more nodes with distinct NODE_ID and PORT.")

    func run() async throws {
        let runtime = Runtime.start(label: "gateway")
        try await runtime.run(runtime.gatewayServices())
    }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run one worker.",
        subcommands: [MessageWorkerCommand.self, PresenceWorkerCommand.self, MediaWorkerCommand.self, MaintenanceWorkerCommand.self])
}

struct MessageWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "message",
        abstract: "Apply chat and message commands from the parley.messages queue.",
        discussion: "Run as many as you like: commands are idempotent and each is handled by one worker at a time.")

    func run() async throws {
        let runtime = Runtime.start(label: "worker.message", hotStatements: true)
        try await runtime.run([runtime.messageWorker()] + runtime.workerMetrics())
    }
}

struct PresenceWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "presence",
        abstract: "Apply connect, disconnect and heartbeat events from the parley.presence queue; reap dead gateway nodes.",
        discussion: "Run as many as you like: transitions are computed atomically in Redis.")

    func run() async throws {
        let runtime = Runtime.start(label: "worker.presence")
        try await runtime.run([runtime.presenceWorker()] + runtime.workerMetrics())
    }
}

struct MediaWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "media",
        abstract: "Check, store and thumbnail staged uploads from the parley.media queue.",
        discussion: "Needs UPLOAD_PATH shared with the gateways. libvips runs on a pool sized to the cores; run one per machine.")

    func run() async throws {
        let runtime = Runtime.start(label: "worker.media")
        try await runtime.run([runtime.mediaWorker()] + runtime.workerMetrics())
    }
}

struct MaintenanceWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "maintenance",
        abstract: "Run the scheduled clean-up of uploads every 10 minutes.",
        discussion: "Removes staged files older than an hour and stored files no message shows any more (see parley cleanup).")

    func run() async throws {
        let runtime = Runtime.start(label: "worker.maintenance")
        try await runtime.run([runtime.maintenance()] + runtime.workerMetrics())
    }
}

struct Cleanup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove unused upload bytes once and exit.",
        discussion: """
            Removes staged uploads older than an hour that never became a message, and stored files \
            no live message shows any more (their files answer 410 already). Safe while uploads are \
            under way, and to run again.
            """)

    func run() async throws {
        let runtime = Runtime.start(label: "cleanup")
        let report = try await runtime.once { try await runtime.uploadCleanup(on: $0).runOnce() }
        print(report)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending PostgreSQL migrations and exit.")

    func run() async throws {
        try await Runtime.start(label: "migrate").migrate()
    }
}

struct SocketIOConformance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socketio-conformance",
        abstract: "Run the bare server the official Engine.IO and Socket.IO protocol test suites expect.",
        discussion: "/engine.io/ echoes every message; /socket.io/ serves / and /custom. No database or queue is used.")

    @Option(help: "Port to listen on.")
    var port: Int = 3000

    @Option(help: "Address to bind.")
    var host: String = "127.0.0.1"

    func run() async throws {
        var logger = Logger(label: "parley.conformance")
        logger.logLevel = .info
        try await ConformanceServer.application(host: host, port: port, logger: logger).runService()
    }
}
