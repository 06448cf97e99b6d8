import Foundation
import HummingbirdTesting
import ParleyTestSupport
import XCTest

/// The gateway as any Socket.IO client sees it: the stock Python client (python-socketio, which
/// `make test` installs into .run/venv) runs `Tests/clients/socketio_scenario.py` against a live
/// gateway and worker.
final class StockClientTests: XCTestCase {
    func testStockPythonClientScenarios() async throws {
        let python = TestServices.root.appendingPathComponent(".run/venv/bin/python")
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            return XCTFail("python-socketio is not installed: run `make test` (it creates .run/venv)")
        }
        try await GatewayRig.run(.live) { rig in
            let port = try XCTUnwrap(rig.client.port)
            let (status, output) = try await Self.run(python, [
                TestServices.root.appendingPathComponent("Tests/clients/socketio_scenario.py").path, "http://127.0.0.1:\(port)",
            ])
            XCTAssertEqual(status, 0, output)
            XCTAssertTrue(output.contains("all scenarios passed"), output)
        }
    }

    /// Runs a process to its end without blocking a thread of the cooperative pool.
    static func run(_ executable: URL, _ arguments: [String]) async throws -> (Int32, String) {
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
}

final class OutputCollector: @unchecked Sendable {
    // Guarded by `lock`: the pipe's handler and the test read it from different threads.
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
