import ArgumentParser
import Foundation
import Logging
import ParleyLoadTest
import SocketIO

/// How many idle Socket.IO connections one gateway holds, and the memory each costs it: the
/// gateway's resident memory before and after opening them, read from /proc.
struct IdleSockets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle-sockets",
        abstract: "Open N authenticated Socket.IO connections to one gateway, hold them, and report its memory per connection.")

    @Option(help: "The gateway's base URL.")
    var url = "http://127.0.0.1:3100"

    @Option(help: "The gateway's process id (its memory is read from /proc/PID/status).")
    var pid: Int32

    @Option(help: "Connections to open.")
    var count = 10_000

    @Option(help: "Users they belong to (each user's sockets are like tabs).")
    var users = 100

    @Option(help: "Seconds to hold them once open (Engine.IO pings keep them alive).")
    var hold = 30

    func run() async throws {
        var logger = Logger(label: "parley.bench.idle")
        logger.logLevel = .critical
        let tokens = try await loadTestUserTokens(users, at: url, statePath: ".run/bench/idle-users.json")
        let before = try residentKiB(pid)
        let open = Locked(0)
        let failed = Locked(0)
        let release = StopSignal()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                // Enough at a time to be quick, few enough not to swamp the accept queue.
                while opened(open, failed) < i - 200 { try await Task.sleep(for: .milliseconds(5)) }
                let token = tokens[i % tokens.count]
                group.addTask { [logger, url] in
                    do {
                        try await SocketIOClient.connect(to: url, auth: .object(["token": .string(token)]), logger: logger) { _ in
                            open.withLock { $0 += 1 }
                            await release.wait()
                        }
                    } catch {
                        failed.withLock { $0 += 1 }
                    }
                }
            }
            while opened(open, failed) < count { try await Task.sleep(for: .milliseconds(50)) }
            let opened = ContinuousClock.now - start
            print("\(open.withLock { $0 }) connections open in \(opened), \(failed.withLock { $0 }) failed; holding \(hold) s")
            try await Task.sleep(for: .seconds(hold))
            let after = try residentKiB(pid)
            let perConnection = Double(after - before) / Double(max(1, open.withLock { $0 }))
            print("gateway resident memory: \(before / 1024) MiB before, \(after / 1024) MiB with \(open.withLock { $0 }) connections")
            print(String(format: "%.1f KiB per connection; %d still open after %d s", perConnection, open.withLock { $0 }, hold))
            release.fire()
            try await group.waitForAll()
        }
    }

    private func opened(_ open: Locked<Int>, _ failed: Locked<Int>) -> Int {
        open.withLock { $0 } + failed.withLock { $0 }
    }

    private func residentKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        else { throw ValidationError("no VmRSS for process \(pid)") }
        return kib
    }
}

