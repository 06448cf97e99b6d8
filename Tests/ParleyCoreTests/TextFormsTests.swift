import Foundation
import ParleyCore
import XCTest

/// Ids and timestamps are written by hand on the hot paths: the same text as Foundation's.
final class TextFormsTests: XCTestCase {
    func testAnIdIsWrittenAsFoundationWritesItInEitherCase() {
        for id in (0..<2_000).map({ _ in UUID() }) + [UUIDv7.make(), UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))] {
            XCTAssertEqual(id.lowercased, id.uuidString.lowercased())
            XCTAssertEqual(id.uppercased, id.uuidString)
        }
    }

    func testAUserChannelGivesBackItsUserAndNothingElseDoes() {
        let id = UUIDv7.make()
        for other in (0..<100).map({ _ in UUID() }) + [id] {
            XCTAssertEqual(Channels.user(other), "parley:user:" + other.uuidString.lowercased(), "the name design.md gives")
        }
        XCTAssertEqual(Channels.userId(fromChannel: Channels.user(id)), id)
        XCTAssertEqual(Channels.userId(fromChannel: "parley:user:" + id.uppercased), id)
        for channel in [Channels.node("gw-1"), "parley:user:", "parley:user:" + id.lowercased + "x", "parley:usér:" + id.lowercased, "parley:user:" + id.lowercased.dropLast() + "g"] {
            XCTAssertNil(Channels.userId(fromChannel: channel), channel)
        }
    }

    func testATimestampIsWrittenAsTheISO8601StyleWritesIt() throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var generator = SystemRandomNumberGenerator()
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 0.9995), Date(timeIntervalSince1970: 0.99999999),
            Date(timeIntervalSince1970: 951_782_400), Date(timeIntervalSince1970: 4_107_542_399.999),  // 2000-02-29, 2100-02-28
            Date(timeIntervalSinceReferenceDate: 0), Date(timeIntervalSinceReferenceDate: -0.0005),
            Date(timeIntervalSince1970: 253_402_300_799.9995), Date(timeIntervalSince1970: 253_402_300_800),  // the last of 9999, then 10000
            Date(timeIntervalSince1970: -1.0004), Date(timeIntervalSince1970: -62_135_596_800),  // before 1970, year 1
            Date(), .distantPast, .distantFuture,
        ]
        for _ in 0..<5_000 {
            dates.append(Date(timeIntervalSince1970: Double.random(in: 0..<4e9, using: &generator)))
            // Whole milliseconds, as stored timestamps and UUIDv7 times are.
            dates.append(Date(timeIntervalSince1970: Double(Int64.random(in: 0..<4_000_000_000_000, using: &generator)) / 1000))
        }
        for date in dates {
            let written = String(decoding: try JSON.encode([date]), as: UTF8.self)
            XCTAssertEqual(written, "[\"\(date.formatted(style))\"]", "\(date.timeIntervalSinceReferenceDate)")
        }
    }
}
