import Foundation
import XCTest

extension TestServices {
    /// The virtualenv's Python with the stock Socket.IO client, which `make test` installs.
    public static func python() throws -> URL {
        let python = root.appendingPathComponent(".run/venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw ClientMissing()
        }
        return python
    }

    /// The stock-client scenario script.
    public static var socketIOScenario: String { root.appendingPathComponent("Tests/clients/socketio_scenario.py").path }
}

/// Raised when the stock client's virtualenv is not there.
public struct ClientMissing: Error, CustomStringConvertible {
    public var description: String { "python-socketio is not installed in .run/venv: run `make test` (it installs it)" }
}

/// Runs a process to its end without blocking a thread of the cooperative pool; returns its exit
/// status and everything it printed.
public func runProcess(_ executable: URL, _ arguments: [String]) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let output = OutputCollector()
    pipe.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
    let status: Int32 = try await withCheckedThrowingContinuation { continuation in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do { try process.run() } catch { continuation.resume(throwing: error) }
    }
    pipe.fileHandleForReading.readabilityHandler = nil
    output.append(pipe.fileHandleForReading.readDataToEndOfFile())
    return (status, output.text)
}

final class OutputCollector: @unchecked Sendable {
    // Guarded by `lock`: the pipe's handler and the caller touch it from different threads.
    private let lock = NSLock()
    private var data = Data()

    func append(_ chunk: Data) {
        lock.lock()
        data.append(chunk)
        lock.unlock()
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}
