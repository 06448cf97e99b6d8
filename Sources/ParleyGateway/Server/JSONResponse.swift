import Foundation
import Hummingbird
import NIOCore
import ParleyCore

/// JSON bodies in Parley's dialect (ISO 8601 with milliseconds).
enum JSONResponse {
    static func make(status: HTTPResponse.Status, body: some Encodable, headers: HTTPFields = [:]) -> Response {
        let data = (try? JSON.encode(body)) ?? Data(#"{"message":"encoding failed","code":"internal_error"}"#.utf8)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// `{"data": value}`, the shape of every success body.
    static func data(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        make(status: status, body: DataEnvelope(data: value), headers: headers)
    }
}

struct DataEnvelope<Value: Encodable>: Encodable {
    let data: Value
}

extension JSONResponse {
    /// A list answer: `{data: [...]}` with its cursor fields beside it, each always present
    /// (`null` at the end of the list).
    static func page(_ items: some Encodable, cursors: KeyValuePairs<String, String?>) -> Response {
        make(status: .ok, body: Page(data: items, cursors: Array(cursors)))
    }

    private struct Page<Items: Encodable>: Encodable {
        let data: Items
        let cursors: [(key: String, value: String?)]

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(data, forKey: Key(stringValue: "data"))
            for (key, value) in cursors { try c.encode(value, forKey: Key(stringValue: key)) }
        }
    }
}

extension Request {
    /// Decodes a JSON body; anything that is not the expected JSON is a 400 naming what is wrong.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: some RequestContext) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch {
            throw ParleyError(.payloadTooLarge, "Request body is too large")
        }
        guard buffer.readableBytes > 0 else { throw ParleyError.badRequest("Request body must be JSON") }
        return try JSONDecoding.decode(T.self, from: Data(buffer.readableBytesView))
    }
}

/// Decoding of client JSON (HTTP bodies, socket payloads): anything that is not the expected
/// shape is a 400 naming what is wrong.
enum JSONDecoding {
    static func decode<T: Decodable>(_ type: T.Type, from data: some Collection<UInt8>) throws -> T {
        do {
            return try JSON.decode(T.self, from: Data(data))
        } catch let DecodingError.keyNotFound(key, _) {
            throw ParleyError.badRequest("Invalid request", errors: ["\(key.stringValue) is required"])
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ParleyError.badRequest("Invalid request", errors: ["\(field.isEmpty ? "body" : field) has the wrong type"])
        } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ParleyError.badRequest("Invalid request", errors: ["\(field) is not valid"])
        } catch {
            throw ParleyError.badRequest("Request body is not valid JSON")
        }
    }
}
