import Foundation
import ParleyCore
import ParleyQueue
import ParleyTestSupport
import XCTest

/// Against the real RabbitMQ: each test declares its own quorum queue on its own exchange and
/// deletes nothing it did not make.
final class QueueTests: XCTestCase {
    var topology: Topology!
    var queue: String!
    var parked: String!

    override func setUp() {
        let id = UUID().uuidString.prefix(8).lowercased()
        queue = "test.\(id).work"
        parked = "test.\(id).parked"
        topology = Topology(exchange: "parley.test", queues: [
            .init(name: parked, bindings: []),
            .init(name: queue, bindings: ["test.\(id).#"], deliveryLimit: 3, deadLetterQueue: parked),
        ])
    }

    override func tearDown() async throws {
        try? await QueueAdmin.delete(queues: [queue, parked], endpoint: TestServices.amqp)
    }

    func publisher() async throws -> QueuePublisher {
        let publisher = QueuePublisher(endpoint: TestServices.amqp, topology: topology, logger: TestServices.logger("pub"))
        publisher.start()
        let connected = await publisher.waitUntilConnected()
        XCTAssertTrue(connected, "RabbitMQ is not reachable at \(TestServices.config.amqpURL): run `make services-up`")
        return publisher
    }

    func consumer(_ name: String? = nil, prefetch: Int = 10) -> QueueConsumer {
        let consumer = QueueConsumer(endpoint: TestServices.amqp, topology: topology, queue: name ?? queue, prefetch: prefetch, logger: TestServices.logger("con"))
        consumer.start()
        return consumer
    }

    var key: String { queue.replacingOccurrences(of: ".work", with: ".item") }

    func testPublishedMessagesAreConsumedInOrderAndAcked() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        // Concurrent publishers share one connection and each waits for its own confirm.
        let key = key
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask { try await publisher.publish(Array("m\(i)".utf8), routingKey: key, messageId: "\(i)") }
            }
            try await group.waitForAll()
        }
        let consumer = consumer(prefetch: 50)
        var bodies = Set<String>()
        for await delivery in consumer.deliveries {
            bodies.insert(String(decoding: delivery.body, as: UTF8.self))
            XCTAssertEqual(delivery.routingKey, key)
            XCTAssertFalse(delivery.redelivered)
            consumer.ack(delivery)
            if bodies.count == 200 { break }
        }
        XCTAssertEqual(bodies, Set((0..<200).map { "m\($0)" }))
        consumer.stop()
        for await _ in consumer.deliveries {}  // ends once the connection is closed

        // Everything was acked: a new consumer finds the queue empty.
        let again = self.consumer()
        defer { again.stop() }
        let leftover = await next(from: again.deliveries, timeout: .milliseconds(700))
        XCTAssertNil(leftover)
    }

    func testRejectedWithRequeueComesBackCounted() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        try await publisher.publish(Array("again".utf8), routingKey: key)
        let consumer = consumer()
        defer { consumer.stop() }
        let first = await next(from: consumer.deliveries)
        XCTAssertEqual(first?.deliveryCount, 0)
        consumer.reject(try XCTUnwrap(first), requeue: true)
        let second = await next(from: consumer.deliveries)
        XCTAssertEqual(second.map { String(decoding: $0.body, as: UTF8.self) }, "again")
        XCTAssertTrue(second?.redelivered ?? false)
        XCTAssertEqual(second?.deliveryCount, 1)
        consumer.ack(try XCTUnwrap(second))
    }

    func testRejectedWithoutRequeueIsParked() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        try await publisher.publish(Array("poison".utf8), routingKey: key)
        let consumer = consumer()
        let delivery = await next(from: consumer.deliveries)
        consumer.reject(try XCTUnwrap(delivery), requeue: false)
        let parkedConsumer = self.consumer(parked)
        defer {
            consumer.stop()
            parkedConsumer.stop()
        }
        let parkedDelivery = await next(from: parkedConsumer.deliveries)
        XCTAssertEqual(parkedDelivery.map { String(decoding: $0.body, as: UTF8.self) }, "poison")
    }

    func testUnroutableMessageIsAnErrorNotASilentDrop() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        do {
            try await publisher.publish(Array("lost".utf8), routingKey: "nobody.listens.here")
            XCTFail("an unroutable publish was confirmed")
        } catch let error as QueueError {
            guard case .rejected = error else { return XCTFail("\(error)") }
        }
    }

    func testPublishFailsAtOnceWhenTheBrokerIsUnreachable() async throws {
        var endpoint = TestServices.amqp
        endpoint.port = 1  // nothing listens there
        let publisher = QueuePublisher(endpoint: endpoint, topology: topology, logger: TestServices.logger("pub"))
        publisher.start()
        defer { publisher.stop() }
        let start = ContinuousClock.now
        do {
            try await publisher.publish(Array("x".utf8), routingKey: key)
            XCTFail("published without a broker")
        } catch let error as QueueError {
            guard case .unavailable = error else { return XCTFail("\(error)") }
        }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1))
    }
}
