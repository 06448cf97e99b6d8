import Foundation
import ParleyCore
import ParleyQueue
import ParleyTestSupport
import Synchronization
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
        // Concurrent publishers share one connection and each waits for its own confirm; what is
        // not batchable arrives as it was published, one message each.
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

    func testAcksOutOfOrderSettleOnlyWhatWasAcked() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        for body in ["one", "two", "three", "four"] { try await publisher.publish(Array(body.utf8), routingKey: key) }
        let consumer = consumer()
        var received: [String: Delivery] = [:]
        for await delivery in consumer.deliveries {
            received[String(decoding: delivery.body, as: UTF8.self)] = delivery
            if received.count == 4 { break }
        }
        // Settled behind an unsettled "two": a `multiple` ack of "four" would settle "two" too.
        for body in ["four", "one", "three"] { consumer.ack(try XCTUnwrap(received[body])) }
        try await Task.sleep(for: .milliseconds(100))
        consumer.stop()
        for await _ in consumer.deliveries {}

        let again = self.consumer()
        defer { again.stop() }
        let first = await next(from: again.deliveries, timeout: .seconds(5))
        XCTAssertEqual(first.map { String(decoding: $0.body, as: UTF8.self) }, "two")
        XCTAssertTrue(first?.redelivered ?? false)
        again.ack(try XCTUnwrap(first))
        let more = await next(from: again.deliveries, timeout: .milliseconds(700))
        XCTAssertNil(more.map { String(decoding: $0.body, as: UTF8.self) })
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

    /// With a full prefetch window, a delivery comes only once an earlier one is settled: when
    /// it comes shows when the broker got the settlement.
    func testAcksWaitForTheirDelayOrHalfThePrefetchWhileRejectsGoAtOnce() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        for i in 0..<6 { try await publisher.publish(Array("m\(i)".utf8), routingKey: key) }
        let consumer = QueueConsumer(
            endpoint: TestServices.amqp, topology: topology, queue: queue, prefetch: 4,
            settleDelay: .milliseconds(800), logger: TestServices.logger("con"))
        consumer.start()
        defer { consumer.stop() }
        let received = Mutex<[Delivery]>([])
        let reader = Task { for await delivery in consumer.deliveries { received.withLock { $0.append(delivery) } } }
        defer { reader.cancel() }
        let count: @Sendable () -> Int = { received.withLock(\.count) }
        let delivery: @Sendable (Int) -> Delivery = { i in received.withLock { $0[i] } }
        try await eventually(timeout: .seconds(5), "the first four never came") { count() == 4 }

        var start = ContinuousClock.now
        consumer.ack(delivery(0))
        try await eventually(timeout: .seconds(5), "an ack was never sent") { count() == 5 }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(750), "an ack went before its delay")

        start = ContinuousClock.now
        consumer.ack(delivery(1))
        consumer.ack(delivery(2))  // two held: half the window, sent at once
        try await eventually(timeout: .seconds(5), "two held acks were never sent") { count() == 6 }
        XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(500), "half the prefetch window waited for the delay")

        start = ContinuousClock.now
        consumer.ack(delivery(3))
        consumer.reject(delivery(4), requeue: true)  // takes the held ack along
        try await eventually(timeout: .seconds(5), "the rejected message never came back") { count() == 7 }
        XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(500), "a reject waited for the delay")
        XCTAssertEqual(String(decoding: delivery(6).body, as: UTF8.self), "m4")
        XCTAssertTrue(delivery(6).redelivered)
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

    /// A broker that stops answering without closing its connections (its process stopped with
    /// SIGSTOP): publishes fail within the confirm timeout, then at once until it answers again.
    func testPublishesFailWhenTheBrokerStopsConfirmingAndWorkOnceItAnswers() async throws {
        let publisher = QueuePublisher(endpoint: TestServices.amqp, topology: topology, confirmTimeout: .seconds(1), logger: TestServices.logger("pub"))
        publisher.start()
        defer { publisher.stop() }
        let connected = await publisher.waitUntilConnected()
        XCTAssertTrue(connected, "RabbitMQ is not reachable at \(TestServices.config.amqpURL): run `make services-up`")
        try await publisher.publish(Array("before".utf8), routingKey: key)

        let broker = try StoppedServer(listeningOn: TestServices.amqp.port, name: "RabbitMQ")
        defer { broker.resume() }

        var start = ContinuousClock.now
        let first = await Self.outcome { try await publisher.publish(Array("stalled".utf8), routingKey: self.key) }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(4), "a publish waited past its confirm timeout")
        start = ContinuousClock.now
        let second = await Self.outcome { try await publisher.publish(Array("still stalled".utf8), routingKey: self.key) }
        XCTAssertLessThan(ContinuousClock.now - start, .seconds(1), "a publish to a broker known to be gone did not fail at once")
        broker.resume()
        for outcome in [first, second] {
            guard case .failure(QueueError.unavailable) = outcome else { return XCTFail("expected unavailable, got \(outcome)") }
        }
        let key = key
        try await eventually(timeout: .seconds(60), "publishing did not work again once the broker ran") {
            (try? await publisher.publish(Array("after".utf8), routingKey: key)) != nil
        }
    }

    private static func outcome(_ body: () async throws -> Void) async -> Result<Void, any Error> {
        do { try await body(); return .success(()) } catch { return .failure(error) }
    }

    func testBatchableCommandsMeetingInThePublisherShareMessages() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        let key = key
        let commands = (0..<40).map { _ in
            Command(replyTo: nil, payload: .chatRead(ReadMark(chatId: UUIDv7.make(), userId: UUIDv7.make(), messageId: UUIDv7.make())))
        }
        // A lone command finds nothing in flight and goes alone, as itself.
        try await publisher.publish([UInt8](JSON.encode(commands[0])), routingKey: key, batchable: true)
        // The rest arrive together: the first goes at once, those behind it wait for its confirm.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for command in commands.dropFirst() {
                group.addTask { try await publisher.publish([UInt8](JSON.encode(command)), routingKey: key, batchable: true) }
            }
            try await group.waitForAll()
        }
        let consumer = consumer(prefetch: 50)
        defer { consumer.stop() }
        var received: [Command] = []
        var messages: [[UInt8]] = []
        while received.count < commands.count, let delivery = await next(from: consumer.deliveries) {
            messages.append(delivery.body)
            received += try CommandBatch.decode(delivery.body)
            consumer.ack(delivery)
        }
        XCTAssertEqual(received.map(\.id).sorted(), commands.map(\.id).sorted(), "each command exactly once")
        XCTAssertEqual(messages.first?.first, UInt8(ascii: "{"), "the lone command is not wrapped")
        XCTAssertLessThan(messages.count, commands.count / 2, "commands that met did not share messages")
    }

    struct DatabaseDown: Error, CustomStringConvertible {
        var description: String { "database down" }
    }

    func testFailedCommandComesBackAfterEachDelayThenIsParkedWithItsReason() async throws {
        topology.retryDelays = [1, 1]
        let publisher = try await publisher()
        let work = consumer()
        let parkedConsumer = consumer(parked)
        defer { for service in [work, parkedConsumer] { service.stop() }; publisher.stop() }
        let failed = FailedCommands(consumer: work, publisher: publisher, logger: TestServices.logger("failed"))
        let command = Command(replyTo: nil, payload: .chatRead(ReadMark(chatId: UUIDv7.make(), userId: UUIDv7.make(), messageId: UUIDv7.make())))
        try await publisher.publish([UInt8](JSON.encode(command)), routingKey: key)

        var last = ContinuousClock.now
        for attempt in 0...2 {
            let taken = await next(from: work.deliveries)
            let delivery = try XCTUnwrap(taken, "attempt \(attempt) never came")
            let got = try JSON.decode(Command.self, from: Data(delivery.body))
            XCTAssertEqual(got.id, command.id)
            XCTAssertEqual(got.attempt, attempt)
            XCTAssertEqual(delivery.routingKey, key, "the delay queue keeps the routing key")
            if attempt > 0 { XCTAssertGreaterThan(ContinuousClock.now - last, .milliseconds(900), "came back before its delay") }
            last = ContinuousClock.now
            work.settle(delivery, await failed.retry(got, from: delivery, error: DatabaseDown()))
        }
        let taken = await next(from: parkedConsumer.deliveries)
        let parkedDelivery = try XCTUnwrap(taken, "never parked")
        let record = try JSON.decode(ParkedCommand.self, from: Data(parkedDelivery.body))
        XCTAssertEqual(record.queue, queue)
        XCTAssertEqual(record.routingKey, key)
        XCTAssertTrue(record.reason.contains("gave up after 2 retries") && record.reason.contains("database down"), record.reason)
        let parkedCommand = try JSON.decode(Command.self, from: Data(record.body.utf8))
        XCTAssertEqual(parkedCommand.id, command.id)
    }

    func testParkedCommandsAreListedInPlaceAndReplayedOneByOne() async throws {
        let publisher = try await publisher()
        defer { publisher.stop() }
        let parkedQueue = ParkedQueue(endpoint: TestServices.amqp, topology: topology, queue: parked, logger: TestServices.logger("parked"))
        let first = Command(replyTo: nil, payload: .chatRead(ReadMark(chatId: UUIDv7.make(), userId: UUIDv7.make(), messageId: UUIDv7.make())))
        let second = Command(replyTo: nil, payload: .chatRead(ReadMark(chatId: UUIDv7.make(), userId: UUIDv7.make(), messageId: UUIDv7.make())))
        for command in [first, second] {
            let record = ParkedCommand(reason: "gave up", queue: queue, routingKey: key, body: String(decoding: try JSON.encode(command), as: UTF8.self))
            try await publisher.publish([UInt8](JSON.encode(record)), routingKey: parked, exchange: "")
        }
        let listed = await parkedQueue.list()
        XCTAssertEqual(Set(listed.compactMap(\.commandId)), [first.id, second.id])
        XCTAssertEqual(listed.first?.record.reason, "gave up")
        let again = await parkedQueue.list()
        XCTAssertEqual(again.count, 2, "listing took them away")

        let replayed = try await parkedQueue.replay(second.id, through: publisher)
        XCTAssertEqual(replayed, 1)
        let work = consumer()
        defer { work.stop() }
        let taken = await next(from: work.deliveries)
        let delivery = try XCTUnwrap(taken, "the replayed command never reached its queue")
        XCTAssertEqual(try JSON.decode(Command.self, from: Data(delivery.body)).id, second.id)
        work.ack(delivery)
        let left = await parkedQueue.list()
        XCTAssertEqual(left.compactMap(\.commandId), [first.id])
    }
}
