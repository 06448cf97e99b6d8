import Foundation
import ParleyCore
import ParleyGateway
import ParleyQueue
import ParleyTestSupport
import XCTest

/// The bus's wait for a reply, against a real broker with no worker behind it.
final class CommandBusTests: XCTestCase {
    func withBus(timeout: Duration, _ body: @Sendable (CommandBus) async throws -> Void) async throws {
        let id = UUID().uuidString.prefix(8).lowercased()
        let queue = "test.\(id).bus"
        let topology = Topology(exchange: "parley.test", queues: [.init(name: queue, bindings: [CommandType.messageCreate.rawValue])])
        let logger = TestServices.logger("bus")
        let publisher = QueuePublisher(endpoint: TestServices.amqp, topology: topology, logger: logger)
        let bus = CommandBus(publisher: publisher, nodeId: "test-bus-\(id)", timeout: timeout, logger: logger)
        try await TestServices.run([publisher]) {
            let connected = await publisher.waitUntilConnected()
            XCTAssertTrue(connected, "RabbitMQ is not reachable: run `make services-up`")
            try await body(bus)
        }
        try? await QueueAdmin.delete(queues: [queue], endpoint: TestServices.amqp)
    }

    static var create: Command.Payload {
        .messageCreate(MessageCreate(messageId: UUIDv7.make(), chatId: UUIDv7.make(), senderId: UUIDv7.make(), messageType: .text, text: "hi", clientMessageId: nil))
    }

    func testNoReplyIsATimeoutAfterTheTimeoutNotAHang() async throws {
        try await withBus(timeout: .milliseconds(400)) { bus in
            let start = ContinuousClock.now
            do {
                _ = try await bus.send(Self.create)
                XCTFail("nobody answered, yet the send returned")
            } catch let error as ParleyError {
                XCTAssertEqual(error.code, .timeout)
            }
            let waited = ContinuousClock.now - start
            XCTAssertGreaterThanOrEqual(waited, .milliseconds(400))
            XCTAssertLessThan(waited, .seconds(3))
        }
    }

    func testACancelledWaitEndsAtOnce() async throws {
        try await withBus(timeout: .seconds(30)) { bus in
            let payload = Self.create
            let waiting = Task { try await bus.send(payload) }
            try await Task.sleep(for: .milliseconds(300))
            let start = ContinuousClock.now
            waiting.cancel()
            do {
                _ = try await waiting.value
                XCTFail("a cancelled send returned a reply")
            } catch {
                XCTAssertTrue(error is CancellationError, "\(error)")
            }
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
        }
    }
}
