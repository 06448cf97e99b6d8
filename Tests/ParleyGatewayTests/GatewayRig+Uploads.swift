import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import XCTest

/// Uploads and file fetches as a client makes them.
extension GatewayRig {
    struct Part {
        var name: String
        var fileName: String?
        var contentType: String?
        var body: Data

        static func field(_ name: String, _ value: String) -> Part { Part(name: name, body: Data(value.utf8)) }
        static func file(_ body: Data, name: String, type: String?) -> Part {
            Part(name: "file", fileName: name, contentType: type, body: body)
        }
    }

    /// `POST /api/upload` with `parts` in order, as multipart/form-data.
    func upload(token: String?, _ parts: [Part]) async throws -> Reply {
        let boundary = "parley-test-\(UUID().uuidString)"
        var body = Data()
        for part in parts {
            body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\"".utf8)
            if let fileName = part.fileName { body += Data("; filename=\"\(fileName)\"".utf8) }
            body += Data("\r\n".utf8)
            if let type = part.contentType { body += Data("Content-Type: \(type)\r\n".utf8) }
            body += Data("\r\n".utf8) + part.body + Data("\r\n".utf8)
        }
        body += Data("--\(boundary)--\r\n".utf8)
        var headers: HTTPFields = [.contentType: "multipart/form-data; boundary=\(boundary)"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: "/api/upload", method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
            Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        }
    }

    /// An upload of one file into `chatId`, with an optional caption.
    func upload(_ data: Data, name: String, type: String?, chatId: String, token: String, text: String? = nil) async throws -> Reply {
        var parts: [Part] = [.field("chatId", chatId)]
        if let text { parts.append(.field("text", text)) }
        parts.append(.file(data, name: name, type: type))
        return try await upload(token: token, parts)
    }

    /// A GET with optional bearer token and headers.
    func fetch(_ path: String, token: String? = nil, headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: path, method: .get, headers: headers, body: nil) { response in
            Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
        }
    }

    /// Files waiting in staging (what a refused or failed upload must not leave behind).
    var stagedFiles: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: dependencies.uploads.stagingDirectory)) ?? []
    }

    /// Files this process holds open in staging: an upload being written there is not in the
    /// folder until it is whole (NIO's file system writes a new file unnamed, then links it).
    var filesOpenInStaging: [String] {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\($0)") }
            .filter { $0.hasPrefix(dependencies.uploads.stagingDirectory) }
    }
}

extension GatewayRig.Reply {
    var text: String { String(decoding: body, as: UTF8.self) }
    var content: [String: Any] { data["content"] as? [String: Any] ?? [:] }
}
