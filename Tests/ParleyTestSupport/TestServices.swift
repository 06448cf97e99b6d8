import Foundation
import Logging
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore
import ServiceLifecycle
import XCTest

/// The real PostgreSQL, Redis and RabbitMQ that `make services-up` starts, as the tests reach
/// them: the same `config/parley.env` defaults and environment overrides as `parley` itself.
public enum TestServices {
    /// The repository's root, found from this file's place in it.
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let config: ParleyConfig = {
        do {
            return try ParleyConfig.load(defaultsFile: root.appendingPathComponent("config/parley.env").path)
        } catch {
            fatalError("cannot load test configuration: \(error)")
        }
    }()

    public static func logger(_ label: String) -> Logger {
        var logger = Logger(label: "test.\(label)")
        logger.logLevel = ProcessInfo.processInfo.environment["TEST_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .warning
        return logger
    }

    /// The JWT secret of test gateways, which also keys their file links.
    public static let secret = "test-secret-0123456789abcdef-0123456789"
    public static let fileLinks = FileLinks(secret: secret, lifetime: .seconds(3600))

    /// RabbitMQ, on the virtual host `make services-up` makes for the tests: their queues have
    /// the real names, and a `make run` or a benchmark beside them would consume from the same.
    public static var amqp: AMQPEndpoint {
        var endpoint = AMQPEndpoint(url: config.amqpURL)
        endpoint.vhost = "parley-test"
        return endpoint
    }

    /// ``amqp`` as `AMQP_URL`, for the processes tests start.
    public static var amqpURL: String {
        let endpoint = amqp
        return "amqp://\(endpoint.user):\(endpoint.password)@\(endpoint.host):\(endpoint.port)/\(endpoint.vhost)"
    }
    public static var redis: RedisEndpoint { RedisEndpoint(url: config.redisURL) }

    /// A running database pool with the schema migrated, for the duration of `body`.
    /// Fails the test loudly when PostgreSQL is not there.
    /// - Parameters:
    ///   - genericPlans: as the message worker's pool plans (see ``Database``).
    ///   - ownLoop: the connections on an event loop of their own, as the message worker's.
    ///   - operationTimeout: longest a repository call may take.
    public static func withDatabase<T: Sendable>(
        genericPlans: Bool = false, ownLoop: Bool = false, operationTimeout: Duration = .seconds(5),
        _ body: @Sendable (Database) async throws -> T
    ) async throws -> T {
        let database = Database(
            url: config.databaseURL, maxConnections: 30, operationTimeout: operationTimeout, genericPlans: genericPlans,
            ownLoop: ownLoop, fileLinks: fileLinks, logger: logger("db"))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                await database.run()
                return nil
            }
            defer { group.cancelAll() }
            guard await database.ping(timeout: .seconds(10)) else {
                throw ServiceMissing(name: "PostgreSQL", url: config.databaseURL)
            }
            try await Migrations.apply(on: database)
            return try await body(database)
        }
    }

    /// A unique email address, so tests never collide with each other or earlier runs.
    public static func uniqueEmail(_ prefix: String = "user") -> String {
        "\(prefix)-\(UUID().uuidString.prefix(12).lowercased())@test.parley.dev"
    }

    /// A user stored directly, for tests that need members without the HTTP signup.
    public static func makeUser(_ database: Database, name: String = "Test") async throws -> User {
        try await database.users.create(.init(
            id: UUIDv7.make(), firstName: name, lastName: "User", email: uniqueEmail(name.lowercased()),
            passwordHash: "not-a-real-hash", image: nil
        ))
    }
}

/// Raised when a backing service the test needs is not reachable: run `make services-up`.
public struct ServiceMissing: Error, CustomStringConvertible {
    public let name: String
    public let url: ServiceURL
    public var description: String { "\(name) is not reachable at \(url): run `make services-up`" }
}

/// Polls `condition` until it holds or `timeout` passes.
public func eventually(
    timeout: Duration = .seconds(10), _ message: String = "condition never held",
    file: StaticString = #filePath, line: UInt = #line, _ condition: @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    XCTFail(message, file: file, line: line)
}

/// Takes the next element of an async iterator, failing after `timeout`.
public func next<T: Sendable>(
    from stream: AsyncStream<T>, timeout: Duration = .seconds(10), where predicate: @escaping @Sendable (T) -> Bool = { _ in true }
) async -> T? {
    await withTaskGroup(of: T?.self) { group in
        group.addTask {
            for await element in stream where predicate(element) { return element }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return await group.next() ?? nil
    }
}

extension TestServices {
    /// Runs `services` in a service group while `body` runs, then shuts them down gracefully.
    public static func run<T: Sendable>(_ services: [any Service], _ body: @Sendable () async throws -> T) async throws -> T {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger("services")))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            let result: Result<T, any Error>
            do {
                result = .success(try await body())
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }
}
