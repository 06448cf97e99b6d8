import CHiredis

/// One hiredis context. Not thread-safe: created, used and freed on one ``IOThread``.
final class RedisConnection {
    let context: UnsafeMutablePointer<redisContext>

    /// Where hiredis reads replies on a connection that reads them in place; freed after the
    /// reader (stored properties go after `deinit`'s body).
    private let flat: FlatReplies?

    /// - Parameter readsInPlace: replies are read with ``withBufferedReply(_:)``, into one
    ///   buffer the connection keeps, and not with ``readReply()`` (the subscriber's).
    init(_ endpoint: RedisEndpoint, readsInPlace: Bool = false) throws(RedisError) {
        var err = [CChar](repeating: 0, count: 256)
        guard let context = parley_redis_connect(
            endpoint.host, Int32(endpoint.port), Int32(endpoint.connectTimeoutMilliseconds),
            Int32(endpoint.timeoutMilliseconds), &err, err.count
        ) else {
            throw .unavailable(String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.context = context
        if readsInPlace {
            guard let flat = FlatReplies(context.pointee.reader) else {
                redisFree(context)
                throw .unavailable("out of memory")
            }
            self.flat = flat
        } else {
            flat = nil
        }
    }

    deinit { redisFree(context) }

    var errorText: String { String(cString: parley_redis_errstr(context)) }

    /// Queues a command in the output buffer; nothing is sent before ``flush()``.
    func append(_ arguments: [[UInt8]]) {
        append(formatted: Self.formatted(CollectionOfOne(arguments)))
    }

    /// Queues commands written in the protocol's own form (``write(_:into:)``,
    /// ``PublishBatch``), handed to hiredis in one piece: through `redisAppendCommandArgv` each
    /// command's arguments were first laid end to end in a buffer of ours, then formatted again
    /// by hiredis (`sdscatfmt`), a tenth of the message worker's CPU in its PUBLISHes.
    func append(formatted resp: [UInt8]) {
        guard !resp.isEmpty else { return }
        // hiredis copies the command into its buffer during the call.
        resp.withUnsafeBufferPointer { buffer in
            _ = redisAppendFormattedCommand(context, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self), buffer.count)
        }
    }

    /// Commands as RESP, one after the other, in a buffer sized once.
    static func formatted(_ commands: some Collection<[[UInt8]]>) -> [UInt8] {
        var resp: [UInt8] = []
        resp.reserveCapacity(commands.reduce(0) { $0 + size(of: $1) })
        for arguments in commands { write(arguments, into: &resp) }
        return resp
    }

    /// A command as RESP: an array of bulk strings.
    static func write(_ arguments: [[UInt8]], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "*"))
        writeDecimal(arguments.count, into: &out)
        for argument in arguments {
            argument.withUnsafeBytes { writeBulk($0, into: &out) }
        }
    }

    /// One bulk string: `$`, its length, CRLF, the bytes, CRLF.
    static func writeBulk(_ bytes: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "$"))
        writeDecimal(bytes.count, into: &out)
        out.append(contentsOf: bytes)
        out.append(0x0D)
        out.append(0x0A)
    }

    /// How many bytes ``write(_:into:)`` writes for `arguments`.
    static func size(of arguments: [[UInt8]]) -> Int {
        arguments.reduce(1 + digits(arguments.count) + 2) { $0 + bulkSize($1.count) }
    }

    /// How many bytes ``writeBulk(_:into:)`` writes for `count` bytes.
    static func bulkSize(_ count: Int) -> Int {
        1 + digits(count) + 2 + count + 2
    }

    /// `n` in decimal and a CRLF, without a `String` between.
    private static func writeDecimal(_ n: Int, into out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits(n)))
        var rest = n
        for index in (start..<out.count).reversed() {
            out[index] += UInt8(rest % 10)
            rest /= 10
        }
        out.append(0x0D)
        out.append(0x0A)
    }

    private static func digits(_ n: Int) -> Int {
        var count = 1
        var rest = n
        while rest >= 10 {
            rest /= 10
            count += 1
        }
        return count
    }

    func flush() throws(RedisError) {
        if parley_redis_flush(context) != 0 { throw .unavailable(errorText) }
    }

    /// Reads the next reply, blocking up to the connection's timeout.
    func readReply() throws(RedisError) -> RedisValue {
        precondition(flat == nil, "the connection's replies are read in place, with withBufferedReply")
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw .unavailable(errorText) }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return RedisValue(reply.pointee)
    }

    /// `body` over the next reply already read into the buffer, if a whole one is there. The
    /// subscriber reads its messages this way, in place, rather than through a ``RedisValue``
    /// tree (an array and a byte array per part), and hiredis reads them into one buffer the
    /// connection keeps (``FlatReplies``) rather than into objects of its own.
    func withBufferedReply<T>(_ body: (FlatReply) -> T) throws(RedisError) -> T? {
        guard let flat else { preconditionFailure("the connection's replies are read with readReply()") }
        let got = parley_redis_next_flat_reply(context)
        if got < 0 { throw .unavailable(errorText) }
        return got == 1 ? body(FlatReply(flat.reply)) : nil
    }
}

/// The buffer hiredis reads a connection's replies into when they are read in place
/// (``RedisConnection/withBufferedReply(_:)``), instead of objects of its own.
final class FlatReplies {
    let reply: UnsafeMutablePointer<parley_flat_reply>

    init?(_ reader: UnsafeMutablePointer<redisReader>) {
        guard let reply = parley_flat_replies(reader) else { return nil }
        self.reply = reply
    }

    deinit { parley_flat_reply_free(reply) }
}

/// A reply of one level read by hiredis into a connection's buffer, valid until the next is read.
struct FlatReply {
    private let raw: UnsafeMutablePointer<parley_flat_reply>

    init(_ raw: UnsafeMutablePointer<parley_flat_reply>) { self.raw = raw }

    /// The elements of an array that holds no arrays; nil for any other reply.
    var count: Int? {
        raw.pointee.type == REDIS_REPLY_ARRAY && raw.pointee.unreadable == 0 ? Int(raw.pointee.elements) : nil
    }

    /// The `index`th element's type (`REDIS_REPLY_STRING`, …); nil past the end.
    func type(_ index: Int) -> Int32? {
        guard let count, index < count else { return nil }
        return parley_flat_part_at(raw, Int32(index)).pointee.type
    }

    /// The bytes of the `index`th element, a string or status, valid while the reply is.
    func bytes(_ index: Int) -> UnsafeRawBufferPointer? {
        guard let type = type(index), type == REDIS_REPLY_STRING || type == REDIS_REPLY_STATUS else { return nil }
        return UnsafeRawBufferPointer(start: parley_flat_bytes(raw, Int32(index)), count: parley_flat_part_at(raw, Int32(index)).pointee.len)
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
