import Foundation
import Synchronization
import XCTest

/// The processes of a local server, found by the port it listens on (whichever checkout
/// started it), for tests that stop a server to see what a stalled one does.
public enum ServerProcesses {
    /// The process listening on TCP `port` (IPv4), through `/proc/net/tcp` and the processes'
    /// descriptors; nil when nothing listens there or its descriptors cannot be read.
    public static func listening(on port: Int) -> pid_t? {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return nil }
        let portHex = String(format: ":%04X", port)
        // Columns: sl local_address rem_address st ... inode (the tenth); 0A is LISTEN.
        var inode: String?
        for line in table.split(separator: "\n").dropFirst() {
            let columns = line.split(separator: " ")
            if columns.count > 9, columns[1].hasSuffix(portHex), columns[3] == "0A" {
                inode = String(columns[9])
                break
            }
        }
        guard let inode else { return nil }
        let target = "socket:[\(inode)]"
        for pid in processes() {
            let folder = "/proc/\(pid)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            where (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(fd)")) == target {
                return pid
            }
        }
        return nil
    }

    /// The children of `parent`.
    public static func children(of parent: pid_t) -> [pid_t] {
        processes().filter { pid in
            let fields = statFields("/proc/\(pid)/stat")
            return fields.count > 1 && pid_t(fields[1]) == parent
        }
    }

    /// Whether every thread of `pid` has stopped. `kill` only queues a signal: a thread busy on
    /// another core may run on (and answer) for a moment after SIGSTOP was sent.
    public static func isStopped(_ pid: pid_t) -> Bool {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return !tasks.isEmpty && tasks.allSatisfy { task in
            // "T": stopped by a signal; "t": stopped under a tracer.
            let state = statFields("/proc/\(pid)/task/\(task)/stat").first
            return state == "T" || state == "t"
        }
    }

    /// The fields of a `stat` file after "pid (name)", whose name may hold spaces and parentheses:
    /// state, ppid, ...
    private static func statFields(_ path: String) -> [Substring] {
        guard let stat = try? String(contentsOfFile: path, encoding: .utf8), let close = stat.lastIndex(of: ")") else { return [] }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    private static func processes() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }
}

/// A local server stopped with SIGSTOP until ``resume()``: it keeps its connections open and
/// answers nothing, like a server that hangs or a network that drops packets.
public final class StoppedServer: Sendable {
    private let pids: Mutex<[pid_t]>

    /// Stops the process listening on `port` and, with `children`, the processes it forked
    /// (PostgreSQL's backends), and returns once every thread of them has stopped, so that
    /// nothing sent after it is answered. Call ``resume()`` in a `defer`: the tests after this
    /// one need the server.
    public init(listeningOn port: Int, name: String, children: Bool = false) throws {
        let parent = try XCTUnwrap(ServerProcesses.listening(on: port), "nothing found listening on \(name)'s port \(port)")
        // The parent first, so that it forks nothing new while its children are found.
        kill(parent, SIGSTOP)
        let forked = children ? ServerProcesses.children(of: parent) : []
        for pid in forked { kill(pid, SIGSTOP) }
        pids = Mutex([parent] + forked)
        let deadline = ContinuousClock.now + .seconds(5)
        while !([parent] + forked).allSatisfy(ServerProcesses.isStopped) {
            guard ContinuousClock.now < deadline else {
                resume()
                throw StopFailed(name: name)
            }
            usleep(1_000)
        }
    }

    struct StopFailed: Error, CustomStringConvertible {
        let name: String
        var description: String { "\(name) did not stop within 5 s of SIGSTOP" }
    }

    /// Lets the server run again; calls after the first do nothing.
    public func resume() {
        let stopped = pids.withLock { pids in
            defer { pids = [] }
            return pids
        }
        for pid in stopped { kill(pid, SIGCONT) }
    }
}
