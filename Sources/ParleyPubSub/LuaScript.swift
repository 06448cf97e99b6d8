import Synchronization

/// A Lua script run with `EVALSHA`: loaded once per client, loaded again when the server has
/// forgotten it (a restart, `SCRIPT FLUSH`).
public final class LuaScript: Sendable {
    public let source: String
    private let sha = Mutex<String?>(nil)

    public init(_ source: String) {
        self.source = source
    }

    /// Runs the script with `arguments` as `ARGV` (no `KEYS`: one Redis server holds every key).
    public func run(on redis: RedisClient, _ arguments: [String]) async throws -> RedisValue {
        for _ in 0..<2 {
            let loaded = try await load(on: redis)
            let reply = try await redis.command(["EVALSHA", loaded, "0"] + arguments)
            if case .error(let message) = reply {
                if message.hasPrefix("NOSCRIPT") {
                    sha.withLock { $0 = nil }
                    continue
                }
                throw RedisError.reply(message)
            }
            return reply
        }
        throw RedisError.reply("script could not be loaded")
    }

    private func load(on redis: RedisClient) async throws -> String {
        if let known = sha.withLock({ $0 }) { return known }
        let reply = try await redis.command(["SCRIPT", "LOAD", source])
        guard let loaded = reply.text, case .string = reply else { throw RedisError.reply("SCRIPT LOAD: \(reply)") }
        sha.withLock { $0 = loaded }
        return loaded
    }
}
