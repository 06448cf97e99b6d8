import Foundation
import HummingbirdTesting
import ParleyTestSupport
import XCTest

/// The gateway as any Socket.IO client sees it: the stock Python client (python-socketio, which
/// `make test` installs into .run/venv) runs `Tests/clients/socketio_scenario.py` against a live
/// gateway and worker.
final class StockClientTests: XCTestCase {
    func testStockPythonClientScenarios() async throws {
        let python = try TestServices.python()
        try await GatewayRig.run(.live) { rig in
            let port = try XCTUnwrap(rig.client.port)
            let (status, output) = try await runProcess(python, [
                TestServices.socketIOScenario, "http://127.0.0.1:\(port)",
            ])
            XCTAssertEqual(status, 0, output)
            XCTAssertTrue(output.contains("all scenarios passed"), output)
        }
    }
}
