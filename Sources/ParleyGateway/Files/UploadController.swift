import _NIOFileSystem
import Crypto
import Foundation
import Hummingbird
import Metrics
import NIOCore
import ParleyCore
import ParleyStore

/// `POST /api/upload`: streams the file part to `UPLOAD_PATH/staging/` (never whole in memory),
/// enforcing `MAX_FILE_SIZE` and hashing as it goes, then queues `media.process` and waits for
/// the stored message. The gateway looks at none of the bytes: the media worker decides what
/// they are.
struct UploadController {
    let messages: MessageService
    let presence: LivePresence
    let storage: UploadStorage
    let maxFileSize: Int

    /// Room for the form fields and part headers besides the file.
    static let formOverhead = 64 * 1024

    func addRoutes(to group: RouterGroup<GatewayContext>) {
        group.post("upload", use: upload)
    }

    @Sendable func upload(_ request: Request, context: GatewayContext) async throws -> Response {
        let me = try context.requireUser()
        guard let boundary = Self.boundary(of: request.headers[.contentType]) else {
            throw ParleyError.badRequest("Expected a multipart/form-data body with a boundary")
        }
        let limit = maxFileSize + Self.formOverhead
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw Self.tooLarge(maxFileSize)
        }
        let uploadId = UUIDv7.make()
        let stagedPath = storage.staged(uploadId)
        var keep = false
        defer {
            // Whatever did not make it to the media worker leaves nothing behind.
            if !keep { try? FileManager.default.removeItem(atPath: stagedPath) }
        }
        let reader = MultipartReader(body: request.body, boundary: boundary, limit: limit)
        var fields: [String: String] = [:]
        var staged: (size: Int, sha256: String, name: String, type: String?)?
        var checkedMember: UUID?
        while let event = try await reader.read() {
            guard case .part(let part) = event else { continue }
            switch part.name {
            case "file":
                guard staged == nil else { throw ParleyError.badRequest("Send one file per upload") }
                // Refuse a stranger before taking the bytes, when the chat id came first.
                if let raw = fields["chatId"] {
                    let chatId = try parseID(raw, name: "chatId")
                    try await messages.requireMember(chatId: chatId, userId: me)
                    checkedMember = chatId
                }
                let (size, sha256) = try await stage(reader, to: stagedPath)
                staged = (size, sha256, Self.displayName(part.fileName), part.contentType)
            case "chatId", "text", "clientMessageId":
                let name = part.name!
                guard fields[name] == nil else { throw ParleyError.badRequest("\(name) is given twice") }
                fields[name] = try await reader.readValue(max: Limits.messageText * 4, name: name)
            default:
                // Unknown fields are read past, not kept.
                _ = try await reader.readValue(max: Self.formOverhead, name: part.name ?? "a field")
            }
        }

        var v = Validator()
        v.check(staged != nil, "file is required")
        v.check(fields["chatId"] != nil, "chatId is required")
        let text = fields["text"].flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        // A caption that is not blank is checked as a message's text is.
        if let text { v.messageText(text) }
        if let key = fields["clientMessageId"] {
            v.check(!key.isEmpty && key.count <= Limits.clientMessageId, "clientMessageId must be 1 to \(Limits.clientMessageId) characters")
            v.withoutNUL(key, "clientMessageId")
        }
        try v.validate()
        guard let file = staged, let rawChat = fields["chatId"] else { throw ParleyError.badRequest("file and chatId are required") }
        let chatId = try parseID(rawChat, name: "chatId")
        if checkedMember != chatId { try await messages.requireMember(chatId: chatId, userId: me) }

        let job = MediaProcess(
            uploadId: uploadId, messageId: UUIDv7.make(), chatId: chatId, senderId: me, text: text,
            clientMessageId: fields["clientMessageId"], declaredType: file.type, originalName: file.name, size: file.size, sha256: file.sha256)
        let (message, created) = try await messages.sendMedia(job) { keep = true }
        return await presence.data(message, status: .created, headers: created ? [:] : [.idempotentReplayed: "true"])
    }

    /// Writes the current part to `path`, hashing it; 413 as soon as it passes the limit.
    private func stage(_ reader: MultipartReader, to path: String) async throws -> (Int, String) {
        var hasher = SHA256()
        var size = 0
        var ended = false
        try await FileSystem.shared.withFileHandle(forWritingAt: FilePath(path), options: .newFile(replaceExisting: false)) { handle in
            try await handle.withBufferedWriter { writer in
                while let event = try await reader.read() {
                    switch event {
                    case .bytes(let bytes):
                        size += bytes.readableBytes
                        guard size <= maxFileSize else { throw Self.tooLarge(maxFileSize) }
                        bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
                        try await writer.write(contentsOf: bytes)
                    case .end:
                        ended = true
                        return
                    case .part:
                        throw ParleyError.badRequest("Malformed multipart body")
                    }
                }
            }
        }
        guard ended else { throw ParleyError.badRequest("The multipart body ended inside the file") }
        guard size > 0 else { throw ParleyError.badRequest("The file is empty") }
        return (size, hasher.finalize().hex)
    }

    static func tooLarge(_ max: Int) -> ParleyError {
        ParleyError(.payloadTooLarge, "The file is larger than \(max) bytes")
    }

    /// The boundary of a `multipart/form-data` content type.
    static func boundary(of contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        let boundary = MultipartPartHeaders.parameters(of: contentType)["boundary"] ?? ""
        return (1...70).contains(boundary.utf8.count) ? boundary : nil
    }

    /// The client's file name as shown to others: its last path component, without control
    /// characters, at most 255 characters; "file" when nothing is left.
    static func displayName(_ given: String?) -> String {
        let last = (given ?? "").split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let clean = String(String.UnicodeScalarView(last.unicodeScalars.filter { !CharacterSet.controlCharacters.contains($0) }))
            .trimmingCharacters(in: .whitespaces)
        let name = String(clean.prefix(255))
        return name.isEmpty || name == "." || name == ".." ? "file" : name
    }
}
