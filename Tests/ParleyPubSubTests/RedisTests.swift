import Foundation
import ParleyCore
import ParleyPubSub
import ParleyTestSupport
import XCTest

/// Against the real Redis of `make services-up`.
final class RedisTests: XCTestCase {
    func client() -> RedisClient {
        let client = RedisClient(endpoint: TestServices.redis, logger: TestServices.logger("redis"))
        client.start()
        return client
    }

    /// A subscriber of the test Redis, started, and what it receives.
    func startedSubscriber() -> (RedisSubscriber, AsyncStream<PubSubMessage>) {
        let subscriber = RedisSubscriber(endpoint: TestServices.redis, logger: TestServices.logger("sub"))
        let (messages, received) = AsyncStream.makeStream(of: PubSubMessage.self)
        subscriber.receive { received.yield($0.copied) }
        subscriber.start()
        return (subscriber, messages)
    }

    /// `body` with a client, and a started subscriber of a new channel and what it receives;
    /// both stopped afterwards.
    func withSubscribedChannel(_ body: (RedisClient, RedisSubscriber, AsyncStream<PubSubMessage>, String) async throws -> Void) async throws {
        let redis = client()
        let (subscriber, messages) = startedSubscriber()
        defer {
            redis.stop()
            subscriber.stop()
        }
        let channel = "test:chan:\(UUID())"
        await subscriber.subscribe(channel)
        try await body(redis, subscriber, messages, channel)
    }

    func testCommandsAndPipelinesReturnRepliesInOrder() async throws {
        let redis = client()
        defer { redis.stop() }
        let key = "test:\(UUID())"
        let pong = try await redis.command(["PING"])
        XCTAssertEqual(pong.text, "PONG", "Redis is not reachable at \(TestServices.config.redisURL): run `make services-up`")
        let replies = try await redis.pipeline([
            [Array("SET".utf8), Array(key.utf8), [0, 1, 2, 255]],
            [Array("GET".utf8), Array(key.utf8)],
            [Array("INCR".utf8), Array(key.utf8)],
            [Array("DEL".utf8), Array(key.utf8)],
        ])
        XCTAssertEqual(replies[0], .status("OK"))
        XCTAssertEqual(replies[1], .string([0, 1, 2, 255]), "binary values survive")
        guard case .error = replies[2] else { return XCTFail("INCR of a non-number should be an error reply") }
        XCTAssertEqual(replies[3], .integer(1))
    }

    func testConcurrentCallersEachGetTheirOwnReply() async throws {
        let redis = client()
        defer { redis.stop() }
        let prefix = "test:\(UUID())"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<300 {
                group.addTask {
                    _ = try await redis.command(["SET", "\(prefix):\(i)", "\(i)"])
                    let value = try await redis.command(["GET", "\(prefix):\(i)"])
                    XCTAssertEqual(value.text, "\(i)")
                }
            }
            try await group.waitForAll()
        }
        _ = try await redis.command(["DEL"] + (0..<300).map { "\(prefix):\($0)" })
    }

    func testSubscriberReceivesOnlyChannelsItHolds() async throws {
        try await withSubscribedChannel { redis, subscriber, messages, a in
            let b = "test:chan:\(UUID())"
            await subscriber.subscribe(b)
            let receivers = try await redis.publish(Array("one".utf8), to: a)
            XCTAssertEqual(receivers, 1)
            let first = await next(from: messages)
            XCTAssertEqual(first?.channel, a)
            XCTAssertEqual(first.map { String(decoding: $0.payload, as: UTF8.self) }, "one")

            subscriber.unsubscribe(a)
            try await eventually("unsubscribe never reached Redis") { try await redis.publish(Array("gone".utf8), to: a) == 0 }
            var batch = PublishBatch()
            batch.add(Array("ignored".utf8), to: a)
            batch.add(Array("two".utf8), to: b)
            try await redis.publish(batch)
            // Probes published while the unsubscribe was on its way may still be queued: skip them.
            let second = await next(from: messages) { String(decoding: $0.payload, as: UTF8.self) != "gone" }
            XCTAssertEqual(second?.channel, b)
            XCTAssertEqual(second.map { String(decoding: $0.payload, as: UTF8.self) }, "two")
            XCTAssertEqual(subscriber.channels, [b])

            // Payloads are bytes of a length, not C strings: NULs, any byte, nothing at all.
            let binary: [UInt8] = [0, 255, 0x0D, 0x0A, 0, 42]
            batch = PublishBatch()
            batch.add(binary, to: b)
            batch.add([], to: b)
            try await redis.publish(batch)
            let third = await next(from: messages)
            let fourth = await next(from: messages)
            XCTAssertEqual(third?.payload, binary)
            XCTAssertEqual(fourth?.payload, [])
            XCTAssertEqual(fourth?.channel, b)
        }
    }

    /// A burst many reads long, its messages cut anywhere by the reads and the pieces the reader
    /// is given, one of them longer than a read: each arrives whole, once, in order.
    func testSubscriberReadsABurstOfMessagesWhole() async throws {
        try await withSubscribedChannel { redis, _, messages, channel in
            let sizes = (0..<600).map { index in index == 300 ? 150_000 : Int.random(in: 0...3_000) }
            let payloads = sizes.enumerated().map { index, size in
                Array("\(index):".utf8) + (0..<size).map { _ in UInt8.random(in: 0...255) }
            }
            var batch = PublishBatch()
            for payload in payloads { batch.add(payload, to: channel) }
            try await redis.publish(batch)
            for (index, payload) in payloads.enumerated() {
                let message = await next(from: messages)
                XCTAssertEqual(message?.channel, channel)
                guard message?.payload == payload else {
                    return XCTFail("message \(index) of \(payloads.count) (\(payload.count) bytes) arrived as \(message?.payload.count ?? -1) bytes")
                }
            }
        }
    }

    func testSubscriberSubscribesAgainAfterItsConnectionIsCut() async throws {
        try await withSubscribedChannel { redis, subscriber, messages, channel in
            // Every subscriber's connection goes: any other one of this process comes back the same way.
            let cut = try await redis.command(["CLIENT", "KILL", "TYPE", "pubsub"])
            guard case .integer(let count) = cut, count >= 1 else { return XCTFail("no subscriber connection was cut: \(cut)") }
            try await eventually("the subscriber never subscribed again") { try await redis.publish(Array("after".utf8), to: channel) == 1 }
            let after = await next(from: messages) { String(decoding: $0.payload, as: UTF8.self) == "after" }
            XCTAssertEqual(after?.channel, channel)
            XCTAssertEqual(subscriber.channels, [channel])
        }
    }

    func testStoppingLetsGoOfSubscribesWaitingForRedis() async throws {
        var nowhere = TestServices.redis
        nowhere.port = 1
        let subscriber = RedisSubscriber(endpoint: nowhere, logger: TestServices.logger("sub"))
        subscriber.start()
        let (ended, end) = AsyncStream.makeStream(of: String.self)
        @Sendable func subscribe(_ channel: String) {
            Task {
                await subscriber.subscribe(channel)
                end.yield(channel)
            }
        }
        subscribe("test:a")
        subscribe("test:b")
        try await Task.sleep(for: .milliseconds(300))
        subscriber.stop()
        let first = await next(from: ended)
        let second = await next(from: ended)
        XCTAssertEqual(Set([first, second].compactMap { $0 }), ["test:a", "test:b"], "a subscribe still waits after the stop")
        subscribe("test:c")
        let late = await next(from: ended)
        XCTAssertEqual(late, "test:c", "a subscribe asked after the stop waits for nothing to come")
    }
}
