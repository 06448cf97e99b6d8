import Foundation

/// Drops the metadata of JPEG and PNG files without decoding them: the image data is copied
/// byte for byte, so nothing is lost and nothing is re-encoded. Only for images that are already
/// upright (orientation 1); others are re-encoded by libvips.
///
/// Kept: what decoding needs and colour (JPEG: JFIF APP0, ICC APP2, Adobe APP14, tables, frames,
/// scans; PNG: critical chunks and the colour chunks). Dropped: everything else, EXIF with GPS,
/// XMP, IPTC, comments and text chunks among it. Returns nil for a file whose structure is not
/// the expected one (the caller then re-encodes it, which also rejects it if it is corrupt).
enum MetadataStripper {
    static func jpeg(_ data: Data) -> Data? {
        let bytes = [UInt8](data)
        guard bytes.count > 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { return nil }
        var out = Data([0xFF, 0xD8])
        out.reserveCapacity(bytes.count)
        var i = 2
        while i + 4 <= bytes.count {
            guard bytes[i] == 0xFF else { return nil }
            let marker = bytes[i + 1]
            if marker == 0xFF { i += 1; continue }  // fill byte
            if marker == 0xDA {
                // Start of scan: entropy-coded data and the markers after it stay as they are.
                out.append(contentsOf: bytes[i...])
                return out
            }
            let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 2, i + 2 + length <= bytes.count else { return nil }
            let segment = bytes[i..<(i + 2 + length)]
            if keepJPEGSegment(marker, payload: bytes[(i + 4)..<(i + 2 + length)]) { out.append(contentsOf: segment) }
            i += 2 + length
        }
        return nil
    }

    private static func keepJPEGSegment(_ marker: UInt8, payload: ArraySlice<UInt8>) -> Bool {
        switch marker {
        case 0xE0: return payload.starts(with: Array("JFIF\0".utf8))
        case 0xE2: return payload.starts(with: Array("ICC_PROFILE\0".utf8))
        case 0xEE: return payload.starts(with: Array("Adobe".utf8))
        case 0xE1, 0xE3...0xED, 0xEF, 0xFE: return false  // APPn metadata, comments
        default: return true  // tables, frame headers, restart intervals
        }
    }

    /// Chunks a PNG keeps: the critical ones and those that say how to show its colours.
    private static let pngKept: Set<String> = ["IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA", "cHRM", "sRGB", "iCCP", "sBIT", "pHYs", "acTL", "fcTL", "fdAT"]

    static func png(_ data: Data) -> Data? {
        let bytes = [UInt8](data)
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.starts(with: signature) else { return nil }
        var out = Data(signature)
        out.reserveCapacity(bytes.count)
        var i = 8
        while i + 12 <= bytes.count {
            let length = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard length >= 0, i + 12 + length <= bytes.count else { return nil }
            let kind = String(decoding: bytes[(i + 4)..<(i + 8)], as: UTF8.self)
            if pngKept.contains(kind) { out.append(contentsOf: bytes[i..<(i + 12 + length)]) }
            i += 12 + length
            if kind == "IEND" { return out }
        }
        return nil
    }
}
