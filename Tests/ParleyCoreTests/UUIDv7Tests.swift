import Foundation
import ParleyCore
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

    func testTimestampIsTheCreationTime() {
        let before = Date()
        let id = UUIDv7.make()
        let after = Date()
        let stamp = UUIDv7.timestamp(of: id).timeIntervalSince1970
        XCTAssertGreaterThanOrEqual(stamp, before.timeIntervalSince1970 - 0.001)
        XCTAssertLessThanOrEqual(stamp, after.timeIntervalSince1970 + 0.001)
    }
}
