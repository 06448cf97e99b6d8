import Foundation
import XCTest

extension TestServices {
    /// The virtualenv's Python with the stock Socket.IO client and the OpenAPI validator, which
    /// `make test` installs.
    public static func python() throws -> URL {
        let python = root.appendingPathComponent(".run/venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            throw ClientMissing()
        }
        return python
    }

    /// The stock-client presence scenario, which kills a gateway.
    public static var presenceScenario: String { root.appendingPathComponent("Tests/clients/presence_scenario.py").path }

    /// The stock-client scenario script.
    public static var socketIOScenario: String { root.appendingPathComponent("Tests/clients/socketio_scenario.py").path }
}

/// Raised when the stock client's virtualenv is not there.
public struct ClientMissing: Error, CustomStringConvertible {
    public var description: String { "the test clients (Tests/clients/requirements.txt) are not installed in .run/venv: run `make test` (it installs them)" }
}

/// Runs a process to its end without blocking a thread of the cooperative pool; returns its exit
/// status and everything it printed.
///
/// The output is read by a plain thread with blocking reads: a `readabilityHandler` would register
/// the pipe with libdispatch, which then trips over the descriptor once it is closed and reused.
public func runProcess(_ executable: URL, _ arguments: [String]) async throws -> (Int32, String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let reader = pipe.fileHandleForReading
    return await withCheckedContinuation { continuation in
        Thread {
            let data = reader.readDataToEndOfFile()
            process.waitUntilExit()
            continuation.resume(returning: (process.terminationStatus, String(decoding: data, as: UTF8.self)))
        }.start()
    }
}
