import _NIOFileSystem
import Foundation
import HTTPTypes
import Hummingbird
import ParleyCore
import ParleyStore

/// `GET /api/files/:fileId` and `/thumbnail`: the bytes of a stored file, to the members of the
/// chat its message is in (bearer token) or to whoever holds a signed link (`?exp=&sig=`).
///
/// Served so that a browser never runs them: `nosniff`, a sandboxing CSP, and anything but an
/// image as an attachment. The path on disk comes from the database, never from the request.
struct FileController {
    let files: FileRepository
    let chats: ChatRepository
    let tokens: TokenService
    let links: FileLinks
    let storage: UploadStorage
    let fileIO = FileIO()

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.get(":fileId", use: original)
        group.get(":fileId/thumbnail", use: thumbnail)
    }

    @Sendable func original(_ request: Request, context: GatewayContext) async throws -> Response {
        try await serve(request, context: context, variant: .original)
    }

    @Sendable func thumbnail(_ request: Request, context: GatewayContext) async throws -> Response {
        try await serve(request, context: context, variant: .thumbnail)
    }

    private enum Access {
        case signed
        case member(UUID)
    }

    private func serve(_ request: Request, context: GatewayContext, variant: FileLinks.Variant) async throws -> Response {
        let fileId = try parseID(context.parameters.get("fileId"), name: "fileId")
        let access = try await authorize(request, fileId: fileId, variant: variant)
        guard let file = try await files.servable(id: fileId), let chatId = file.chatId else {
            throw ParleyError.notFound("File not found")
        }
        guard file.goneAt == nil else { throw ParleyError(.gone, "The message with this file was deleted") }
        if case .member(let userId) = access {
            try await chats.requireMember(chatId: chatId, userId: userId)
        }
        let key = variant == .thumbnail ? file.thumbnailKey : file.storageKey
        guard let key, let path = storage.object(key),
              let info = try await FileSystem.shared.info(forFileAt: FilePath(path)), info.type == .regular
        else { throw ParleyError.notFound(variant == .thumbnail ? "This file has no thumbnail" : "File not found") }

        let size = Int(info.size)
        let mimeType = variant == .thumbnail ? "image/webp" : file.mimeType
        let etag = "\"\(key)\""
        var headers: HTTPFields = [
            .eTag: etag,
            .acceptRanges: "bytes",
            .cacheControl: "private, no-cache",
            .xContentTypeOptions: "nosniff",
            .contentSecurityPolicy: "default-src 'none'; sandbox",
            .contentDisposition: Self.disposition(
                inline: mimeType.hasPrefix("image/"),
                name: variant == .thumbnail ? "thumbnail.webp" : file.originalName),
        ]
        if let match = request.headers[.ifNoneMatch], Self.matches(match, etag: etag) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = mimeType
        let ifRange = request.headers[.ifRange]
        switch Self.range(request.headers[.range], size: size) {
        case .some(.satisfiable(let range)) where ifRange == nil || ifRange == etag:
            headers[.contentRange] = "bytes \(range.lowerBound)-\(range.upperBound)/\(size)"
            let body = try await fileIO.loadFile(path: path, range: range, context: context)
            return Response(status: .partialContent, headers: headers, body: body)
        case .some(.unsatisfiable) where ifRange == nil:
            var response = JSONResponse.make(
                status: .rangeNotSatisfiable, body: ParleyError(.rangeNotSatisfiable, "The range is outside the file's \(size) bytes"))
            response.headers[.contentRange] = "bytes */\(size)"
            return response
        default:
            let body = try await fileIO.loadFile(path: path, context: context)
            return Response(status: .ok, headers: headers, body: body)
        }
    }

    /// 401 with neither a token nor a signature, 403 for a bad or expired signature.
    private func authorize(_ request: Request, fileId: UUID, variant: FileLinks.Variant) async throws -> Access {
        let query = request.uri.queryParameters
        if query["exp"] != nil || query["sig"] != nil {
            let verdict = links.verify(
                fileId: fileId, variant: variant, expiry: query["exp"].map(String.init) ?? "", signature: query["sig"].map(String.init) ?? "")
            switch verdict {
            case .valid: return .signed
            case .expired: throw ParleyError.forbidden("This link has expired")
            case .invalid: throw ParleyError.forbidden("This link is not valid")
            }
        }
        guard let token = request.headers.bearerToken else {
            throw ParleyHTTPError.unauthorized("Authentication token or signed link required")
        }
        guard let userId = await tokens.verify(token) else {
            throw ParleyHTTPError.unauthorized("Invalid authentication token")
        }
        return .member(userId)
    }

    enum RangeRequest: Equatable {
        case satisfiable(ClosedRange<Int>)
        case unsatisfiable
    }

    /// One `bytes=` range of a file of `size` bytes; nil (the whole file) for none, several, or
    /// one that cannot be read.
    static func range(_ header: String?, size: Int) -> RangeRequest? {
        guard let header, header.hasPrefix("bytes="), !header.contains(",") else { return nil }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let (first, last) = (Int(parts[0]), Int(parts[1]))
        switch (parts[0].isEmpty, parts[1].isEmpty) {
        case (true, false):
            // The last n bytes.
            guard let n = last else { return nil }
            guard n > 0, size > 0 else { return .unsatisfiable }
            return .satisfiable(max(0, size - n)...(size - 1))
        case (false, _):
            guard let start = first, start >= 0 else { return nil }
            guard let end = parts[1].isEmpty ? Int.max : last, end >= start else { return nil }
            guard start < size else { return .unsatisfiable }
            return .satisfiable(start...min(end, size - 1))
        default:
            return nil
        }
    }

    /// Whether an `If-None-Match` list names `etag` (weak comparison, as RFC 9110 asks).
    static func matches(_ header: String, etag: String) -> Bool {
        header.split(separator: ",").contains { tag in
            let tag = tag.trimmingCharacters(in: .whitespaces)
            return tag == "*" || tag == etag || tag == "W/\(etag)"
        }
    }

    /// `inline` or `attachment` with the name as an ASCII fallback and as RFC 5987 UTF-8.
    static func disposition(inline: Bool, name: String) -> String {
        let fallback = String(name.unicodeScalars.map { scalar -> Character in
            scalar.isASCII && scalar.value >= 0x20 && scalar.value != 0x7F && scalar != "\"" && scalar != "\\" ? Character(scalar) : "_"
        })
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: Unicode.Scalar(0)...Unicode.Scalar(127)))
        allowed.insert(charactersIn: "!#$&+-.^_`|~")
        let encoded = name.addingPercentEncoding(withAllowedCharacters: allowed) ?? fallback
        return "\(inline ? "inline" : "attachment"); filename=\"\(fallback)\"; filename*=UTF-8''\(encoded)"
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let contentSecurityPolicy = Self("Content-Security-Policy")!
}
