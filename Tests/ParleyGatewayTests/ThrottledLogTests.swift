import Hummingbird
import HummingbirdTesting
import Logging
import ParleyQueue
import Synchronization
import XCTest

@testable import ParleyGateway

final class ThrottledLogTests: XCTestCase {
    func testARepeatedFailureIsLoggedOncePerIntervalWithTheCountHeldBack() async throws {
        let log = CapturedLog()
        let logger = log.logger()
        let throttle = ThrottledLog(interval: .milliseconds(300))
        for _ in 0..<50 { throttle.log(logger, level: .warning, "queue down", kind: "queue") }
        for _ in 0..<3 { throttle.log(logger, level: .warning, "database down", kind: "database") }
        XCTAssertEqual(log.lines.map(\.message), ["queue down", "database down"], "each kind once")
        XCTAssertNil(log.lines[0].metadata["heldBack"])

        try await Task.sleep(for: .milliseconds(400))
        throttle.log(logger, level: .warning, "queue down", kind: "queue")
        throttle.log(logger, level: .warning, "queue down", kind: "queue")
        XCTAssertEqual(log.lines.count, 3)
        XCTAssertEqual(log.lines[2].metadata["heldBack"], "49", "the lines held back since the last one")
    }

    func testALevelTheLoggerDropsIsNeitherLoggedNorCounted() {
        let log = CapturedLog()
        var logger = log.logger()
        logger.logLevel = .error
        let throttle = ThrottledLog(interval: .seconds(60))
        throttle.log(logger, level: .warning, "queue down", kind: "queue")
        logger.logLevel = .warning
        throttle.log(logger, level: .warning, "queue down", kind: "queue")
        XCTAssertEqual(log.lines.count, 1, "the first line the logger takes goes out")
        XCTAssertNil(log.lines[0].metadata["heldBack"])
    }

    /// Every request of an outage is answered 503 and counted; the log gets a line now and
    /// then. A bug (500) is logged every time.
    func testErrorMappingLogsAnOutageNowAndThenAndEveryBug() async throws {
        let log = CapturedLog()
        let router = Router()
        router.add(middleware: ErrorMiddleware(outages: ThrottledLog(interval: .seconds(60))))
        router.get("queue") { _, _ -> String in throw QueueError.unavailable("broker gone") }
        router.get("bug") { _, _ -> String in throw CancellationError() }
        let app = Application(router: router, logger: log.logger())
        try await app.test(.router) { client in
            for _ in 0..<20 {
                try await client.execute(uri: "/queue", method: .get) { response in
                    XCTAssertEqual(response.status, .serviceUnavailable)
                    XCTAssertEqual(response.headers[.retryAfter], "1")
                }
            }
            for _ in 0..<3 {
                try await client.execute(uri: "/bug", method: .get) { response in
                    XCTAssertEqual(response.status, .internalServerError)
                }
            }
        }
        let failures = log.lines.filter { $0.message == "request failed" }
        XCTAssertEqual(failures.filter { $0.level == .warning }.count, 1, "\(failures)")
        XCTAssertEqual(failures.filter { $0.level == .error }.count, 3, "\(failures)")
    }
}

/// Log lines kept for a test to read.
final class CapturedLog: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let captured = Mutex<[Line]>([])

    var lines: [Line] { captured.withLock { $0 } }

    func logger() -> Logger {
        Logger(label: "captured") { _ in Handler(log: self) }
    }

    fileprivate func append(_ line: Line) { captured.withLock { $0.append(line) } }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var logLevel: Logger.Level = .info
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let metadata = (event.metadata ?? [:]).mapValues { "\($0)" }
            log.append(Line(level: event.level, message: "\(event.message)", metadata: metadata))
        }
    }
}
