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

    /// A timestamp as the encoder writes it, `2026-11-28T05:58:55.936Z`: milliseconds cut, not
    /// rounded, as the format style does. Written here for the years 1970 to 9999 (the style
    /// costs microseconds, and a message carries three timestamps); others go to the style.
    static func dateString(_ date: Date) -> String {
        let sinceReference = date.timeIntervalSinceReferenceDate
        let whole = sinceReference.rounded(.down)
        guard whole.isFinite, whole >= -978_307_200, whole < 252_423_993_600 else { return date.formatted(dateStyle) }
        let seconds = Int(whole) + 978_307_200
        let millis = min(999, Int(((sinceReference - whole) * 1000).rounded(.down)))
        let (days, time) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (year, month, day) = civilDate(daysSince1970: days)
        return String(unsafeUninitializedCapacity: 24) { out in
            var position = 0
            func put(_ value: Int, digits: Int) {
                var value = value
                for index in stride(from: position + digits - 1, through: position, by: -1) {
                    out[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
                position += digits
            }
            func put(_ character: Unicode.Scalar) {
                out[position] = UInt8(ascii: character)
                position += 1
            }
            put(year, digits: 4); put("-"); put(month, digits: 2); put("-"); put(day, digits: 2); put("T")
            put(time / 3600, digits: 2); put(":"); put(time / 60 % 60, digits: 2); put(":"); put(time % 60, digits: 2)
            put("."); put(millis, digits: 3); put("Z")
            return position
        }
    }

    /// Year, month and day of a day counted from 1970-01-01 (not before it), in the proleptic
    /// Gregorian calendar: days are shifted to years that begin on March 1, so that the leap
    /// day ends a year, in eras of 400 years (146,097 days).
    private static func civilDate(daysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
        let shifted = days + 719_468
        let era = shifted / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// A timestamp as the decoder reads it: with or without fractional seconds.
    static func date(_ text: String) -> Date? {
        if let date = try? dateStyle.parse(text) { return date }
        return try? plainDateStyle.parse(text)
    }

    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = date(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO 8601 date: \(text)")
            }
            return date
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
