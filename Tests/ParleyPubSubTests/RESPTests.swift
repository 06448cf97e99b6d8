import CHiredis
import Foundation
import ParleyCore
import XCTest

@testable import ParleyPubSub

/// Commands are written in RESP by Parley and handed to hiredis whole; the subscriber's replies
/// are read by hiredis into a buffer of Parley's.
final class RESPTests: XCTestCase {
    /// Byte for byte what hiredis' own formatter writes, for any arguments: empty, binary,
    /// with CR and LF inside, long.
    func testACommandIsWrittenAsHiredisFormatsIt() throws {
        var cases: [[[UInt8]]] = [[Array("PUBLISH".utf8), Array("parley:user:x".utf8), Array("{}".utf8)], [[]], [[0x0D, 0x0A], [], [0]]]
        // Lengths at each power of ten and on either side of it.
        for power in [1, 10, 100, 1_000, 10_000, 100_000] {
            cases.append([[UInt8](repeating: 1, count: power - 1), [UInt8](repeating: 2, count: power), [UInt8](repeating: 3, count: power + 1)])
        }
        for _ in 0..<300 {
            cases.append((0..<Int.random(in: 1...6)).map { _ in
                let seed = UInt8.random(in: 0...255)
                return (0..<Int.random(in: 0...(Int.random(in: 0..<10) == 0 ? 70_000 : 40))).map { UInt8(truncatingIfNeeded: $0 &* 131) ^ seed }
            })
        }
        for arguments in cases {
            var ours: [UInt8] = []
            RedisConnection.write(arguments, into: &ours)
            XCTAssertEqual(ours, try hiredisFormat(arguments), "\(arguments.map(\.count))")
            XCTAssertEqual(RedisConnection.size(of: arguments), ours.count)
        }
    }

    /// A batch of PUBLISHes is, byte for byte, each PUBLISH written as a command alone (which
    /// the test above holds to hiredis' formatting), in the order added: to channels by name
    /// and to users' channels, of payloads of any bytes and lengths.
    func testABatchOfPublishesIsEachPublishAsACommand() {
        var batch = PublishBatch()
        var expected: [UInt8] = []
        var added = 0
        for round in 0..<200 {
            let payload = (0..<Int.random(in: 0...(round % 20 == 0 ? 20_000 : 300))).map { _ in UInt8.random(in: 0...255) }
            if Bool.random() {
                let channel = "test:chan:\(round):" + String(repeating: "x", count: Int.random(in: 0...120))
                batch.add(payload, to: channel)
                RedisConnection.write([Array("PUBLISH".utf8), Array(channel.utf8), payload], into: &expected)
                added += 1
            } else {
                let users = (0..<Int.random(in: 0...12)).map { _ in UUID() }
                if users.count == 1 { batch.add(payload, toUser: users[0]) } else { batch.add(payload, toUsers: users) }
                for user in users { RedisConnection.write([Array("PUBLISH".utf8), Array(Channels.user(user).utf8), payload], into: &expected) }
                added += users.count
            }
        }
        XCTAssertEqual(batch.count, added)
        XCTAssertEqual(batch.resp.count, expected.count)
        XCTAssertTrue(batch.resp == expected, "the batch's bytes differ from the commands'")
    }

    /// A reply read into the connection's flat buffer holds what hiredis' own objects hold, for
    /// replies of one level (what pub/sub sends), however the bytes are cut into reads; deeper or
    /// longer arrays are refused, and the reply after them is read again.
    func testRepliesReadFlatHoldWhatHiredisReads() throws {
        enum Part { case string([UInt8]), status(String), integer(Int), none }
        func resp(_ part: Part) -> [UInt8] {
            switch part {
            case .string(let bytes): Array("$\(bytes.count)\r\n".utf8) + bytes + [0x0D, 0x0A]
            case .status(let text): Array("+\(text)\r\n".utf8)
            case .integer(let n): Array(":\(n)\r\n".utf8)
            case .none: Array("$-1\r\n".utf8)
            }
        }
        func randomPart() -> Part {
            switch Int.random(in: 0..<8) {
            case 0: .integer(Int.random(in: -1_000...1_000_000))
            case 1: .none
            case 2: .status("OK")
            default: .string((0..<Int.random(in: 0...(Int.random(in: 0..<8) == 0 ? 20_000 : 60))).map { _ in UInt8.random(in: 0...255) })
            }
        }
        var replies: [[UInt8]] = [
            Array("*3\r\n$7\r\nmessage\r\n$12\r\nparley:x:one\r\n$0\r\n\r\n".utf8),
            Array("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n".utf8),
            Array("*0\r\n".utf8),
            Array("*-1\r\n".utf8),
            Array("*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n".utf8),
            Array("*5\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n".utf8),
            Array("+PONG\r\n".utf8),
            Array("$3\r\nabc\r\n".utf8),
        ]
        for _ in 0..<300 {
            let parts = (0..<Int.random(in: 0...Int(PARLEY_FLAT_PARTS))).map { _ in randomPart() }
            replies.append(Array("*\(parts.count)\r\n".utf8) + parts.flatMap(resp))
        }
        let stream = replies.flatMap { $0 }

        let hiredis = try XCTUnwrap(redisReaderCreate())
        let flatReader = try XCTUnwrap(redisReaderCreate())
        defer {
            redisReaderFree(hiredis)
            redisReaderFree(flatReader)
        }
        let flat = try XCTUnwrap(FlatReplies(flatReader))
        var expected: [RedisValue] = []
        var read: [(count: Int?, parts: [RedisValue])] = []
        var offset = 0
        while offset < stream.count {
            let cut = min(stream.count - offset, Int.random(in: 0..<4) == 0 ? 1 : Int.random(in: 1...5_000))
            stream[offset..<(offset + cut)].withUnsafeBytes { chunk in
                let bytes = chunk.baseAddress!.assumingMemoryBound(to: CChar.self)
                XCTAssertEqual(redisReaderFeed(hiredis, bytes, cut), REDIS_OK)
                XCTAssertEqual(redisReaderFeed(flatReader, bytes, cut), REDIS_OK)
            }
            offset += cut
            var object: UnsafeMutableRawPointer?
            while redisReaderGetReply(hiredis, &object) == REDIS_OK, let reply = object {
                expected.append(RedisValue(reply.assumingMemoryBound(to: redisReply.self).pointee))
                freeReplyObject(reply)
                object = nil
            }
            while redisReaderGetReply(flatReader, &object) == REDIS_OK, object != nil {
                let reply = FlatReply(flat.reply)
                read.append((reply.count, (0..<(reply.count ?? 0)).map { index in
                    switch reply.type(index) {
                    case REDIS_REPLY_STRING: .string([UInt8](reply.bytes(index)!))
                    case REDIS_REPLY_STATUS: .status(String(decoding: reply.bytes(index)!, as: UTF8.self))
                    case REDIS_REPLY_INTEGER: .integer(Int(parley_flat_part_at(flat.reply, Int32(index)).pointee.integer))
                    default: .null
                    }
                }))
                object = nil
            }
        }
        XCTAssertEqual(expected.count, replies.count)
        XCTAssertEqual(read.count, replies.count)
        // One reply at a time: the buffer is reused, not grown by every reply.
        XCTAssertLessThanOrEqual(flat.reply.pointee.capacity, max(4_096, 2 * replies.map(\.count).max()!))
        for (reply, (count, parts)) in zip(expected, read) {
            guard case .array(let elements) = reply, elements.count <= Int(PARLEY_FLAT_PARTS),
                  !elements.contains(where: { if case .array = $0 { true } else { false } })
            else {
                XCTAssertNil(count, "\(reply) is not of one level")
                continue
            }
            XCTAssertEqual(count, elements.count)
            XCTAssertEqual(parts, elements)
        }
    }

    private func hiredisFormat(_ arguments: [[UInt8]]) throws -> [UInt8] {
        let flat: [UInt8] = arguments.flatMap { $0 } + [0]
        var offsets: [Int] = []
        var offset = 0
        for argument in arguments {
            offsets.append(offset)
            offset += argument.count
        }
        return try flat.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            var target: UnsafeMutablePointer<CChar>?
            let length = redisFormatCommandArgv(&target, Int32(arguments.count), &argv, arguments.map(\.count))
            let command = try XCTUnwrap(target)
            defer { redisFreeCommand(command) }
            return [UInt8](UnsafeRawBufferPointer(start: command, count: Int(length)))
        }
    }
}
