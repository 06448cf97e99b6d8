import Foundation
import ParleyTestSupport
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The `parley` executable as an operator runs it: separate gateway and worker processes over the
/// real services, configuration errors, `--help`.
final class CLITests: XCTestCase {
    /// The `parley` built beside this test bundle.
    var executable: URL {
        var dir = Bundle(for: CLITests.self).bundleURL
        while dir.pathExtension == "xctest" || dir.lastPathComponent.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        return dir.appendingPathComponent("parley")
    }

    func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.currentDirectoryURL = TestServices.root
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return (process, output)
    }

    func runToEnd(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, output: String) {
        let (process, pipe) = try launch(arguments, environment: environment)
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testEveryCommandHasHelp() throws {
        for command in [[], ["serve"], ["gateway"], ["worker"], ["worker", "message"], ["worker", "presence"], ["migrate"]] {
            let (status, output) = try runToEnd(command + ["--help"])
            XCTAssertEqual(status, 0, "\(command)")
            XCTAssertTrue(output.contains("USAGE"), "\(command): \(output)")
        }
    }

    func testMalformedSettingStopsStartWithOneLineNamingIt() throws {
        let (status, output) = try runToEnd(["gateway"], environment: ["PORT": "eighty", "JWT_SECRET": String(repeating: "s", count: 40)])
        XCTAssertEqual(status, 78)
        XCTAssertEqual(output.split(separator: "\n").count, 1, output)
        XCTAssertTrue(output.contains("PORT"), output)
    }

    func testGatewayRefusesToStartWithoutASecretOutsideDevelopment() throws {
        let (status, output) = try runToEnd(["gateway"], environment: ["JWT_SECRET": "", "PARLEY_ENV": "production"])
        XCTAssertEqual(status, 78)
        XCTAssertTrue(output.contains("JWT_SECRET"), output)
    }

    func testSeparateGatewayAndWorkerProcessesCarryAMessage() async throws {
        let port = Int.random(in: 20000...29999)
        let environment = [
            "PORT": "\(port)", "NODE_ID": "cli-test-\(port)", "JWT_SECRET": String(repeating: "k", count: 48),
            "BCRYPT_COST": "4", "LOG_LEVEL": "warning",
        ]
        XCTAssertEqual(try runToEnd(["migrate"], environment: environment).status, 0)
        let (worker, _) = try launch(["worker", "message"], environment: environment)
        let (gateway, _) = try launch(["gateway"], environment: environment)
        defer {
            if worker.isRunning { worker.terminate() }
            if gateway.isRunning { gateway.terminate() }
        }
        let base = URL(string: "http://127.0.0.1:\(port)")!
        try await eventually(timeout: .seconds(30), "the gateway never became ready") {
            (try? await Self.call(base, "GET", "/readyz").status) == 200
        }

        let a = try await Self.call(base, "POST", "/api/auth/signup", body: [
            "firstName": "A", "lastName": "A", "email": TestServices.uniqueEmail("cli"), "password": "password123"])
        let b = try await Self.call(base, "POST", "/api/auth/signup", body: [
            "firstName": "B", "lastName": "B", "email": TestServices.uniqueEmail("cli"), "password": "password123"])
        XCTAssertEqual(a.status, 201)
        let token = try XCTUnwrap(a.json["token"] as? String)
        let bId = try XCTUnwrap((b.json["user"] as? [String: Any])?["id"] as? String)
        let chat = try await Self.call(base, "POST", "/api/chats", token: token, body: ["userId": bId])
        XCTAssertEqual(chat.status, 201)
        let chatId = try XCTUnwrap((chat.json["data"] as? [String: Any])?["id"] as? String)
        let sent = try await Self.call(base, "POST", "/api/messages", token: token, body: ["chatId": chatId, "text": "across processes"])
        XCTAssertEqual(sent.status, 201)
        let history = try await Self.call(base, "GET", "/api/messages/\(chatId)", token: token)
        XCTAssertEqual(((history.json["data"] as? [[String: Any]])?.first?["content"] as? [String: Any])?["text"] as? String, "across processes")

        // SIGTERM drains and exits cleanly.
        gateway.terminate()
        worker.terminate()
        gateway.waitUntilExit()
        worker.waitUntilExit()
        XCTAssertEqual(gateway.terminationStatus, 0)
        XCTAssertEqual(worker.terminationStatus, 0)
    }

    func testTwoGatewayProcessesDeliverToEachOthersSockets() async throws {
        let python = try TestServices.python()
        let ports = (Int.random(in: 30000...34999), Int.random(in: 35000...39999))
        let shared = ["JWT_SECRET": String(repeating: "t", count: 48), "BCRYPT_COST": "4", "LOG_LEVEL": "warning"]
        XCTAssertEqual(try runToEnd(["migrate"], environment: shared).status, 0)
        let (worker, _) = try launch(["worker", "message"], environment: shared)
        let (first, _) = try launch(["gateway"], environment: shared.merging(["PORT": "\(ports.0)", "NODE_ID": "gw-a-\(ports.0)"]) { $1 })
        let (second, _) = try launch(["gateway"], environment: shared.merging(["PORT": "\(ports.1)", "NODE_ID": "gw-b-\(ports.1)"]) { $1 })
        defer { for process in [worker, first, second] where process.isRunning { process.terminate() } }
        for port in [ports.0, ports.1] {
            let base = URL(string: "http://127.0.0.1:\(port)")!
            try await eventually(timeout: .seconds(30), "gateway on \(port) never became ready") {
                (try? await Self.call(base, "GET", "/readyz").status) == 200
            }
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
        let ports = (Int.random(in: 40000...44999), Int.random(in: 45000...49999))
        let shared = [
            "JWT_SECRET": String(repeating: "p", count: 48), "BCRYPT_COST": "4", "LOG_LEVEL": "warning", "PRESENCE_TTL": "\(ttl)",
        ]
        XCTAssertEqual(try runToEnd(["migrate"], environment: shared).status, 0)
        let (messages, _) = try launch(["worker", "message"], environment: shared)
        let (presence, _) = try launch(["worker", "presence"], environment: shared)
        let (doomed, _) = try launch(["gateway"], environment: shared.merging(["PORT": "\(ports.0)", "NODE_ID": "doomed-\(ports.0)"]) { $1 })
        let (survivor, _) = try launch(["gateway"], environment: shared.merging(["PORT": "\(ports.1)", "NODE_ID": "survivor-\(ports.1)"]) { $1 })
        defer { for process in [messages, presence, doomed, survivor] where process.isRunning { process.terminate() } }
        for port in [ports.0, ports.1] {
            let base = URL(string: "http://127.0.0.1:\(port)")!
            try await eventually(timeout: .seconds(30), "gateway on \(port) never became ready") {
                (try? await Self.call(base, "GET", "/readyz").status) == 200
            }
        }
        let (status, output) = try await runProcess(python, [
            TestServices.presenceScenario, "http://127.0.0.1:\(ports.0)", "http://127.0.0.1:\(ports.1)",
            "\(doomed.processIdentifier)", "\(ttl)",
        ])
        XCTAssertEqual(status, 0, output)
        XCTAssertTrue(output.contains("all presence checks passed"), output)
        print(output)
    }

    struct Answer: Sendable {
        let status: Int
        let body: Data
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
    }

    static func call(_ base: URL, _ method: String, _ path: String, token: String? = nil, body: [String: String]? = nil) async throws -> Answer {
        var request = URLRequest(url: base.appendingPathComponent(path))
        request.httpMethod = method
        request.timeoutInterval = 15
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
    }
}
