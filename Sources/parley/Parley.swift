import ArgumentParser

@main
struct Parley: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parley",
        abstract: "Parley chat backend: REST + Socket.IO gateway, RabbitMQ workers, PostgreSQL, Redis.",
        discussion: "Every setting comes from the environment, with defaults from config/parley.env (see README).",
        subcommands: [Serve.self, GatewayCommand.self, WorkerCommand.self, Migrate.self, Cleanup.self, LoadTestCommand.self, ParkedGroup.self, SocketIOConformance.self]
    )
}
