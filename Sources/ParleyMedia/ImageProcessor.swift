import CVips
import NIOCore
import NIOPosix
import Synchronization

/// Why an image could not be read or written.
public struct ImageError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    init(cString buffer: [CChar]) {
        message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// Image work over libvips: header probing and thumbnails, on a thread pool sized to the
/// cores so that decoding never runs on an event loop or the cooperative pool.
public final class ImageProcessor: Sendable {
    /// Pixel size that thumbnails fit into (both sides).
    public static let thumbnailSize = 200

    private static let initialised: Result<Void, ImageError> = {
        var err = [CChar](repeating: 0, count: 512)
        // Each pool thread runs one image; libvips' own threads per image would only contend.
        if parley_vips_init("parley", 1, &err, err.count) != 0 {
            return .failure(ImageError(cString: err))
        }
        return .success(())
    }()

    private let pool: NIOThreadPool

    /// Starts libvips (once per process) and a pool of `threads` workers.
    public init(threads: Int = System.coreCount) throws(ImageError) {
        try Self.initialised.get()
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    /// Stops the pool after the work it holds.
    public func shutdown() async throws {
        try await pool.shutdownGracefully()
    }

    /// What an image's header says, read without decoding its pixels.
    public struct Header: Sendable, Equatable {
        /// Of the first page.
        public var width: Int
        public var height: Int
        /// Frames (animations) or pages; at least 1.
        public var pages: Int
        /// The EXIF orientation, 1 (upright) to 8.
        public var orientation: Int
    }

    public func probe(fileAt path: String) async throws -> Header {
        try await pool.runIfActive {
            var width: Int32 = 0
            var height: Int32 = 0
            var pages: Int32 = 0
            var orientation: Int32 = 1
            try Self.check { parley_vips_probe(path, &width, &height, &pages, &orientation, $0, $1) }
            return Header(width: Int(width), height: Int(height), pages: Int(max(1, pages)), orientation: Int(orientation))
        }
    }

    /// Decodes the image, turns it upright and writes it to `outputPath` without its metadata.
    /// - Parameters:
    ///   - allPages: keep every frame (animated GIF and WebP); single pages are auto-rotated.
    ///   - outputPath: its suffix (and options in brackets) pick the format.
    public func sanitize(fileAt path: String, allPages: Bool, to outputPath: String) async throws {
        try await pool.runIfActive {
            try Self.check { parley_vips_sanitize(path, allPages ? 1 : 0, outputPath, $0, $1) }
        }
    }

    /// Runs blocking work (file reads, libmagic) on the same pool, off the event loops.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    /// Writes a thumbnail that fits `size`×`size`, auto-rotated and without metadata.
    /// - Parameters:
    ///   - path: the source image.
    ///   - outputPath: where to write; its suffix (`.jpg`, `.webp`, `.png`) picks the format.
    ///   - size: the box the thumbnail fits in.
    public func writeThumbnail(ofFileAt path: String, to outputPath: String, fitting size: Int = thumbnailSize) async throws {
        try await pool.runIfActive {
            try Self.check { parley_vips_thumbnail(path, Int32(size), outputPath, $0, $1) }
        }
    }

    private static func check(_ body: (UnsafeMutablePointer<CChar>, Int) -> Int32) throws(ImageError) {
        var err = [CChar](repeating: 0, count: 1024)
        let result = err.withUnsafeMutableBufferPointer { body($0.baseAddress!, $0.count) }
        if result != 0 { throw ImageError(cString: err) }
    }
}
