import ArgumentParser
import Foundation
import Logging
import SocketIO
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

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
        let tokens = try await signup(users)
        let before = try residentKiB(pid)
        let open = Counter()
        let failed = Counter()
        let release = Gate()
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                // Enough at a time to be quick, few enough not to swamp the accept queue.
                while open.value + failed.value < i - 200 { try await Task.sleep(for: .milliseconds(5)) }
                let token = tokens[i % tokens.count]
                group.addTask { [logger, url] in
                    do {
                        try await SocketIOClient.connect(to: url, auth: .object(["token": .string(token)]), logger: logger) { _ in
                            open.add(1)
                            await release.wait()
                        }
                    } catch {
                        failed.add(1)
                    }
                }
            }
            while open.value + failed.value < count { try await Task.sleep(for: .milliseconds(50)) }
            let opened = ContinuousClock.now - start
            print("\(open.value) connections open in \(opened), \(failed.value) failed; holding \(hold) s")
            try await Task.sleep(for: .seconds(hold))
            let after = try residentKiB(pid)
            let perConnection = Double(after - before) / Double(max(1, open.value))
            print("gateway resident memory: \(before / 1024) MiB before, \(after / 1024) MiB with \(open.value) connections")
            print(String(format: "%.1f KiB per connection; %d still open after %d s", perConnection, open.value, hold))
            release.open()
            try await group.waitForAll()
        }
    }

    private func signup(_ n: Int) async throws -> [String] {
        var tokens: [String] = []
        for _ in 0..<n {
            var request = URLRequest(url: URL(string: url + "/api/auth/signup")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: [
                "firstName": "Idle", "lastName": "Socket", "email": "idle-\(UUID().uuidString.prefix(12).lowercased())@load.parley.dev",
                "password": "idle-socket-password",
            ])
            let (data, _) = try await URLSession.shared.data(for: request)
            guard let token = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String else {
                throw ValidationError("signup failed: \(String(decoding: data, as: UTF8.self))")
            }
            tokens.append(token)
        }
        return tokens
    }

    private func residentKiB(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        else { throw ValidationError("no VmRSS for process \(pid)") }
        return kib
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add(_ n: Int) { count.withLock { $0 += n } }
}

/// Holds every connection's body until the measurement is done.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { continuation in
            let open = state.withLock { s -> Bool in
                if !s.open { s.waiting.append(continuation) }
                return s.open
            }
            if open { continuation.resume() }
        }
    }

    func open() {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiting.removeAll() }
            return s.waiting
        }
        for continuation in waiting { continuation.resume() }
    }
}
