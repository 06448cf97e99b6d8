import Foundation
import ParleyCore
import ParleyPubSub
import ServiceLifecycle
import Synchronization

/// Records what arrives on Redis channels so that tests can wait for a message without competing
/// for the subscriber's single receiver.
public final class PubSubRecorder: Service, Sendable {
    public let subscriber: RedisSubscriber
    private let received = Mutex<[PubSubMessage]>([])

    public init() {
        subscriber = RedisSubscriber(endpoint: TestServices.redis, logger: TestServices.logger("recorder"))
    }

    public func run() async throws {
        subscriber.receive { [self] message in received.withLock { $0.append(message.copied) } }
        subscriber.start()
        await withGracefulShutdownHandler {
            try? await gracefulShutdown()
        } onGracefulShutdown: {
            self.subscriber.stop()
        }
    }

    public func subscribe(_ channel: String) async {
        await subscriber.subscribe(channel)
    }

    /// Takes the first recorded message on `channel` that decodes as `T` and passes `predicate`,
    /// waiting up to `timeout` for it.
    public func next<T: Decodable & Sendable>(
        _ type: T.Type, on channel: String, timeout: Duration = .seconds(10), where predicate: @Sendable (T) -> Bool = { _ in true }
    ) async -> T? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found: T? = received.withLock { messages in
                for (index, message) in messages.enumerated() where message.channel == channel {
                    if let value = try? JSON.decode(T.self, from: Data(message.payload)), predicate(value) {
                        messages.remove(at: index)
                        return value
                    }
                }
                return nil
            }
            if let found { return found }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// How many messages arrived on `channel` and are still recorded.
    public func count(on channel: String) -> Int {
        received.withLock { $0.filter { $0.channel == channel }.count }
    }
}
