import Hummingbird
import MultipartKit
import NIOCore
import ParleyCore

/// Reads a `multipart/form-data` request body as it arrives: each part's headers, then its bytes
/// in chunks, then its end. Nothing is held beyond the chunk in hand, so a file part can be
/// streamed to disk. MultipartKit does the parsing; this turns its callbacks into pulls.
final class MultipartReader {
    enum Event {
        case part(MultipartPartHeaders)
        case bytes(ByteBuffer)
        case end
    }

    private var body: RequestBody.AsyncIterator
    private let parser: MultipartParser
    private var events: [Event] = []
    private var next = 0
    private var headers: [(String, String)] = []
    private var headersDone = false
    /// Bytes of the body read so far, against ``limit``.
    private(set) var bytesRead = 0
    private let limit: Int
    private var finished = false

    /// - Parameter limit: most bytes the whole body may have (413 beyond).
    init(body: RequestBody, boundary: String, limit: Int) {
        self.body = body.makeAsyncIterator()
        self.parser = MultipartParser(boundary: boundary)
        self.limit = limit
        parser.onHeader = { [unowned self] name, value in headers.append((name, value)) }
        parser.onBody = { [unowned self] bytes in
            flushHeaders()
            // MultipartKit hands bodies out between CR bytes; join them into one chunk.
            if events.count > next, case .bytes(var last) = events[events.count - 1] {
                // Out of the array first, so the write does not copy the buffer.
                events[events.count - 1] = .end
                last.writeImmutableBuffer(bytes)
                events[events.count - 1] = .bytes(last)
            } else {
                events.append(.bytes(bytes))
            }
        }
        parser.onPartComplete = { [unowned self] in
            flushHeaders()
            events.append(.end)
            headersDone = false
        }
    }

    private func flushHeaders() {
        guard !headersDone else { return }
        events.append(.part(MultipartPartHeaders(headers)))
        headers = []
        headersDone = true
    }

    /// The next event, or nil once the body ended.
    /// - Throws: ``ParleyError`` for a malformed body (400) or one over the limit (413).
    func read() async throws -> Event? {
        while next == events.count {
            events.removeAll(keepingCapacity: true)
            next = 0
            guard !finished, let chunk = try await body.next() else {
                finished = true
                return nil
            }
            bytesRead += chunk.readableBytes
            guard bytesRead <= limit else { throw ParleyError(.payloadTooLarge, "The upload is larger than allowed") }
            do {
                try parser.execute(chunk)
            } catch {
                throw ParleyError.badRequest("Malformed multipart body")
            }
        }
        defer { next += 1 }
        return events[next]
    }

    /// Reads and returns the rest of the current part, refusing more than `max` bytes.
    func readValue(max: Int, name: String) async throws -> String {
        var value = ByteBuffer()
        while let event = try await read() {
            switch event {
            case .bytes(let bytes):
                guard value.readableBytes + bytes.readableBytes <= max else {
                    throw ParleyError.badRequest("\(name) is too long")
                }
                value.writeImmutableBuffer(bytes)
            case .end:
                guard let text = value.getString(at: value.readerIndex, length: value.readableBytes) else {
                    throw ParleyError.badRequest("\(name) must be UTF-8 text")
                }
                return text
            case .part:
                throw ParleyError.badRequest("Malformed multipart body")
            }
        }
        throw ParleyError.badRequest("The multipart body ended inside \(name)")
    }
}

/// What a part's headers say: its field name, the file name given, its declared type.
struct MultipartPartHeaders {
    var name: String?
    var fileName: String?
    var contentType: String?

    init(_ headers: [(String, String)]) {
        for (field, value) in headers {
            switch field.lowercased() {
            case "content-disposition":
                let parameters = Self.parameters(of: value)
                name = parameters["name"]
                // RFC 6266: filename* (RFC 5987, UTF-8) wins over filename.
                fileName = parameters["filename*"].flatMap(Self.decodeExtended) ?? parameters["filename"]
            case "content-type":
                contentType = value
            default:
                break
            }
        }
    }

    /// `form-data; name="a"; filename="b;c.png"` as `[name: a, filename: b;c.png]`, quoted strings
    /// with their escapes honoured.
    static func parameters(of value: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = Substring(value)
        // Skip the disposition type.
        guard let first = rest.firstIndex(of: ";") else { return result }
        rest = rest[rest.index(after: first)...]
        while !rest.isEmpty {
            rest = rest.drop { $0 == " " || $0 == "\t" || $0 == ";" }
            guard let equals = rest.firstIndex(of: "=") else { break }
            let key = rest[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: equals)...].drop { $0 == " " }
            var parsed = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var escaped = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if escaped {
                        parsed.append(c)
                        escaped = false
                    } else if c == "\\" {
                        escaped = true
                    } else if c == "\"" {
                        break
                    } else {
                        parsed.append(c)
                    }
                }
                rest = rest.drop { $0 != ";" }
            } else {
                let end = rest.firstIndex(of: ";") ?? rest.endIndex
                parsed = rest[..<end].trimmingCharacters(in: .whitespaces)
                rest = rest[end...]
            }
            if !key.isEmpty { result[key] = parsed }
        }
        return result
    }

    /// `UTF-8''na%C3%AFve.txt` as `naïve.txt`.
    static func decodeExtended(_ value: String) -> String? {
        let parts = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].lowercased() == "utf-8" else { return nil }
        return String(parts[2]).removingPercentEncoding
    }
}
