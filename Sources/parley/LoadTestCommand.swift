import ArgumentParser
import Foundation
import ParleyCore
import ParleyLoadTest

struct LoadTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadtest",
        abstract: "Drive chat traffic through running gateways and measure it.",
        discussion: """
            Signs users up (or reuses those saved in --state), puts them in chats of --chat-size, \
            connects each over Socket.IO and sends at --rate for --duration. Measures send→ack and \
            send→delivery latency (HdrHistogram), deliveries/s, missing deliveries, errors by kind \
            and its own CPU; prints progress each second and a table at the end, and writes the \
            figures as JSON and a latency chart as SVG.
            """)

    @Option(name: .customLong("url"), help: "A gateway's base URL; repeat for several (users are spread over them).")
    var urls: [String] = ["http://127.0.0.1:3000"]

    @Option(help: "Users, each with one socket.")
    var users = 100

    @Option(help: "Members per chat (2: 1:1 chats).")
    var chatSize = 10

    @Option(help: "Messages per second, in all.")
    var rate = 100.0

    @Option(help: "Seconds of sending.")
    var duration = 30.0

    @Option(help: "Seconds over which the rate climbs to --rate.")
    var rampUp = 5.0

    @Option(help: "Characters per message.")
    var messageSize = 100

    @Option(help: "Share of messages (0 to 1) sent as image uploads (64×64 PNGs) instead of socket text.")
    var uploadShare = 0.0

    @Option(help: "Seconds to wait, once every send is answered, for deliveries still on their way (longer tells late from lost in runs past capacity).")
    var drain = 5.0

    @Option(help: "Event-loop threads of the generator's sockets (0: one per core). Sharing the machine with what it measures, 1 costs it less CPU per delivery.")
    var eventLoops = 0

    @Option(help: "Where signed-up users are kept for the next runs.")
    var state = ".run/loadtest/users.json"

    @Option(help: "The JSON report.")
    var json = ".run/loadtest/report.json"

    @Option(help: "The latency chart.")
    var svg = ".run/loadtest/latency.svg"

    func validate() throws {
        let problems = plan.problems + (ParleyConfig.eventLoopThreadsRange.contains(eventLoops) ? [] : ["--event-loops must be in \(ParleyConfig.eventLoopThreadsRange)"])
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "; ")) }
    }

    var plan: LoadTestPlan {
        LoadTestPlan(
            urls: urls.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }, users: users, chatSize: chatSize, rate: rate,
            duration: duration, rampUp: rampUp, messageSize: messageSize, uploadShare: uploadShare, drain: drain)
    }

    func run() async throws {
        HeapSettings.keepFreedMemory()
        Runtime.useEventLoopThreads(eventLoops)
        let log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let report = try await LoadTest(plan: plan, statePath: state, log: log).run()
        print(report.table)
        for path in [json, svg] {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        try LatencyChart.svg(report).write(toFile: svg, atomically: true, encoding: .utf8)
        print("report: \(json)\nchart: \(svg)")
    }
}
