import Foundation
import ParleyMedia
import ParleyTestSupport
import XCTest

/// The media worker's checks on real files: libmagic for the type, libvips for the rest.
final class MediaProcessorTests: XCTestCase {
    static let images = Result { try ImageProcessor(threads: 2) }

    func processor(maxImagePixels: Int = 40_000_000) throws -> MediaProcessor {
        let allowed = ["image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain"]
        return MediaProcessor(images: try Self.images.get(), policy: MediaPolicy(allowedTypes: allowed, maxImagePixels: maxImagePixels))
    }

    /// Checks `data` as an upload declared as `declared`; derived files are removed afterwards.
    func check(_ data: Data, declared: String? = nil, maxImagePixels: Int = 40_000_000) async throws -> CheckedMedia {
        let folder = NSTemporaryDirectory() + "parley-media-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try data.write(to: URL(fileURLWithPath: "\(folder)/upload"))
        return try await processor(maxImagePixels: maxImagePixels).check(stagedAt: "\(folder)/upload", declaredType: declared) { "\(folder)/upload.\($0)" }
    }

    func testTheTypeComesFromTheBytes() async throws {
        let cases: [(Data, String)] = [
            (try MediaSamples.photo(), "image/jpeg"),
            (try await MediaSamples.converted(to: "png"), "image/png"),
            (try await MediaSamples.converted(to: "gif"), "image/gif"),
            (try await MediaSamples.converted(to: "webp"), "image/webp"),
            (MediaSamples.pdf(), "application/pdf"),
            (MediaSamples.utf8Text, "text/plain"),
        ]
        for (data, expected) in cases {
            let checked = try await check(data, declared: "application/octet-stream")
            XCTAssertEqual(checked.mimeType, expected)
            XCTAssertEqual(checked.thumbnailPath != nil, expected != "text/plain", expected)
        }
    }

    func testWhatIsNotAllowedOrNotWhatItClaimsIsRefused() async throws {
        let refusals: [(Data, String?, MediaError)] = [
            (MediaSamples.html, "image/png", .notAllowed(actual: "text/html")),
            (MediaSamples.svgWithScript, "image/svg+xml", .notAllowed(actual: "image/svg+xml")),
            (try MediaSamples.photo(), "image/png", .mismatch(declared: "image/png", actual: "image/jpeg")),
            (MediaSamples.latin1Text, "text/plain", .notUTF8),
        ]
        for (data, declared, expected) in refusals {
            do {
                _ = try await check(data, declared: declared)
                XCTFail("accepted: \(expected)")
            } catch let error as MediaError {
                XCTAssertEqual(error, expected)
            }
        }
        do {
            _ = try await check(try MediaSamples.executable(), declared: "image/png")
            XCTFail("an executable was accepted")
        } catch let error as MediaError {
            guard case .notAllowed(let actual) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(actual.hasPrefix("application/x-"), actual)
        }
        // Common aliases of a declared type are the type itself.
        let jpeg = try await check(try MediaSamples.photo(), declared: "image/jpg")
        XCTAssertEqual(jpeg.mimeType, "image/jpeg")
    }

    func testThePixelLimitIsCheckedFromTheHeader() async throws {
        do {
            _ = try await check(try MediaSamples.photo(), maxImagePixels: 1_000_000)
            XCTFail("1600×1200 passed a limit of one megapixel")
        } catch let error as MediaError {
            XCTAssertEqual(error, .tooManyPixels(width: 1600, height: 1200, pages: 1, limit: 1_000_000))
            XCTAssertEqual(error.refusal?.code, .unprocessable)
        }
    }

    func testUprightJPEGsAndPNGsLoseTheirMetadataButNotAPixel() async throws {
        let folder = NSTemporaryDirectory() + "parley-media-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let jpeg = try MediaSamples.jpegWithGPS(orientation: 1)
        try jpeg.write(to: URL(fileURLWithPath: "\(folder)/upload"))
        let checked = try await processor().check(stagedAt: "\(folder)/upload", declaredType: "image/jpeg") { "\(folder)/upload.\($0)" }
        XCTAssertTrue(checked.rewritten)
        XCTAssertEqual(checked.dimensions, .init(width: 1600, height: 1200))
        let stored = try Data(contentsOf: URL(fileURLWithPath: checked.path))
        XCTAssertNil(stored.range(of: Data("Exif".utf8)), "EXIF with GPS is gone")
        XCTAssertEqual(MediaSamples.scanData(of: stored), MediaSamples.scanData(of: jpeg), "the image data is untouched")
        XCTAssertLessThan(stored.count, jpeg.count)

        let png = MediaSamples.pngWithText(try await MediaSamples.converted(to: "png"), text: "GPS 48.8582 N 2.2945 E")
        try png.write(to: URL(fileURLWithPath: "\(folder)/png"))
        let checkedPNG = try await processor().check(stagedAt: "\(folder)/png", declaredType: "image/png") { "\(folder)/png.\($0)" }
        let storedPNG = try Data(contentsOf: URL(fileURLWithPath: checkedPNG.path))
        XCTAssertNotNil(png.range(of: Data("GPS 48.8582".utf8)))
        XCTAssertNil(storedPNG.range(of: Data("GPS 48.8582".utf8)), "text chunks are gone")
        XCTAssertEqual(checkedPNG.dimensions, .init(width: 1600, height: 1200))
        XCTAssertNotNil(checkedPNG.thumbnailPath)
    }

    func testImagesAreRewrittenUprightAndWithoutMetadata() async throws {
        let folder = NSTemporaryDirectory() + "parley-media-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try MediaSamples.jpegWithGPS().write(to: URL(fileURLWithPath: "\(folder)/upload"))
        let checked = try await processor().check(stagedAt: "\(folder)/upload", declaredType: "image/jpeg") { "\(folder)/upload.\($0)" }
        XCTAssertTrue(checked.rewritten)
        XCTAssertEqual(checked.dimensions, .init(width: 1200, height: 1600))
        let stored = try Data(contentsOf: URL(fileURLWithPath: checked.path))
        XCTAssertNil(stored.range(of: Data("Exif".utf8)))
        let thumbnail = try await Self.images.get().probe(fileAt: try XCTUnwrap(checked.thumbnailPath))
        XCTAssertEqual(thumbnail.width, 150)
        XCTAssertEqual(thumbnail.height, 200)
    }
}
