import Glibc

/// Whether a file is UTF-8, read a piece at a time.
///
/// A text upload may be as large as `MAX_FILE_SIZE`; read whole and then made a `String`, it
/// cost twice its size in memory and a copy of every byte.
public enum UTF8File {
    /// Checks the file at `path`; blocks while it reads.
    /// - Parameter chunkSize: bytes read at a time (at least 4, the longest scalar).
    public static func isValid(fileAt path: String, chunkSize: Int = 256 * 1024) throws(MediaError) -> Bool {
        precondition(chunkSize >= 4)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        // Bytes of a scalar cut by the end of the last piece, moved to the front for the next.
        var carried = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + carried, $0.count - carried) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .unreadable("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            let filled = carried + count
            do {
                _ = try UTF8Span(validating: buffer.span.extracting(0..<filled))
                carried = 0
            } catch {
                // Only a scalar the piece's end cut short may go on, and not at the file's end.
                guard count > 0, error.kind == .truncatedScalar, error.byteOffsets.upperBound == filled else { return false }
                carried = error.byteOffsets.count
                for i in 0..<carried { buffer[i] = buffer[error.byteOffsets.lowerBound + i] }
            }
            if count == 0 { return true }
        }
    }
}
