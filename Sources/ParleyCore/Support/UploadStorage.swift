import Foundation

/// Where upload bytes live under `UPLOAD_PATH` (`design.md`, storage of files):
/// `staging/<upload id>` while an upload is checked, `objects/<aa>/<bb>/<key>` once stored, where
/// the key is the SHA-256 of the stored bytes (a thumbnail's key adds `.thumb`).
///
/// Every path is built from a UUID or a validated key, never from what a client sent.
public struct UploadStorage: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
    }

    public var stagingDirectory: String { "\(root)/staging" }
    public var objectsDirectory: String { "\(root)/objects" }

    /// An upload's bytes as the gateway received them.
    public func staged(_ uploadId: UUID) -> String { "\(stagingDirectory)/\(uploadId.lowercased)" }

    /// A file the media worker derives from an upload before storing it (`suffix` names its
    /// format for libvips, e.g. `.jpg`).
    public func derived(_ uploadId: UUID, _ suffix: String) -> String { "\(stagingDirectory)/\(uploadId.lowercased).\(suffix)" }

    /// The path of a stored object, or nil for a key that is not one.
    public func object(_ key: String) -> String? {
        guard Self.isObjectKey(key) else { return nil }
        let bytes = Array(key.utf8)
        let a = String(decoding: bytes[0..<2], as: UTF8.self)
        let b = String(decoding: bytes[2..<4], as: UTF8.self)
        return "\(objectsDirectory)/\(a)/\(b)/\(key)"
    }

    /// The key of the thumbnail of the object `key`.
    public static func thumbnailKey(of key: String) -> String { "\(key).thumb" }

    /// 64 lower-case hex digits, optionally followed by `.thumb`.
    public static func isObjectKey(_ key: String) -> Bool {
        var hex = Substring(key)
        if hex.hasSuffix(".thumb") { hex = hex.dropLast(6) }
        return hex.utf8.count == 64 && hex.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// Creates the staging and objects folders.
    public func prepare() throws {
        for directory in [stagingDirectory, objectsDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
    }
}
