import Foundation
import ParleyCore

/// Why an upload was refused, or could not be read.
public enum MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are of a type `ALLOWED_FILE_TYPES` does not list.
    case notAllowed(actual: String)
    /// The bytes are not what the client declared.
    case mismatch(declared: String, actual: String)
    /// `text/plain` that is not UTF-8.
    case notUTF8
    /// An image larger than `MAX_IMAGE_PIXELS` (width × height × frames).
    case tooManyPixels(width: Int, height: Int, pages: Int, limit: Int)
    /// An image or PDF that cannot be decoded.
    case corrupt(String)
    /// The staged file could not be read: a passing problem of this machine, not of the upload.
    case unreadable(String)

    public var description: String {
        switch self {
        case .notAllowed(let actual): "files of type \(actual) are not allowed"
        case .mismatch(let declared, let actual): "the file is \(actual), not \(declared) as declared"
        case .notUTF8: "text files must be UTF-8"
        case .tooManyPixels(let w, let h, let pages, let limit):
            "the image has \(w)×\(h) pixels\(pages > 1 ? " × \(pages) frames" : ""), more than the limit of \(limit)"
        case .corrupt(let why): "the file cannot be decoded (\(why))"
        case .unreadable(let why): "the upload cannot be read (\(why))"
        }
    }

    /// What the client is told; nil for a problem of the server (retry it).
    public var refusal: ParleyError? {
        switch self {
        case .notAllowed, .mismatch, .notUTF8: ParleyError(.unsupportedMediaType, description.capitalizedFirst)
        case .tooManyPixels, .corrupt: ParleyError(.unprocessable, description.capitalizedFirst)
        case .unreadable: nil
        }
    }
}

/// What the media worker may accept.
public struct MediaPolicy: Sendable {
    public var allowedTypes: Set<String>
    public var maxImagePixels: Int

    public init(allowedTypes: some Sequence<String>, maxImagePixels: Int) {
        self.allowedTypes = Set(allowedTypes.map { $0.lowercased() })
        self.maxImagePixels = maxImagePixels
    }
}

/// An upload that passed every check, ready to be stored.
public struct CheckedMedia: Sendable, Equatable {
    /// The real type, from the bytes.
    public var mimeType: String
    /// The bytes to store: the staged file itself, or its re-encoded copy without metadata.
    public var path: String
    /// Whether ``path`` is a new file (its hash is not the upload's).
    public var rewritten: Bool
    public var dimensions: MessageContent.Dimensions?
    /// A WebP that fits 200×200, for images and the first page of PDFs.
    public var thumbnailPath: String?
    /// How long making the thumbnail took.
    public var thumbnailTime: Duration?
}

/// The media worker's checks of one upload: real type from the bytes, the allow-list and the
/// declared type, UTF-8 for text, the pixel limit from the header before any decoding, then
/// images without metadata (upright JPEGs and PNGs by dropping it losslessly, the rest
/// re-encoded upright), and thumbnails. All blocking work runs on the image pool.
public final class MediaProcessor: Sendable {
    public let images: ImageProcessor
    private let sniffer = TypeSniffer()
    public let policy: MediaPolicy

    /// Image types re-encoded on arrival, with the save options of each.
    static let reencoded: [String: (suffix: String, allPages: Bool)] = [
        "image/jpeg": ("jpg[Q=90,optimize_coding]", false),
        "image/png": ("png", false),
        "image/gif": ("gif", true),
        "image/webp": ("webp[Q=90]", true),
    ]

    public init(images: ImageProcessor, policy: MediaPolicy) {
        self.images = images
        self.policy = policy
    }

    /// Checks the upload at `path`.
    /// - Parameters:
    ///   - declaredType: the part's `Content-Type`, if any.
    ///   - derived: where to write a file made from the upload, given a suffix such as `jpg`.
    /// - Throws: ``MediaError``.
    public func check(stagedAt path: String, declaredType: String?, derived: (String) -> String) async throws -> CheckedMedia {
        let sniffer = self.sniffer
        let actual = try await images.run { () throws(MediaError) -> String in try sniffer.mimeType(ofFileAt: path) }
        guard policy.allowedTypes.contains(actual) else { throw MediaError.notAllowed(actual: actual) }
        if let declared = Self.claim(declaredType), declared != actual {
            throw MediaError.mismatch(declared: declared, actual: actual)
        }
        var checked = CheckedMedia(mimeType: actual, path: path, rewritten: false)
        if actual == "text/plain" {
            let valid = try await images.run { () throws(MediaError) -> Bool in try UTF8File.isValid(fileAt: path) }
            guard valid else { throw MediaError.notUTF8 }
        } else if let encoding = Self.reencoded[actual] {
            let header = try await corruptIfFails { try await self.images.probe(fileAt: path) }
            let pixels = header.width.multipliedReportingOverflow(by: header.height)
            let total = pixels.partialValue.multipliedReportingOverflow(by: encoding.allPages ? header.pages : 1)
            guard !pixels.overflow, !total.overflow, total.partialValue <= policy.maxImagePixels else {
                throw MediaError.tooManyPixels(width: header.width, height: header.height, pages: header.pages, limit: policy.maxImagePixels)
            }
            checked.rewritten = true
            if header.orientation <= 1, let stripped = try await strippedCopy(of: path, type: actual, derived: derived) {
                // Upright already: the metadata goes, the image data stays byte for byte.
                checked.path = stripped
                checked.dimensions = .init(width: header.width, height: header.height)
            } else {
                let output = derived(encoding.suffix)
                try await corruptIfFails { try await self.images.sanitize(fileAt: path, allPages: encoding.allPages, to: output) }
                checked.path = output.split(separator: "[", maxSplits: 1).first.map(String.init) ?? output
                let upright = try await corruptIfFails { try await self.images.probe(fileAt: checked.path) }
                checked.dimensions = .init(width: upright.width, height: upright.height)
            }
            // The thumbnail decodes the image: a corrupt one is refused here.
            try await thumbnail(of: checked.path, into: &checked, derived: derived)
        } else if actual == "application/pdf" {
            try await thumbnail(of: path, into: &checked, derived: derived)
        }
        return checked
    }

    /// A JPEG or PNG without its metadata, written beside the upload; nil for other types or a
    /// structure the stripper does not follow.
    private func strippedCopy(of path: String, type: String, derived: (String) -> String) async throws -> String? {
        let output = derived("stripped")
        let written = try await images.run { () throws(MediaError) -> Bool in
            guard let data = FileManager.default.contents(atPath: path) else { throw MediaError.unreadable("cannot read \(path)") }
            let stripped = switch type {
            case "image/jpeg": MetadataStripper.jpeg(data)
            case "image/png": MetadataStripper.png(data)
            default: Data?.none
            }
            guard let stripped else { return false }
            guard FileManager.default.createFile(atPath: output, contents: stripped) else { throw MediaError.unreadable("cannot write \(output)") }
            return true
        }
        return written ? output : nil
    }

    private func thumbnail(of path: String, into checked: inout CheckedMedia, derived: (String) -> String) async throws {
        let output = derived("thumb.webp")
        let start = ContinuousClock.now
        try await corruptIfFails { try await self.images.writeThumbnail(ofFileAt: path, to: output) }
        checked.thumbnailTime = ContinuousClock.now - start
        checked.thumbnailPath = output
    }

    /// libvips failing on client bytes means the bytes are bad.
    private func corruptIfFails<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ImageError {
            throw MediaError.corrupt(error.message)
        }
    }

    /// The type a client's `Content-Type` claims, or nil when it claims nothing in particular.
    static func claim(_ declared: String?) -> String? {
        guard let declared else { return nil }
        let type = declared.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        case "", "application/octet-stream", "binary/octet-stream": return nil
        case "image/jpg", "image/pjpeg": return "image/jpeg"
        case "application/x-pdf": return "application/pdf"
        default: return type
        }
    }
}

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
