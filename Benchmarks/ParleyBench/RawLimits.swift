import ArgumentParser
import Foundation
import Logging
import ParleyCore
import ParleyLoadTest
import ParleyPubSub
import ParleyQueue
import ParleyStore
import PostgresNIO

/// The raw rates of the servers on this machine, through the same clients Parley uses, so that
/// the pipeline's own rate reads as a share of what the parts can do.
struct RawLimits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw-limits",
        abstract: "RabbitMQ confirmed publishes/s, PostgreSQL inserts/s, Redis PUBLISHes/s, through Parley's clients.")

    @Option(help: "Messages per measurement.")
    var count = 20_000

    @Option(help: "Bytes per message (a message.create command is about 300).")
    var size = 300

    func run() async throws {
        try await BenchServices.with { services in
            let body = [UInt8](repeating: UInt8(ascii: "x"), count: size)
            print("raw limits, \(count) messages of \(size) bytes:")

            // RabbitMQ: confirmed, persistent publishes into a quorum queue of its own, 512 in flight.
            let id = UUID().uuidString.prefix(8).lowercased()
            let topology = Topology(exchange: "bench.\(id)", queues: [.init(name: "bench.\(id)", bindings: ["#"])])
            let publisher = QueuePublisher(endpoint: AMQPEndpoint(url: services.config.amqpURL), topology: topology, logger: services.logger)
            publisher.start()
            defer { publisher.stop() }
            guard await publisher.waitUntilConnected() else { throw ValidationError("RabbitMQ is not reachable") }
            let rabbit = try await rate(count) {
                _ = try await concurrently(count, width: 512) { _ in try await publisher.publish(body, routingKey: "bench") }
            }
            try? await QueueAdmin.delete(queues: ["bench.\(id)"], endpoint: AMQPEndpoint(url: services.config.amqpURL))
            print(String(format: "  RabbitMQ confirmed publishes (quorum queue, 512 in flight)   %9.0f /s", rabbit))

            // PostgreSQL: one-row INSERTs 16 at once, then 64-row INSERT ... SELECT FROM unnest.
            let client = services.database.client
            let logger = services.logger
            try await client.query("CREATE TABLE IF NOT EXISTS bench_inserts (id uuid PRIMARY KEY, chat_id uuid NOT NULL, body text NOT NULL)", logger: logger)
            let text = String(repeating: "x", count: size)
            let single = try await rate(count) {
                _ = try await concurrently(count, width: 16) { _ in
                    try await client.query("INSERT INTO bench_inserts (id, chat_id, body) VALUES (\(UUIDv7.make()), \(UUID()), \(text))", logger: logger)
                }
            }
            print(String(format: "  PostgreSQL one-row INSERTs (16 connections)                  %9.0f /s", single))
            let batched = try await rate(count) {
                _ = try await concurrently(count / 64, width: 4) { _ in
                    let ids = (0..<64).map { _ in UUIDv7.make() }
                    try await client.query(
                        "INSERT INTO bench_inserts (id, chat_id, body) SELECT * FROM unnest(\(ids), \(ids.map { _ in UUID() }), \(ids.map { _ in text }))",
                        logger: logger)
                }
            }
            print(String(format: "  PostgreSQL rows in 64-row INSERTs (4 connections)            %9.0f /s", batched))
            try await client.query("DROP TABLE bench_inserts", logger: logger)

            // Redis: PUBLISH to channels nobody listens to, pipelined in batches of 1,000, and one
            // round trip each with 64 in flight.
            let redis = services.redis
            let channels = (0..<1000).map { _ in Channels.user(UUIDv7.make()) }
            let pipelined = try await rate(count) {
                for start in stride(from: 0, to: count, by: 1000) {
                    var batch = PublishBatch()
                    for i in start..<min(count, start + 1000) { batch.add(body, to: channels[i % 1000]) }
                    try await redis.publish(batch)
                }
            }
            print(String(format: "  Redis PUBLISHes, pipelined 1,000 at a time                   %9.0f /s", pipelined))
            let oneByOne = try await rate(count) {
                _ = try await concurrently(count, width: 64) { i in _ = try await redis.publish(body, to: channels[i % 1000]) }
            }
            print(String(format: "  Redis PUBLISHes, 64 in flight, one command each              %9.0f /s", oneByOne))
        }
    }

    private func rate(_ count: Int, _ body: () async throws -> Void) async throws -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
