import CHiredis
import Logging
import ParleyIOThread

/// Redis commands over one hiredis connection on a dedicated thread.
///
/// Commands from concurrent callers are pipelined: whatever is queued when the thread wakes is
/// written in one go and the replies are read back in order. The connection is opened on first
/// use and again after a failure, so a Redis restart costs the commands in flight, nothing more.
public final class RedisClient: IOThreadService, Sendable {
    private struct Request: Sendable {
        /// The commands, in RESP, written by the caller.
        let resp: [UInt8]
        /// How many replies they get.
        let replies: Int
        let continuation: CheckedContinuation<[RedisValue], any Error>
    }

    private let endpoint: RedisEndpoint
    private let logger: Logger
    private let thread: IOThread
    private let inbox = Inbox<Request>()

    public init(endpoint: RedisEndpoint, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
        self.thread = IOThread(name: "redis-client")
    }

    public func start() { thread.start { [self] in loop() } }
    public func stop() { thread.stop() }


    /// Sends one command and returns its reply (an error reply is returned, not thrown).
    public func command(_ arguments: [String]) async throws -> RedisValue {
        try await pipeline([arguments.map { Array($0.utf8) }])[0]
    }

    /// Sends several commands back to back and returns their replies in order.
    public func pipeline(_ commands: [[[UInt8]]]) async throws -> [RedisValue] {
        guard !commands.isEmpty else { return [] }
        return try await send(RedisConnection.formatted(commands), replies: commands.count)
    }

    /// Publishes `message` on `channel`; returns how many subscribers received it.
    @discardableResult
    public func publish(_ message: [UInt8], to channel: String) async throws -> Int {
        let reply = try await send(PublishBatch(message, to: channel).resp, replies: 1)[0]
        if case .integer(let n) = reply { return n }
        throw RedisError.reply("\(reply)")
    }

    /// Publishes every message of `batch` in one pipelined piece, in the order added.
    public func publish(_ batch: PublishBatch) async throws {
        guard !batch.isEmpty else { return }
        let replies = try await send(batch.resp, replies: batch.count)
        if let failure = replies.first(where: { if case .error = $0 { true } else { false } }) {
            throw RedisError.reply("\(failure)")
        }
    }

    private func send(_ resp: [UInt8], replies: Int) async throws -> [RedisValue] {
        guard !thread.isStopped else { throw RedisError.unavailable("client stopped") }
        return try await withCheckedThrowingContinuation { continuation in
            inbox.put(Request(resp: resp, replies: replies, continuation: continuation), waking: thread)
        }
    }

    // MARK: - Connection thread

    private func loop() {
        var connection: RedisConnection?
        var backoff = Backoff()
        while !thread.isStopped {
            let requests = inbox.takeAll()
            if requests.isEmpty {
                thread.wait(timeout: .seconds(1))
                continue
            }
            if connection == nil {
                do {
                    connection = try RedisConnection(endpoint)
                    backoff.reset()
                } catch {
                    logger.warning("cannot connect to redis", metadata: ["error": "\(error)"])
                    for request in requests { request.continuation.resume(throwing: error) }
                    thread.sleep(backoff.next())
                    continue
                }
            }
            if let failure = execute(requests, on: connection!) {
                // A failed connection is dropped and opened afresh for the next requests.
                logger.warning("redis connection failed", metadata: ["error": "\(failure)"])
                connection = nil
            }
        }
        for request in inbox.takeAll() { request.continuation.resume(throwing: RedisError.unavailable("client stopped")) }
    }

    /// Answers every request, with its replies or the error; returns the error that broke the
    /// connection, if one did.
    private func execute(_ requests: [Request], on connection: RedisConnection) -> RedisError? {
        for request in requests { connection.append(formatted: request.resp) }
        var answered = 0
        do {
            try connection.flush()
            for request in requests {
                var replies: [RedisValue] = []
                replies.reserveCapacity(request.replies)
                for _ in 0..<request.replies { replies.append(try connection.readReply()) }
                request.continuation.resume(returning: replies)
                answered += 1
            }
            return nil
        } catch {
            for request in requests[answered...] { request.continuation.resume(throwing: error) }
            return error
        }
    }
}
