import CHiredis
import XCTest

@testable import ParleyPubSub

/// Commands are written in RESP by Parley and handed to hiredis whole.
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
