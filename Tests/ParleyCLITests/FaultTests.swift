import Foundation
import Logging
import SocketIO
import ParleyTestSupport
import Synchronization
import XCTest

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Nothing lost, nothing doubled: a steady stream of messages through a gateway and a message
/// worker (separate processes) while the worker is killed and RabbitMQ, Redis and PostgreSQL are
/// restarted one after the other. A client resends what was not answered 201, with the same
/// `clientMessageId`, as a real client would.
final class FaultTests: XCTestCase {
    /// What the senders saw.
    final class Tally: Sendable {
        private let state = Mutex<(sent: Int, acceptedFirstTime: Int, refused: Int, refusals: [Int: Int], accepted: [String: String])>(
            (0, 0, 0, [:], [:]))

        private let stopped = Mutex(false)
        func stop() { stopped.withLock { $0 = true } }
        var isStopped: Bool { stopped.withLock { $0 } }

        func sent() { state.withLock { $0.sent += 1 } }
        func refused(_ status: Int) { state.withLock { $0.refused += 1; $0.refusals[status, default: 0] += 1 } }
        func accepted(key: String, id: String, firstTime: Bool) {
            state.withLock {
                $0.accepted[key] = id
                if firstTime { $0.acceptedFirstTime += 1 }
            }
        }
        var snapshot: (sent: Int, acceptedFirstTime: Int, refused: Int, refusals: [Int: Int], accepted: [String: String]) { state.withLock { $0 } }
    }

    func testAcceptedMessagesSurviveKilledWorkerAndRestartedServicesExactlyOnce() async throws {
        let port = ParleyProcess.port(in: 30000...31999)
        let environment = [
            "PORT": "\(port)", "NODE_ID": "fault-\(port)", "JWT_SECRET": String(repeating: "f", count: 48),
            "BCRYPT_COST": "4", "LOG_LEVEL": "warning", "REPLY_TIMEOUT": "3000",
        ]
        XCTAssertEqual(try ParleyProcess.runToEnd(["migrate"], environment: environment).status, 0)
        let fleet = Fleet()
        defer { fleet.terminateAll() }
        let worker = try fleet.launch(["worker", "message"], environment: environment, log: "fault-worker.log")
        try fleet.launch(["gateway"], environment: environment, log: "fault-gateway.log")
        let base = URL(string: "http://127.0.0.1:\(port)")!
        try await ParleyProcess.waitUntilReady(base)
        let (token, chatId, receiverToken) = try await ParleyProcess.directChat(on: base)
        // The receiver keeps one socket open through every fault.
        async let socketSurvived = Self.receives("after the faults", on: base, token: receiverToken)

        let tally = Tally()
        async let senders: Void = Self.stream(base: base, token: token, chatId: chatId, tally: tally)

        let services = TestServices.root.appendingPathComponent("scripts/services")
        try await Task.sleep(for: .seconds(2))
        // (a) The worker dies with commands in flight, and comes back.
        kill(worker, SIGKILL)
        try await Task.sleep(for: .seconds(2))
        try fleet.launch(["worker", "message"], environment: environment, log: "fault-worker.log")
        try await Task.sleep(for: .seconds(3))
        // (b), (c), (d): each server restarted under load.
        for service in ["rabbitmq", "redis", "postgres"] {
            let status = await Self.shell("timeout 180 '\(services.path)' restart \(service) >> '\(TestServices.root.path)/.run/logs/fault-services.log' 2>&1")
            XCTAssertEqual(status, 0, "restarting \(service) failed: see .run/logs/fault-services.log")
            try await Task.sleep(for: .seconds(4))
        }
        tally.stop()
        try await senders
        tally.sent()
        try await Self.sendUntilAccepted(base: base, token: token, chatId: chatId, key: "after the faults", tally: tally)
        let survived = try await socketSurvived
        XCTAssertTrue(survived, "the receiver's socket was dropped, or got no event after the faults")

        // Everything the clients were told was stored, is stored, once.
        var stored: [String] = []
        var before: String?
        repeat {
            let page = try await ParleyProcess.call(base, "GET", "/api/messages/\(chatId)?limit=200" + (before.map { "&before=\($0)" } ?? ""), token: token)
            XCTAssertEqual(page.status, 200)
            let messages = page.json["data"] as? [[String: Any]] ?? []
            stored.insert(contentsOf: messages.compactMap { $0["clientMessageId"] as? String }, at: 0)
            before = page.json["nextBefore"] as? String
        } while before != nil
        let result = tally.snapshot
        let duplicates = stored.count - Set(stored).count
        print("""
            fault test: sent \(result.sent), accepted at once \(result.acceptedFirstTime), refused answers \(result.refused) \
            (by status \(result.refusals.sorted { $0.key < $1.key })), accepted after resending \(result.accepted.count - result.acceptedFirstTime), \
            stored \(stored.count), duplicates \(duplicates)
            """)
        XCTAssertEqual(result.accepted.count, result.sent, "a message was never accepted")
        XCTAssertEqual(duplicates, 0, "a message was stored twice")
        XCTAssertEqual(Set(stored), Set(result.accepted.keys), "an accepted message is missing, or an unknown one appeared")
        XCTAssertGreaterThan(result.sent, 100, "the stream was too thin to mean anything")
    }

    /// Whether a socket opened now stays connected and receives the message with `text`
    /// (within two minutes).
    static func receives(_ text: String, on base: URL, token: String) async throws -> Bool {
        var logger = Logger(label: "fault-socket")
        logger.logLevel = .critical
        return try await SocketIOClient.connect(to: base.absoluteString, auth: .object(["token": .string(token)]), logger: logger) { client in
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await event in client.events where event.name == "message_received" {
                        if event.arguments.first?["content"]?["text"]?.stringValue == text { return true }
                    }
                    return false  // the connection closed
                }
                group.addTask {
                    try? await Task.sleep(for: .seconds(120))
                    return false
                }
                defer { group.cancelAll() }
                return await group.next() ?? false
            }
        }
    }

    /// Runs a shell command to its end with `system(3)` on a thread of its own. Foundation's
    /// `Process` is not used here: after the test has SIGKILLed a child, it may never notice the
    /// end of the next one.
    static func shell(_ command: String) async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: system(command)) }.start()
        }
    }

    /// Four clients sending one message after another until told to stop.
    static func stream(base: URL, token: String, chatId: String, tally: Tally) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for sender in 0..<4 {
                group.addTask {
                    var n = 0
                    while !tally.isStopped {
                        let key = "fault-\(sender)-\(n)"
                        n += 1
                        tally.sent()
                        try await sendUntilAccepted(base: base, token: token, chatId: chatId, key: key, tally: tally)
                        try await Task.sleep(for: .milliseconds(20))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Sends one message, resending with the same key after any answer but 201 (or none), for up
    /// to a minute.
    static func sendUntilAccepted(base: URL, token: String, chatId: String, key: String, tally: Tally) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var firstTime = true
        while ContinuousClock.now < deadline {
            let answer = try? await ParleyProcess.call(base, "POST", "/api/messages", token: token, body: ["chatId": chatId, "text": key, "clientMessageId": key])
            if let answer, answer.status == 201, let id = (answer.json["data"] as? [String: Any])?["id"] as? String {
                tally.accepted(key: key, id: id, firstTime: firstTime)
                return
            }
            tally.refused(answer?.status ?? 0)
            firstTime = false
            try await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// The processes a test started, all terminated at its end.
final class Fleet: Sendable {
    private let processes = Mutex<[Process]>([])

    @discardableResult
    func launch(_ arguments: [String], environment: [String: String], log: String) throws -> Int32 {
        let process = try ParleyProcess.launch(arguments, environment: environment, log: log).0
        processes.withLock { $0.append(process) }
        return process.processIdentifier
    }

    /// SIGTERM to every process, SIGKILL to those still there after 20 s. Exits are reaped with
    /// `waitpid` here: Foundation may never notice the end of a child the test killed itself.
    func terminateAll() {
        var alive = Set(processes.withLock { $0.map(\.processIdentifier) })
        for pid in alive { kill(pid, SIGTERM) }
        let deadline = Date().addingTimeInterval(20)
        while !alive.isEmpty, Date() < deadline {
            for pid in alive {
                var status: Int32 = 0
                let reaped = waitpid(pid, &status, WNOHANG)
                if reaped == pid || (reaped == -1 && errno == ECHILD) { alive.remove(pid) }
            }
            usleep(50_000)
        }
        for pid in alive { kill(pid, SIGKILL) }
    }
}
