import Foundation
import ParleyMedia
import XCTest

final class ImageProcessorTests: XCTestCase {
    static let processor = Result { try ImageProcessor(threads: 2) }

    func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures")).path
    }

    func temporary(_ suffix: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("parley-\(UUID())\(suffix)").path
    }

    func testReadsDimensionsOfARealJPEG() async throws {
        let processor = try Self.processor.get()
        let size = try await processor.probe(fileAt: try fixture("photo.jpg"))
        XCTAssertEqual(size.width, 1600)
        XCTAssertEqual(size.height, 1200)
    }

    func testThumbnailFitsTheBoxAndKeepsTheAspect() async throws {
        let processor = try Self.processor.get()
        for suffix in [".jpg", ".webp"] {
            let out = temporary(suffix)
            defer { try? FileManager.default.removeItem(atPath: out) }
            try await processor.writeThumbnail(ofFileAt: try fixture("photo.jpg"), to: out)
            let size = try await processor.probe(fileAt: out)
            XCTAssertEqual(size.width, 200, suffix)
            XCTAssertEqual(size.height, 150, suffix)
            XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: out)[.size] as! Int, 40_000)
        }
    }

    func testAnImageSmallerThanTheBoxIsNotEnlarged() async throws {
        let processor = try Self.processor.get()
        let small = temporary(".png")
        let out = temporary(".webp")
        defer { for path in [small, out] { try? FileManager.default.removeItem(atPath: path) } }
        try await processor.writeThumbnail(ofFileAt: try fixture("photo.jpg"), to: small, fitting: 64)
        let made = try await processor.probe(fileAt: small)
        XCTAssertEqual([made.width, made.height], [64, 48])
        try await processor.writeThumbnail(ofFileAt: small, to: out)
        let thumbnail = try await processor.probe(fileAt: out)
        XCTAssertEqual([thumbnail.width, thumbnail.height], [64, 48])
    }

    func testTruncatedImageIsAnError() async throws {
        let processor = try Self.processor.get()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: try fixture("photo.jpg")))
        let truncated = temporary(".jpg")
        try bytes.prefix(bytes.count / 3).write(to: URL(fileURLWithPath: truncated))
        defer { try? FileManager.default.removeItem(atPath: truncated) }
        let out = temporary(".jpg")
        do {
            try await processor.writeThumbnail(ofFileAt: truncated, to: out)
            XCTFail("a truncated JPEG made a thumbnail")
        } catch is ImageError {}
        try? FileManager.default.removeItem(atPath: out)
    }

    func testLoadersOutsideTheAllowListAreBlocked() async throws {
        // SVG has a libvips loader on this system; Parley must never run it on client bytes.
        let processor = try Self.processor.get()
        let svg = temporary(".svg")
        try #"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>"#
            .write(toFile: svg, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: svg) }
        do {
            _ = try await processor.probe(fileAt: svg)
            XCTFail("the SVG loader ran")
        } catch let error as ImageError {
            XCTAssertFalse(error.message.isEmpty)
        }
    }
}
