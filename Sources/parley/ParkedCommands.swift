import ArgumentParser
import Foundation
import ParleyCore
import ParleyQueue

struct ParkedGroup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "parked",
        abstract: "Inspect and replay the commands parked in parley.parked.",
        subcommands: [ParkedList.self, ParkedReplay.self])
}

struct ParkedList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Print every parked command (id, type, when, from which queue, why); they stay parked.")

    @Flag(help: "Print each parked record as a JSON line instead.")
    var json = false

    func run() async throws {
        let runtime = Runtime.start(label: "parked")
        let entries = await ParkedQueue(endpoint: runtime.amqpEndpoint(), logger: runtime.logger).list()
        for entry in entries {
            if json {
                print(String(decoding: try JSON.encode(entry.record), as: UTF8.self))
            } else {
                let when = entry.record.parkedAt.timeIntervalSince1970 == 0 ? "-" : entry.record.parkedAt.formatted(.iso8601)
                print("\(entry.commandId?.uuidString.lowercased() ?? "-")  \(entry.type ?? "?")  \(when)  \(entry.record.queue)  \(entry.record.reason)")
            }
        }
        if !json { print("\(entries.count) parked") }
    }
}

struct ParkedReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Publish parked commands again under their routing keys, and remove them from parley.parked.",
        discussion: "Commands are idempotent: replaying one that was applied in the meantime changes nothing.")

    @Option(help: "Only the command with this id (default: all).")
    var id: String?

    func run() async throws {
        let runtime = Runtime.start(label: "parked")
        let only = try id.map { raw in
            guard let id = UUID(text: raw) else { throw ValidationError("--id must be a command id (a UUID)") }
            return id
        }
        let publisher = runtime.publisher
        publisher.start()
        defer { publisher.stop() }
        guard await publisher.waitUntilConnected() else { throw ValidationError("RabbitMQ is not reachable at \(runtime.config.amqpURL)") }
        let count = try await ParkedQueue(endpoint: runtime.amqpEndpoint(), logger: runtime.logger).replay(only, through: publisher)
        print("\(count) replayed")
    }
}
