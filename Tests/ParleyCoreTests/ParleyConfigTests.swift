import Foundation
import ParleyCore
import XCTest

final class ParleyConfigTests: XCTestCase {
    /// The repository's own defaults file: the tests read exactly what `parley` reads.
    let defaults = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("config/parley.env").path

    func testDefaultsFileGivesACompleteConfiguration() throws {
        let config = try ParleyConfig.load(environment: [:], defaultsFile: defaults)
        XCTAssertEqual(config.port, 3000)
        XCTAssertEqual(config.databaseURL.scheme, "postgres")
        XCTAssertEqual(config.databaseURL.path, "parley")
        XCTAssertEqual(config.redisURL.port, 56379)
        XCTAssertEqual(config.amqpURL.port, 55672)
        XCTAssertEqual(config.maxFileSize, 10_485_760)
        XCTAssertEqual(config.allowedFileTypes.count, 6)
        XCTAssertEqual(config.fileURLExpiry, .seconds(3600))
        XCTAssertEqual(config.socketAuthTimeout, .milliseconds(30000))
        XCTAssertEqual(config.socketSendBuffer, 1 << 20)
        XCTAssertEqual(config.jwtExpiry, .seconds(7 * 86400))
        XCTAssertFalse(config.nodeID.isEmpty, "an empty NODE_ID is replaced by a generated one")
        XCTAssertEqual(config.eventLoopThreads, 0, "one loop per core unless told")
    }

    func testEnvironmentOverridesTheDefaultsFile() throws {
        let config = try ParleyConfig.load(environment: ["PORT": "4100", "NODE_ID": "gw-7", "JWT_EXPIRY": "15m", "EVENT_LOOP_THREADS": "1"], defaultsFile: defaults)
        XCTAssertEqual(config.port, 4100)
        XCTAssertEqual(config.eventLoopThreads, 1)
        XCTAssertEqual(config.nodeID, "gw-7")
        XCTAssertEqual(config.jwtExpiry, .seconds(900))
    }

    func testMalformedValueNamesTheSetting() {
        XCTAssertThrowsError(try ParleyConfig.load(environment: ["PORT": "http"], defaultsFile: defaults)) { error in
            let error = error as! ConfigError
            XCTAssertEqual(error.key, "PORT")
            XCTAssertTrue(error.description.hasPrefix("configuration error: PORT"), error.description)
            XCTAssertFalse(error.description.contains("\n"))
        }
        XCTAssertThrowsError(try ParleyConfig.load(environment: ["DATABASE_URL": "mysql://x/y"], defaultsFile: defaults)) {
            XCTAssertEqual(($0 as! ConfigError).key, "DATABASE_URL")
        }
        XCTAssertThrowsError(try ParleyConfig.load(environment: ["JWT_EXPIRY": "soon"], defaultsFile: defaults)) {
            XCTAssertEqual(($0 as! ConfigError).key, "JWT_EXPIRY")
        }
        XCTAssertThrowsError(try ParleyConfig.load(environment: ["LOG_LEVEL": "loud"], defaultsFile: defaults)) {
            XCTAssertEqual(($0 as! ConfigError).key, "LOG_LEVEL")
        }
        XCTAssertThrowsError(try ParleyConfig.load(environment: ["SOCKET_SEND_BUFFER": "1024"], defaultsFile: defaults)) {
            XCTAssertEqual(($0 as! ConfigError).key, "SOCKET_SEND_BUFFER")
        }
        XCTAssertThrowsError(try ParleyConfig.load(environment: ["EVENT_LOOP_THREADS": "-1"], defaultsFile: defaults)) {
            XCTAssertEqual(($0 as! ConfigError).key, "EVENT_LOOP_THREADS")
        }
    }

    func testMissingRequiredValueNamesTheSetting() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("parley-\(UUID()).env")
        let text = try String(contentsOfFile: defaults, encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("REDIS_URL=") }.joined(separator: "\n")
        try text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertThrowsError(try ParleyConfig.load(environment: [:], defaultsFile: file.path)) { error in
            XCTAssertEqual(error as? ConfigError, ConfigError(key: "REDIS_URL", problem: "is not set"))
        }
    }

    func testJWTSecretIsRequiredOutsideDevelopment() throws {
        let production = try ParleyConfig.load(environment: ["JWT_SECRET": ""], defaultsFile: defaults)
        XCTAssertThrowsError(try production.requireJWTSecret()) { XCTAssertEqual(($0 as! ConfigError).key, "JWT_SECRET") }

        let development = try ParleyConfig.load(environment: ["JWT_SECRET": "", "PARLEY_ENV": "development"], defaultsFile: defaults)
        let (secret, generated) = try development.requireJWTSecret()
        XCTAssertTrue(generated)
        XCTAssertGreaterThanOrEqual(secret.count, 32)
        XCTAssertNotEqual(secret, try development.requireJWTSecret().secret, "each start draws a new secret")

        let configured = try ParleyConfig.load(environment: ["JWT_SECRET": "0123456789abcdef-0123456789abcdef-secret"], defaultsFile: defaults)
        XCTAssertEqual(try configured.requireJWTSecret().secret, "0123456789abcdef-0123456789abcdef-secret")
        let short = try ParleyConfig.load(environment: ["JWT_SECRET": "short"], defaultsFile: defaults)
        XCTAssertThrowsError(try short.requireJWTSecret())
    }

    func testUnreadableExplicitDefaultsFileIsAnError() {
        XCTAssertThrowsError(try ParleyConfig.load(environment: [:], defaultsFile: "/nonexistent/parley.env")) {
            XCTAssertEqual(($0 as! ConfigError).key, "PARLEY_CONFIG")
        }
    }

    func testServiceURLMasksThePassword() throws {
        let url = try XCTUnwrap(ServiceURL("postgres://parley:s3cret@db.local:5433/chat%20db"))
        XCTAssertEqual(url.user, "parley")
        XCTAssertEqual(url.password, "s3cret")
        XCTAssertEqual(url.port, 5433)
        XCTAssertEqual(url.path, "chat db")
        XCTAssertFalse(url.description.contains("s3cret"))
    }
}
