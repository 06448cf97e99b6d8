import ArgumentParser
import Foundation
import ParleyCore
import ParleyQueue

/// RabbitMQ's CPU per command at a steady rate, as the pipeline uses it: each command published
/// with a confirm from its own task, consumed and acknowledged; `--per-message` commands share
/// one AMQP message.
struct QueueCost: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue-cost",
        abstract: "RabbitMQ CPU per command at a paced rate (confirmed publish, consume, ack).")

    @Option(help: "Commands per second.")
    var rate = 2000

    @Option(help: "Seconds.")
    var duration = 10

    @Option(help: "Commands per AMQP message.")
    var perMessage = 1

    @Option(help: "Bytes per command.")
    var size = 300

    @Option(help: "The broker's pid (beam.smp).")
    var pid: Int32

    func run() async throws {
        try await BenchServices.with { services in
            let id = UUID().uuidString.prefix(8).lowercased()
            let endpoint = AMQPEndpoint(url: services.config.amqpURL)
            let topology = Topology(exchange: "bench.\(id)", queues: [.init(name: "bench.\(id)", bindings: ["#"])])
            let publisher = QueuePublisher(endpoint: endpoint, topology: topology, logger: services.logger)
            publisher.start()
            defer { publisher.stop() }
            guard await publisher.waitUntilConnected() else { throw ValidationError("RabbitMQ is not reachable") }
            let consumer = QueueConsumer(endpoint: endpoint, topology: topology, queue: "bench.\(id)", prefetch: 256, logger: services.logger)
            let consuming = Task { await consumer.runBatches(maxBatch: 64, concurrency: 1) { batch in for d in batch { consumer.ack(d) } } }
            let body = [UInt8](repeating: UInt8(ascii: "x"), count: size * perMessage)
            let messages = rate * duration / perMessage
            let interval = Duration.seconds(1) / (rate / perMessage)
            let before = cpuTicks(pid)
            let start = ContinuousClock.now
            try await withThrowingDiscardingTaskGroup { group in
                for i in 0..<messages {
                    try await Task.sleep(until: start + interval * i)
                    group.addTask { try await publisher.publish(body, routingKey: "bench") }
                }
            }
            try await Task.sleep(for: .milliseconds(500))
            let ticks = cpuTicks(pid) - before
            consumer.stop()
            consuming.cancel()
            try? await QueueAdmin.delete(queues: ["bench.\(id)"], endpoint: endpoint)
            let seconds = Double(ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
            print(String(format: "%d commands/s, %d per message: broker CPU %.0f%%, %.0f µs per command",
                         rate, perMessage, seconds / Double(duration) * 100, seconds / Double(rate * duration) * 1e6))
        }
    }

    private func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}
