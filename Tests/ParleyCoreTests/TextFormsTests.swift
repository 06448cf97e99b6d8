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
        XCTAssertEqual(Self.userId(fromChannel: Channels.user(id)), id)
        XCTAssertEqual(Self.userId(fromChannel: "parley:user:" + id.uppercased), id)
        for channel in [Channels.node("gw-1"), "parley:user:", "parley:user:" + id.lowercased + "x", "parley:usér:" + id.lowercased, "parley:user:" + id.lowercased.dropLast() + "g",
            "Parley:user:" + id.lowercased, "parley:user;" + id.lowercased, "xparley:user:" + id.lowercased.dropLast()] {
            XCTAssertNil(Self.userId(fromChannel: channel), channel)
        }
    }

    /// A channel's name as the subscriber hands it over: bytes.
    private static func userId(fromChannel channel: String) -> UUID? {
        Array(channel.utf8).withUnsafeBytes { Channels.userId(fromChannel: $0) }
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
            // Taken to the microsecond first: within half of one below a millisecond, the next
            // millisecond (the style cuts the time as it is).
            let sinceReference = date.timeIntervalSinceReferenceDate
            let fraction = sinceReference - sinceReference.rounded(.down)
            let carries = fraction.isFinite && Int((fraction * 1_000_000).rounded()) / 1000 != Int((fraction * 1000).rounded(.down))
            let expected = carries ? date.addingTimeInterval(0.000_001) : date
            XCTAssertEqual(written, "[\"\(expected.formatted(style))\"]", "\(sinceReference)")
        }
    }

    func testATimestampReadIsWrittenBackAsTheSameText() throws {
        var generator = SystemRandomNumberGenerator()
        var millis: [Int64] = [0, 999, 978_307_199_936, 978_307_200_000, 951_782_400_000, 4_107_542_399_999, 253_402_300_799_999]
        millis += (0..<20_000).map { _ in Int64.random(in: 0..<253_402_300_800_000, using: &generator) }
        for milli in millis {
            // Written from the middle of the millisecond, so that the text is that millisecond.
            let sinceReference = Double(milli - 978_307_200_000) / 1000
            let text = String(decoding: try JSON.encode([Date(timeIntervalSinceReferenceDate: sinceReference + 0.0005)]), as: UTF8.self)
            let read = try JSON.decode([Date].self, from: Data(text.utf8))[0]
            XCTAssertEqual(String(decoding: try JSON.encode([read]), as: UTF8.self), text, "read back from \(text)")
            // The instant written, not one near it.
            XCTAssertEqual(read.timeIntervalSinceReferenceDate, sinceReference, accuracy: max(1e-6, 2 * sinceReference.ulp), text)
        }
    }

    func testTimestampsInOtherFormsAreReadAsTheISO8601StyleReadsThem() throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        // Other forms, years before 1970, and times the style takes leniently (a day or an hour past the end).
        for text in ["2026-11-29T05:50:01.5Z", "2026-11-29T07:50:01.936+02:00", "1969-12-31T23:59:59.250Z", "2026-11-29T05:50:01.123456Z",
                     "2026-02-29T00:00:00.000Z", "2026-11-29T24:00:00.000Z"] {
            XCTAssertEqual(try JSON.decode([Date].self, from: Data("[\"\(text)\"]".utf8)), [try style.parse(text)], text)
        }
        XCTAssertEqual(try JSON.decode([Date].self, from: Data("[\"2026-11-29T05:50:01Z\"]".utf8)),
                       [try Date.ISO8601FormatStyle().parse("2026-11-29T05:50:01Z")])
        for text in ["2026-13-01T00:00:00.000Z", "2026-11-29T05:50:01.93xZ", "2026-11-29 05:50:01.936Z", "yesterday"] {
            XCTAssertThrowsError(try JSON.decode([Date].self, from: Data("[\"\(text)\"]".utf8)), text)
        }
    }
}
