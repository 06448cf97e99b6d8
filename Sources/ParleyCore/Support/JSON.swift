import Foundation

/// The one JSON dialect of Parley: ISO 8601 UTC timestamps with milliseconds, lower-case UUIDs
/// are accepted on input.
public enum JSON {
    private static let dateStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
    private static let plainDateStyle = Date.ISO8601FormatStyle()

    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        // Stable key order: the same value always gives the same bytes (ETags, logs, tests).
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(dateString(date))
        }
        return encoder
    }

    /// A timestamp as the encoder writes it.
    static func dateString(_ date: Date) -> String { date.formatted(dateStyle) }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            if let date = try? dateStyle.parse(text) { return date }
            if let date = try? plainDateStyle.parse(text) { return date }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO 8601 date: \(text)")
        }
        return decoder
    }

    // One of each, made once: they are safe to share, and making them costs more than a small
    // message's encoding.
    private static let sharedEncoder = encoder()
    private static let sharedDecoder = decoder()

    public static func encode(_ value: some Encodable) throws -> Data {
        try sharedEncoder.encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try sharedDecoder.decode(type, from: data)
    }
}
