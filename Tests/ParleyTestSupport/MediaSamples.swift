import Foundation

/// Real files of every kind the upload tests send, made on the spot from one photo with the
/// `vips` command-line tool, by hand (EXIF, PDF) or with Python's zlib (the PNG bomb).
public enum MediaSamples {
    /// A 1600×1200 JPEG.
    public static var photoPath: String { TestServices.root.appendingPathComponent("Tests/ParleyMediaTests/Fixtures/photo.jpg").path }

    public static func photo() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: photoPath)) }

    /// Latitude 48°51'29.6" N, longitude 2°17'40.2" E, as the GPS IFD stores them.
    public static let latitude: [(UInt32, UInt32)] = [(48, 1), (51, 1), (2960, 100)]
    public static let longitude: [(UInt32, UInt32)] = [(2, 1), (17, 1), (4020, 100)]

    /// The photo with its own EXIF replaced by one with `orientation` (6: "rotate 90° clockwise
    /// to view") and a GPS position.
    public static func jpegWithGPS(orientation: UInt16 = 6) throws -> Data {
        let jpeg = try photo()
        var out = Data([0xFF, 0xD8])
        out.append(exifSegment(orientation: orientation))
        // Copy every segment after SOI but the APP1 (EXIF) ones.
        var i = 2
        while i + 4 <= jpeg.count, jpeg[i] == 0xFF {
            let marker = jpeg[i + 1]
            if marker == 0xDA { break }  // start of scan: the rest is image data
            let length = Int(jpeg[i + 2]) << 8 | Int(jpeg[i + 3])
            if marker != 0xE1 { out.append(jpeg[i..<(i + 2 + length)]) }
            i += 2 + length
        }
        out.append(jpeg[i...])
        return out
    }

    /// An APP1 segment: "Exif\0\0" and a little-endian TIFF with IFD0 (Orientation, GPS pointer)
    /// and a GPS IFD (latitude and longitude with their references).
    static func exifSegment(orientation: UInt16) -> Data {
        var tiff = Data("II".utf8) + le16(42) + le32(8)
        // IFD0 at 8: 2 entries, ends at 8 + 2 + 24 + 4 = 38.
        tiff += le16(2)
        tiff += entry(tag: 0x0112, type: 3, count: 1, value: le16(orientation) + le16(0))
        tiff += entry(tag: 0x8825, type: 4, count: 1, value: le32(38))
        tiff += le32(0)
        // GPS IFD at 38: 4 entries, ends at 38 + 2 + 48 + 4 = 92; rationals at 92 and 116.
        tiff += le16(4)
        tiff += entry(tag: 0x0001, type: 2, count: 2, value: Data("N\0\0\0".utf8))
        tiff += entry(tag: 0x0002, type: 5, count: 3, value: le32(92))
        tiff += entry(tag: 0x0003, type: 2, count: 2, value: Data("E\0\0\0".utf8))
        tiff += entry(tag: 0x0004, type: 5, count: 3, value: le32(116))
        tiff += le32(0)
        for (n, d) in latitude + longitude { tiff += le32(n) + le32(d) }
        let payload = Data("Exif\0\0".utf8) + tiff
        return Data([0xFF, 0xE1]) + be16(UInt16(payload.count + 2)) + payload
    }

    private static func entry(tag: UInt16, type: UInt16, count: UInt32, value: Data) -> Data {
        le16(tag) + le16(type) + le32(count) + value
    }

    private static func le16(_ v: UInt16) -> Data { Data([UInt8(v & 0xFF), UInt8(v >> 8)]) }
    private static func be16(_ v: UInt16) -> Data { Data([UInt8(v >> 8), UInt8(v & 0xFF)]) }
    private static func le32(_ v: UInt32) -> Data { Data((0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) }) }

    /// The photo converted by `vips copy` to the format of `suffix` (`png`, `gif`, `webp`).
    public static func converted(to suffix: String) async throws -> Data {
        let output = temporaryPath(suffix)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let (status, printed) = try await runProcess(URL(fileURLWithPath: "/usr/bin/vips"), ["copy", photoPath, output])
        guard status == 0 else { throw SampleError(description: "vips copy to \(suffix) failed: \(printed)") }
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    /// A one-page PDF (A4) that says "Parley"; `note` (a comment) makes its bytes unique.
    public static func pdf(note: String = "") -> Data {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            "<< /Length 44 >>\nstream\nBT /F1 48 Tf 100 700 Td (Parley) Tj ET\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        var text = "%PDF-1.4\n" + (note.isEmpty ? "" : "% \(note)\n")
        var offsets: [Int] = []
        for (n, object) in objects.enumerated() {
            offsets.append(text.utf8.count)
            text += "\(n + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = text.utf8.count
        text += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { text += String(format: "%010d 00000 n \n", offset) }
        text += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(text.utf8)
    }

    /// A valid grey PNG of `side`×`side` pixels, all black, deflated to well under a megabyte
    /// for 30000×30000: decoding it would take 900 MB.
    public static func pngBomb(side: Int = 30_000) async throws -> Data {
        let output = temporaryPath("png")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let script = """
            import struct, sys, zlib
            side = int(sys.argv[2])
            def chunk(kind, data):
                return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)
            z = zlib.compressobj(9)
            row = b'\\0' * (side + 1)
            parts = [z.compress(row) for _ in range(side)]
            parts.append(z.flush())
            with open(sys.argv[1], 'wb') as f:
                f.write(b'\\x89PNG\\r\\n\\x1a\\n')
                f.write(chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0)))
                f.write(chunk(b'IDAT', b''.join(parts)))
                f.write(chunk(b'IEND', b''))
            """
        let (status, printed) = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, output, "\(side)"])
        guard status == 0 else { throw SampleError(description: "making the PNG bomb failed: \(printed)") }
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    /// The bytes after a JPEG's first start-of-scan marker: its image data.
    public static func scanData(of jpeg: Data) -> Data? {
        guard let sos = jpeg.range(of: Data([0xFF, 0xDA])) else { return nil }
        return jpeg[sos.lowerBound...]
    }

    /// A PNG with a text chunk that says where it was taken, before its image data.
    public static func pngWithText(_ png: Data, text: String) -> Data {
        var chunk = Data()
        let body = Data("Comment\0\(text)".utf8)
        chunk += Data([UInt8(body.count >> 24), UInt8((body.count >> 16) & 0xFF), UInt8((body.count >> 8) & 0xFF), UInt8(body.count & 0xFF)])
        let kindAndBody = Data("tEXt".utf8) + body
        chunk += kindAndBody
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in kindAndBody {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        chunk += Data([UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        // After the signature (8) and IHDR (8 + 13 + 4).
        return png.prefix(33) + chunk + png.dropFirst(33)
    }

    public static let svgWithScript = Data(
        #"<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script><rect width="10" height="10"/></svg>"#.utf8)
    public static let html = Data("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n".utf8)
    public static let utf8Text = Data("Grüße aus Parley 👋\nzweite Zeile\n".utf8)
    /// Latin-1 bytes: text, but not UTF-8.
    public static let latin1Text = Data([0x47, 0x72, 0xFC, 0xDF, 0x65, 0x20, 0x61, 0x75, 0x73, 0x20, 0x50, 0x61, 0x72, 0x69, 0x73, 0x0A])

    /// A real ELF executable of this machine.
    public static func executable() throws -> Data { try Data(contentsOf: URL(fileURLWithPath: "/bin/true")) }

    public static func temporaryPath(_ suffix: String) -> String {
        NSTemporaryDirectory() + "parley-sample-\(UUID().uuidString).\(suffix)"
    }
}

public struct SampleError: Error, CustomStringConvertible {
    public let description: String
}
