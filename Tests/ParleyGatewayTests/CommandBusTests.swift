import Foundation
import ParleyCore
import ParleyGateway
import ParleyQueue
import ParleyTestSupport
import Synchronization
import XCTest

/// The bus's wait for a reply, against a real broker with no worker behind it.
final class CommandBusTests: XCTestCase {
    func withBus(
        timeout: Duration, confirmTimeout: Duration = .seconds(5),
        _ body: @Sendable (CommandBus, _ queue: String, Topology) async throws -> Void
    ) async throws {
        let id = UUID().uuidString.prefix(8).lowercased()
        let queue = "test.\(id).bus"
        let topology = Topology(exchange: "parley.test", queues: [.init(name: queue, bindings: [CommandType.messageCreate.rawValue])])
        let logger = TestServices.logger("bus")
        let publisher = QueuePublisher(endpoint: TestServices.amqp, topology: topology, confirmTimeout: confirmTimeout, logger: logger)
        let bus = CommandBus(publisher: publisher, nodeId: "test-bus-\(id)", timeout: timeout, logger: logger)
        try await TestServices.run([publisher]) {
            let connected = await publisher.waitUntilConnected()
            XCTAssertTrue(connected, "RabbitMQ is not reachable: run `make services-up`")
            try await body(bus, queue, topology)
        }
        try? await QueueAdmin.delete(queues: [queue], endpoint: TestServices.amqp)
    }

    func withBus(timeout: Duration, _ body: @Sendable (CommandBus) async throws -> Void) async throws {
        try await withBus(timeout: timeout) { bus, _, _ in try await body(bus) }
    }

    /// A bus with a worker's stand-in behind it, which answers each command twice and sends
    /// a reply for a command nobody sent.
    func withAnsweringBus(_ body: @Sendable (CommandBus) async throws -> Void) async throws {
        try await withBus(timeout: .seconds(10)) { bus, queue, topology in
            let consumer = QueueConsumer(endpoint: TestServices.amqp, topology: topology, queue: queue, prefetch: 4, logger: TestServices.logger("con"))
            consumer.start()
            defer { consumer.stop() }
            let answerer = Task {
                for await delivery in consumer.deliveries {
                    for command in try CommandBatch.decode(delivery.body) {
                        let reply = Array(#"{"commandId":"\#(command.id.uuidString)","outcome":{"answered":true}}"#.utf8)
                        bus.deliver(reply)
                        bus.deliver(reply)
                        bus.deliver(Array(#"{"commandId":"\#(UUIDv7.make().uuidString)","outcome":{}}"#.utf8))
                    }
                    consumer.ack(delivery)
                }
            }
            defer { answerer.cancel() }
            try await body(bus)
        }
    }

    /// The caller gets the reply's bytes as sent, and a second copy of the reply, or one for
    /// nobody, changes nothing.
    func testTheReplyEndsTheWaitWithItsBytes() async throws {
        try await withAnsweringBus { bus in
            for _ in 0..<3 {
                let reply = String(decoding: try await bus.sendRaw(Self.create), as: UTF8.self)
                XCTAssertTrue(reply.hasSuffix(#","outcome":{"answered":true}}"#), reply)
            }
        }
    }

    /// A caller that does not wait is answered once, with the reply's bytes, however many
    /// copies of the reply come.
    func testACallerThatDoesNotWaitIsAnsweredOnceWithTheReply() async throws {
        try await withAnsweringBus { bus in
            let answers = Mutex<[Result<[UInt8], any Error>]>([])
            let id = bus.sendRaw(Self.create) { answer in answers.withLock { $0.append(answer) } }
            XCTAssertNotNil(id)
            let deadline = ContinuousClock.now + .seconds(5)
            while answers.withLock({ $0.isEmpty }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            try await Task.sleep(for: .milliseconds(200))
            let got = answers.withLock { $0 }
            XCTAssertEqual(got.count, 1, "answered \(got.count) times")
            let reply = String(decoding: try XCTUnwrap(got.first).get(), as: UTF8.self)
            XCTAssertTrue(reply.hasSuffix(#","outcome":{"answered":true}}"#), reply)
        }
    }

    /// Until its confirm a command is the broker's: a broker that stops answering fails the send
    /// as unavailable (503) once the publisher gives it up, not as a reply timeout, even when the
    /// reply timeout is shorter.
    func testAnUnconfirmedCommandFailsAsUnavailableNotAsATimeout() async throws {
        try await withBus(timeout: .milliseconds(200), confirmTimeout: .seconds(1)) { bus, _, _ in
            let broker = try StoppedServer(listeningOn: TestServices.amqp.port, name: "RabbitMQ")
            defer { broker.resume() }
            let start = ContinuousClock.now
            do {
                _ = try await bus.send(Self.create)
                XCTFail("a send to a stopped broker returned")
            } catch let error as QueueError {
                guard case .unavailable = error else { return XCTFail("\(error)") }
            }
            XCTAssertLessThan(ContinuousClock.now - start, .seconds(4))
            broker.resume()
        }
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
