import CHiredis

/// One hiredis context. Not thread-safe: created, used and freed on one ``IOThread``.
final class RedisConnection {
    let context: UnsafeMutablePointer<redisContext>

    init(_ endpoint: RedisEndpoint) throws(RedisError) {
        var err = [CChar](repeating: 0, count: 256)
        guard let context = parley_redis_connect(
            endpoint.host, Int32(endpoint.port), Int32(endpoint.connectTimeoutMilliseconds),
            Int32(endpoint.timeoutMilliseconds), &err, err.count
        ) else {
            throw .unavailable(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.context = context
    }

    deinit { redisFree(context) }

    var errorText: String { String(cString: parley_redis_errstr(context)) }

    /// Queues a command in the output buffer; nothing is sent before ``flush()``.
    func append(_ arguments: [[UInt8]]) {
        let lengths = arguments.map(\.count)
        // hiredis copies the arguments into its buffer during the call.
        withPointers(arguments) { pointers in
            var pointers = pointers
            _ = redisAppendCommandArgv(context, Int32(arguments.count), &pointers, lengths)
        }
    }

    func flush() throws(RedisError) {
        if parley_redis_flush(context) != 0 { throw .unavailable(errorText) }
    }

    /// Reads the next reply, blocking up to the connection's timeout.
    func readReply() throws(RedisError) -> RedisValue {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw .unavailable(errorText) }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return RedisValue(reply.pointee)
    }

    /// A reply already read into the buffer, if a whole one is there.
    func bufferedReply() throws(RedisError) -> RedisValue? {
        var reply: UnsafeMutablePointer<redisReply>?
        let got = parley_redis_next_buffered_reply(context, &reply)
        if got < 0 { throw .unavailable(errorText) }
        guard got == 1, let reply else { return nil }
        defer { freeReplyObject(reply) }
        return RedisValue(reply.pointee)
    }

    /// Lays the arguments end to end in one buffer so that one set of pointers covers them all.
    private func withPointers<R>(_ arguments: [[UInt8]], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        var flat: [UInt8] = []
        var offsets: [Int] = []
        for argument in arguments {
            offsets.append(flat.count)
            flat.append(contentsOf: argument)
        }
        flat.append(0)
        return flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            return body(offsets.map { base + $0 })
        }
    }
}

extension RedisValue {
    init(_ reply: redisReply) {
        switch reply.type {
        case REDIS_REPLY_STRING:
            self = .string(reply.str.map { [UInt8](UnsafeRawBufferPointer(start: $0, count: Int(reply.len))) } ?? [])
        case REDIS_REPLY_STATUS:
            self = .status(reply.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_ERROR:
            self = .error(reply.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_INTEGER:
            self = .integer(Int(reply.integer))
        case REDIS_REPLY_ARRAY:
            self = .array((0..<Int(reply.elements)).map { i in
                reply.element[i].map { RedisValue($0.pointee) } ?? .null
            })
        default:
            self = .null
        }
    }
}
