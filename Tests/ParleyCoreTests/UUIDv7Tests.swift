import Foundation
@testable import ParleyCore
import XCTest

final class UUIDv7Tests: XCTestCase {
    func testVersionAndVariantBits() {
        let id = UUIDv7.make()
        XCTAssertEqual(id.uuid.6 >> 4, 7)
        XCTAssertEqual(id.uuid.8 >> 6, 0b10)
    }

    func testIdsFromOneProcessStrictlyIncrease() {
        // Many ids fall in the same millisecond: the counter must still order them.
        let ids = (0..<20_000).map { _ in UUIDv7.make() }
        for (a, b) in zip(ids, ids.dropFirst()) {
            XCTAssertLessThan(a.lowercased, b.lowercased)
        }
        XCTAssertEqual(Set(ids).count, ids.count)
    }

    func testRandomWordsComeFreshAcrossBlocks() {
        var random = RandomBlock()
        let words = (0..<1000).map { _ in random.next() }
        // 64-bit words from a cryptographic generator do not repeat, across refills included.
        XCTAssertEqual(Set(words).count, words.count)
        let another = (0..<1000).map { _ in RandomBlock() }.map { block -> UInt64 in
            var block = block
            return block.next()
        }
        XCTAssertEqual(Set(another).count, another.count, "each block draws its own words")
        // Roughly half the bits set: not a constant or a counter.
        let ones = words.reduce(0) { $0 + $1.nonzeroBitCount }
        XCTAssertEqual(Double(ones) / Double(words.count * 64), 0.5, accuracy: 0.02)
    }

    func testTimestampIsTheCreationTime() {
        let before = Date()
        let id = UUIDv7.make()
        let after = Date()
        let stamp = UUIDv7.timestamp(of: id).timeIntervalSince1970
        XCTAssertGreaterThanOrEqual(stamp, before.timeIntervalSince1970 - 0.001)
        XCTAssertLessThanOrEqual(stamp, after.timeIntervalSince1970 + 0.001)
    }

    func testTextFormReadsAsFoundationDoes() {
        for _ in 0..<1000 {
            let id = UUID()
            XCTAssertEqual(UUID(text: id.uuidString), id)
            XCTAssertEqual(UUID(text: id.lowercased), id)
            XCTAssertEqual(UUID(text: ("parley:user:" + id.lowercased).dropFirst(12)), id, "a substring")
        }
        XCTAssertEqual(UUID(text: "0193F2A4-7c1e-7000-8000-00000000000f"), UUID(uuidString: "0193f2a4-7c1e-7000-8000-00000000000F"))
        let bad = [
            "", "0193f2a4-7c1e-7000-8000-00000000000", "0193f2a4-7c1e-7000-8000-0000000000000", "0193f2a47c1e-7000-8000-000000000000a",
            "0193f2a4-7c1e-7000-8000_000000000000", "0193f2a4-7c1e-7000-8000-00000000000g", "{0193f2a4-7c1e-7000-8000-000000000000}",
            "0193f2a4-7c1e-7000-8000-0000000000é", "0193f2a4+7c1e-7000-8000-000000000000", "0193f2a4-7c1e-7000-8000-00000000000-",
        ]
        for text in bad {
            XCTAssertNil(UUID(text: text), text)
            XCTAssertNil(UUID(uuidString: text), "Foundation agrees: \(text)")
        }
    }

    func testEveryByteInEveryPlaceIsReadOrRefused() {
        let id = Array(UUID().uuidString.utf8)
        let hex = Set("0123456789abcdefABCDEF".utf8)
        for position in id.indices {
            let dash = [8, 13, 18, 23].contains(position)
            for byte in UInt8.min...UInt8.max {
                var text = id
                text[position] = byte
                // Foundation reads the valid forms alike (it lets some others through, as spaces).
                let valid = dash ? byte == UInt8(ascii: "-") : hex.contains(byte)
                let expected = valid ? UUID(uuidString: String(decoding: text, as: UTF8.self)) : nil
                XCTAssertEqual(UUID(text: String(decoding: text, as: UTF8.self)), expected, "byte \(byte) at \(position)")
            }
        }
    }
}
