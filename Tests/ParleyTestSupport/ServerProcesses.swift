import Foundation

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
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            // After "pid (name) state ppid".
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent
        }
    }

    private static func processes() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }
}
