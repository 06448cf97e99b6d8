import Foundation
import ParleyMedia
import XCTest

/// The piecewise UTF-8 check against the standard library's whole-buffer one, with the pieces'
/// ends falling everywhere, inside scalars too.
final class UTF8FileTests: XCTestCase {
    /// One to four bytes each.
    static let scalars: [String] = ["a", " ", "\n", "é", "ß", "€", "한", "😀", "𝄞"]
    static let invalid: [[UInt8]] = [
        [0x80],  // a continuation byte alone
        [0xC3],  // a lead byte without its continuation
        [0xE2, 0x82],  // three bytes cut short
        [0xF0, 0x9F, 0x98],  // four bytes cut short
        [0xC0, 0xAF],  // overlong
        [0xED, 0xA0, 0x80],  // a surrogate
        [0xF4, 0x90, 0x80, 0x80],  // past U+10FFFF
        [0xFF],
    ]

    func testEveryPieceSizeAgreesWithTheWholeCheck() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<300 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &generator) {
                bytes += Array(Self.scalars.randomElement(using: &generator)!.utf8)
            }
            // Two rounds in three hold one flaw, anywhere, end included.
            if round % 3 != 0 {
                let at = Int.random(in: 0...bytes.count, using: &generator)
                bytes.insert(contentsOf: Self.invalid.randomElement(using: &generator)!, at: at)
            }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            let path = try Self.write(bytes)
            defer { try? FileManager.default.removeItem(atPath: path) }
            for chunkSize in [4, 5, 6, 7, 13, 64 * 1024] {
                XCTAssertEqual(try UTF8File.isValid(fileAt: path, chunkSize: chunkSize), expected, "\(bytes) in pieces of \(chunkSize)")
            }
        }
    }

    func testAScalarCutByTheFilesEndIsRefusedAndAMissingFileIsUnreadable() throws {
        let path = try Self.write(Array("text ends in ".utf8) + [0xF0, 0x9F, 0x98])
        defer { try? FileManager.default.removeItem(atPath: path) }
        XCTAssertFalse(try UTF8File.isValid(fileAt: path, chunkSize: 4))
        XCTAssertFalse(try UTF8File.isValid(fileAt: path))
        XCTAssertThrowsError(try UTF8File.isValid(fileAt: path + ".missing")) { error in
            guard case .unreadable = error as? MediaError else { return XCTFail("\(error)") }
        }
    }

    static func write(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "parley-utf8-\(UUID().uuidString)"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}
