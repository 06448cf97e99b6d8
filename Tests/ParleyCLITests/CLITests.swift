import Foundation
import NIOCore
import ParleyTestSupport
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The `parley` executable as an operator runs it: separate gateway and worker processes over the
/// real services, configuration errors, `--help`.
final class CLITests: XCTestCase {
    func testEveryCommandHasHelp() throws {
        for command in [[], ["serve"], ["gateway"], ["worker"], ["worker", "message"], ["worker", "presence"], ["worker", "media"], ["worker", "maintenance"], ["migrate"], ["cleanup"], ["loadtest"], ["parked"], ["parked", "list"], ["parked", "replay"]] {
            let (status, output) = try ParleyProcess.runToEnd(command + ["--help"])
            XCTAssertEqual(status, 0, "\(command)")
            XCTAssertTrue(output.contains("USAGE"), "\(command): \(output)")
        }
    }

    func testMalformedSettingStopsStartWithOneLineNamingIt() throws {
        let (status, output) = try ParleyProcess.runToEnd(["gateway"], environment: ["PORT": "eighty", "JWT_SECRET": String(repeating: "s", count: 40)])
        XCTAssertEqual(status, 78)
        XCTAssertEqual(output.split(separator: "\n").count, 1, output)
        XCTAssertTrue(output.contains("PORT"), output)
    }

    func testGatewayRefusesToStartWithoutASecretOutsideDevelopment() throws {
        let (status, output) = try ParleyProcess.runToEnd(["gateway"], environment: ["JWT_SECRET": "", "PARLEY_ENV": "production"])
        XCTAssertEqual(status, 78)
        XCTAssertTrue(output.contains("JWT_SECRET"), output)
    }

    func testSeparateGatewayAndWorkerProcessesCarryAMessage() async throws {
        let port = ParleyProcess.port(in: 20000...29999)
        let environment = [
            "PORT": "\(port)", "NODE_ID": "cli-test-\(port)", "JWT_SECRET": String(repeating: "k", count: 48),
            "BCRYPT_COST": "4", "LOG_LEVEL": "warning",
        ]
        XCTAssertEqual(try ParleyProcess.runToEnd(["migrate"], environment: environment).status, 0)
        let (worker, _) = try ParleyProcess.launch(["worker", "message"], environment: environment.merging(["WORKER_METRICS_PORT": "\(port + 1)"]) { $1 })
        let (gateway, _) = try ParleyProcess.launch(["gateway"], environment: environment)
        defer {
            if worker.isRunning { worker.terminate() }
            if gateway.isRunning { gateway.terminate() }
        }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        try await ParleyProcess.waitUntilReady(base)
        let (token, chatId, _) = try await ParleyProcess.directChat(on: base)
        let sent = try await ParleyProcess.call(base, "POST", "/api/messages", token: token, body: ["chatId": chatId, "text": "across processes"])
        XCTAssertEqual(sent.status, 201)
        let history = try await ParleyProcess.call(base, "GET", "/api/messages/\(chatId)", token: token)
        XCTAssertEqual(((history.json["data"] as? [[String: Any]])?.first?["content"] as? [String: Any])?["text"] as? String, "across processes")
        // The worker process shows what it did on its own metrics port.
        let metrics = try await ParleyProcess.call(URL(string: "http://127.0.0.1:\(port + 1)")!, "GET", "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        XCTAssertTrue(text.contains("parley_messages_persisted_total") && text.contains("parley_queue_delivered_total"), text)
        // Request latency is bucketed from 1 ms.
        let gatewayMetrics = String(decoding: try await ParleyProcess.call(base, "GET", "/metrics").body, as: UTF8.self)
        XCTAssertTrue(gatewayMetrics.contains(#"le="0.001""#) && gatewayMetrics.contains(#"le="0.0025""#), gatewayMetrics)

        // SIGTERM drains and exits cleanly.
        gateway.terminate()
        worker.terminate()
        gateway.waitUntilExit()
        worker.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)
        XCTAssertEqual(worker.terminationStatus, 0)
    }

    func testEventLoopThreadsSetsTheGatewaysLoops() async throws {
        /// The threads of the process's shared event loops, by the names NIO gives them.
        func loopThreads(_ process: Process) throws -> Int {
            let tasks = "/proc/\(process.processIdentifier)/task"
            return try FileManager.default.contentsOfDirectory(atPath: tasks)
                .compactMap { try? String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8) }
                .filter { $0.hasPrefix("NIO-SGLTN-") }.count
        }
        for (setting, expected) in [("1", 1), ("3", 3), ("0", System.coreCount)] {
            let port = ParleyProcess.port(in: 20000...29999)
            let (gateway, _) = try ParleyProcess.launch(["gateway"], environment: [
                "PORT": "\(port)", "NODE_ID": "cli-loops-\(port)", "JWT_SECRET": String(repeating: "k", count: 48),
                "LOG_LEVEL": "warning", "EVENT_LOOP_THREADS": setting,
            ])
            defer { if gateway.isRunning { gateway.terminate() } }
            let base = URL(string: "http://127.0.0.1:\(port)")!
            try await ParleyProcess.waitUntilReady(base)
            // Serving on them: a socket session opens.
            let handshake = try await ParleyProcess.call(base, "GET", "/socket.io/?EIO=4&transport=polling")
            XCTAssertEqual(handshake.status, 200, "EVENT_LOOP_THREADS=\(setting)")
            XCTAssertEqual(try loopThreads(gateway), expected, "EVENT_LOOP_THREADS=\(setting)")
        }
    }

    func testAnUploadCrossesGatewayMediaAndMessageWorkerProcessesAndCleanupRuns() async throws {
        let port = ParleyProcess.port(in: 10000...11999)
        let uploads = NSTemporaryDirectory() + "parley-cli-uploads-\(port)"
        defer { try? FileManager.default.removeItem(atPath: uploads) }
        let environment = [
            "PORT": "\(port)", "NODE_ID": "cli-media-\(port)", "JWT_SECRET": String(repeating: "m", count: 48),
            "BCRYPT_COST": "4", "LOG_LEVEL": "warning", "UPLOAD_PATH": uploads,
        ]
        XCTAssertEqual(try ParleyProcess.runToEnd(["migrate"], environment: environment).status, 0)
        let processes = try [["worker", "message"], ["worker", "media"], ["gateway"]].map { try ParleyProcess.launch($0, environment: environment).0 }
        defer { for process in processes where process.isRunning { process.terminate() } }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        try await ParleyProcess.waitUntilReady(base)
        let (token, chatId, otherToken) = try await ParleyProcess.directChat(on: base)
        let text = Data("über alles, across processes \(port)\n".utf8)
        let uploaded = try await ParleyProcess.upload(base, token: token, chatId: chatId, file: text, name: "note.txt", type: "text/plain")
        XCTAssertEqual(uploaded.status, 201, String(decoding: uploaded.body, as: UTF8.self))
        let content = (uploaded.json["data"] as? [String: Any])?["content"] as? [String: Any]
        let fileUrl = try XCTUnwrap(content?["fileUrl"] as? String)
        let fetched = try await ParleyProcess.call(base, "GET", fileUrl)
        XCTAssertEqual(fetched.status, 200)
        XCTAssertEqual(fetched.body, text)
        let fileId = String(fileUrl.split(separator: "?")[0])
        let asMember = try await ParleyProcess.call(base, "GET", fileId, token: otherToken)
        XCTAssertEqual(asMember.body, text)

        let (status, output) = try ParleyProcess.runToEnd(["cleanup"], environment: environment)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("removed 0 staged file(s) and 0 stored object(s)"), output)
    }

    /// A few seconds of `parley loadtest` against `parley serve`, so the tool cannot rot.
    func testLoadTestSmokeRun() async throws {
        let port = ParleyProcess.port(in: 12000...13999)
        let folder = NSTemporaryDirectory() + "parley-loadtest-\(port)"
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let environment = [
            "PORT": "\(port)", "NODE_ID": "cli-load-\(port)", "JWT_SECRET": String(repeating: "l", count: 48),
            "BCRYPT_COST": "4", "LOG_LEVEL": "warning", "UPLOAD_PATH": "\(folder)/uploads",
        ]
        let (server, _) = try ParleyProcess.launch(["serve"], environment: environment)
        defer { if server.isRunning { server.terminate() } }
        let base = "http://127.0.0.1:\(port)"
        try await ParleyProcess.waitUntilReady(URL(string: base)!)
        let (status, output) = try ParleyProcess.runToEnd([
            "loadtest", "--url", base, "--users", "6", "--chat-size", "3", "--rate", "40", "--duration", "3", "--ramp-up", "1",
            "--upload-share", "0.1", "--state", "\(folder)/users.json", "--json", "\(folder)/report.json", "--svg", "\(folder)/latency.svg",
            "--event-loops", "3",
        ], environment: environment)
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("send → delivery"), output)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(folder)/report.json"))) as? [String: Any])
        let sent = try XCTUnwrap(report["sent"] as? Int)
        // 40/s for 3 s with a 1 s ramp: 100 messages, two recipients each.
        XCTAssertEqual(sent, 100, output)
        XCTAssertEqual(report["acked"] as? Int, sent, output)
        XCTAssertEqual(report["uploads"] as? Int, 10, output)
        XCTAssertEqual(report["delivered"] as? Int, 2 * sent, output)
        XCTAssertEqual(report["missing"] as? Int, 0, output)
        XCTAssertEqual(report["repeated"] as? Int, 0, output)
        XCTAssertEqual(report["connectionsPeak"] as? Int, 6, output)
        XCTAssertEqual(report["generatorEventLoops"] as? Int, 3, "the loops asked for, whatever the cores")
        let delivery = try XCTUnwrap(report["delivery"] as? [String: Any])
        XCTAssertGreaterThan(delivery["p99"] as? Double ?? 0, 0)
        let svg = try String(contentsOfFile: "\(folder)/latency.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("polyline"), svg)
    }

    func testTwoGatewayProcessesDeliverToEachOthersSockets() async throws {
        let python = try TestServices.python()
        let ports = (ParleyProcess.port(in: 14000...15999), ParleyProcess.port(in: 16000...17999))
        let shared = ["JWT_SECRET": String(repeating: "t", count: 48), "BCRYPT_COST": "4", "LOG_LEVEL": "warning"]
        XCTAssertEqual(try ParleyProcess.runToEnd(["migrate"], environment: shared).status, 0)
        let (worker, _) = try ParleyProcess.launch(["worker", "message"], environment: shared)
        let (first, _) = try ParleyProcess.launch(["gateway"], environment: shared.merging(["PORT": "\(ports.0)", "NODE_ID": "gw-a-\(ports.0)"]) { $1 })
        let (second, _) = try ParleyProcess.launch(["gateway"], environment: shared.merging(["PORT": "\(ports.1)", "NODE_ID": "gw-b-\(ports.1)"]) { $1 })
        defer { for process in [worker, first, second] where process.isRunning { process.terminate() } }
        for port in [ports.0, ports.1] {
            try await ParleyProcess.waitUntilReady(URL(string: "http://127.0.0.1:\(port)")!)
        }
        // The receiver's sockets are on the second gateway, the sender's on the first.
        let (status, output) = try await runProcess(python, [
            TestServices.socketIOScenario, "http://127.0.0.1:\(ports.0)", "http://127.0.0.1:\(ports.1)",
        ])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("message_received on B's second socket"), output)
    }

    func testUsersOfAKilledGatewayGoOfflineWithinTwiceTheTTL() async throws {
        let python = try TestServices.python()
        let ttl = 3
        let ports = (ParleyProcess.port(in: 18000...18999), ParleyProcess.port(in: 19000...19999))
        let shared = [
            "JWT_SECRET": String(repeating: "p", count: 48), "BCRYPT_COST": "4", "LOG_LEVEL": "warning", "PRESENCE_TTL": "\(ttl)",
        ]
        XCTAssertEqual(try ParleyProcess.runToEnd(["migrate"], environment: shared).status, 0)
        let (messages, _) = try ParleyProcess.launch(["worker", "message"], environment: shared)
        let (presence, _) = try ParleyProcess.launch(["worker", "presence"], environment: shared)
        let (doomed, _) = try ParleyProcess.launch(["gateway"], environment: shared.merging(["PORT": "\(ports.0)", "NODE_ID": "doomed-\(ports.0)"]) { $1 })
        let (survivor, _) = try ParleyProcess.launch(["gateway"], environment: shared.merging(["PORT": "\(ports.1)", "NODE_ID": "survivor-\(ports.1)"]) { $1 })
        defer { for process in [messages, presence, doomed, survivor] where process.isRunning { process.terminate() } }
        for port in [ports.0, ports.1] {
            try await ParleyProcess.waitUntilReady(URL(string: "http://127.0.0.1:\(port)")!)
        }
        let (status, output) = try await runProcess(python, [
            TestServices.presenceScenario, "http://127.0.0.1:\(ports.0)", "http://127.0.0.1:\(ports.1)",
            "\(doomed.processIdentifier)", "\(ttl)",
        ])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("all presence checks passed"), output)
        print(output)
    }
}
