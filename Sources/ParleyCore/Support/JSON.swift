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

    /// A timestamp as the encoder writes it, `2026-11-28T05:58:55.936Z`: to the microsecond (what
    /// PostgreSQL keeps), then the milliseconds cut, not rounded, as the format style cuts them.
    /// The first step is the style's difference: a time PostgreSQL holds at `.936000` reads back
    /// as a `Date` just below it, which the style writes `.935`. Written here for the years 1970
    /// to 9999 (the style costs microseconds, and a message carries three timestamps); others go
    /// to the style.
    static func dateString(_ date: Date) -> String {
        guard dateIsWrittenByHand(date) else { return date.formatted(dateStyle) }
        return String(unsafeUninitializedCapacity: 24) { writeDate(date, into: $0, at: 0) }
    }

    /// Whether ``writeDate(_:into:at:)`` writes `date` (years 1970 to 9999, but for its last
    /// second, whose microseconds could carry into the year 10000).
    @inline(__always)
    static func dateIsWrittenByHand(_ date: Date) -> Bool {
        let whole = date.timeIntervalSinceReferenceDate.rounded(.down)
        return whole.isFinite && whole >= -978_307_200 && whole < 252_423_993_599
    }

    /// Writes the 24 bytes of ``dateString(_:)`` into `buffer` from `start`, for a date that
    /// ``dateIsWrittenByHand(_:)``; returns where they end. The JSON writer puts them straight
    /// into its output, without a string of their own.
    static func writeDate(_ date: Date, into out: UnsafeMutableBufferPointer<UInt8>, at start: Int) -> Int {
        let sinceReference = date.timeIntervalSinceReferenceDate
        let whole = sinceReference.rounded(.down)
        var seconds = Int(whole) + 978_307_200
        var micros = Int(((sinceReference - whole) * 1_000_000).rounded())
        if micros == 1_000_000 { seconds += 1; micros = 0 }
        let millis = micros / 1000
        let (days, time) = seconds.quotientAndRemainder(dividingBy: 86_400)
        let (year, month, day) = civilDate(daysSince1970: days)
        var position = start
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
        if let date = writtenDate(text) { return date }
        if let date = try? dateStyle.parse(text) { return date }
        return try? plainDateStyle.parse(text)
    }

    /// A timestamp in the form ``dateString(_:)`` writes (years 1970 to 9999), read by hand: the
    /// style reads `.936` as a time up to a millisecond below it, so what it read was written
    /// back a millisecond early about half the time (a worker's `createdAt` in a REST answer, a
    /// retried command's `issuedAt`). This gives the first time at or after the instant
    /// written, which writes back as the same text. Nil for any other form.
    static func writtenDate(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { writtenDate($0) }
    }

    /// ``writtenDate(_:)`` of the text's UTF-8 bytes (a command's, read without a string).
    static func writtenDate(_ bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        guard bytes.count == 24, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T"), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
              bytes[19] == UInt8(ascii: "."), bytes[23] == UInt8(ascii: "Z") else { return nil }
        func number(_ start: Int, _ digits: Int) -> Int? {
            var value = 0
            for byte in bytes[start..<start + digits] {
                guard byte &- UInt8(ascii: "0") < 10 else { return nil }
                value = value * 10 + Int(byte &- UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              let millis = number(20, 3),
              year >= 1970, (1...12).contains(month), hour < 24, minute < 60, second < 60,
              day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        let seconds = daysSince1970(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        let whole = Double(seconds - 978_307_200)
        var sinceReference = whole + Double(millis) / 1000
        // The nearest double may lie just below the instant: the writer's microsecond covers
        // that near now, not centuries away, where a double's steps are larger. A step or two.
        while ((sinceReference - whole) * 1000).rounded(.down) < Double(millis) {
            sinceReference = sinceReference.nextUp
        }
        return Date(timeIntervalSinceReferenceDate: sinceReference)
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The inverse of ``civilDate(daysSince1970:)``, in the same eras of March-based years.
    private static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
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
