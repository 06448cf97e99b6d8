import Foundation
import ParleyCore

/// Collects every problem of a request body, so one 400 names them all.
struct Validator {
    private(set) var errors: [String] = []

    mutating func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { errors.append(message()) }
    }

    /// A required text field: trimmed, non-empty, at most `max` characters, no NUL.
    mutating func text(_ value: String, _ field: String, max: Int) -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        check(!trimmed.isEmpty, "\(field) is required")
        check(trimmed.count <= max, "\(field) must be at most \(max) characters")
        withoutNUL(trimmed, field)
        return trimmed
    }

    /// A message's text: not blank, at most ``Limits/messageText`` characters, no NUL, kept as
    /// sent.
    mutating func messageText(_ text: String) {
        // What `trimmingCharacters(in: .whitespacesAndNewlines)` would leave, without bridging
        // through NSString (5% of the gateway in 1:1 chats).
        check(text.unicodeScalars.contains { !$0.properties.isWhitespace }, "text is required")
        // A character is at least a byte: most texts are within the limit without counting
        // grapheme clusters, which walks the whole text.
        check(text.utf8.count <= Limits.messageText || text.count <= Limits.messageText, "text must be at most \(Limits.messageText) characters")
        withoutNUL(text, "text")
    }

    /// PostgreSQL cannot store U+0000 in text (a message holding it failed its whole batch),
    /// and bcrypt stops reading a password at it.
    mutating func withoutNUL(_ value: String?, _ field: String) {
        check(!(value.map(Self.containsNUL) ?? false), "\(field) must not contain the NUL character")
    }

    static func containsNUL(_ value: String) -> Bool {
        // `memchr` over the bytes where the string has them contiguous (native strings do):
        // `utf8.contains` stepped through the view's indices, a byte at a time.
        let found = value.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.baseAddress.map { memchr($0, 0, bytes.count) != nil } ?? false
        }
        return found ?? value.utf8.contains(0)
    }

    /// Throws a 400 `validation_failed` listing every problem found.
    func validate() throws {
        if !errors.isEmpty { throw ParleyError.badRequest("Invalid request", errors: errors) }
    }

    /// A loose check of an address's form; the mailbox itself is never contacted.
    static func isEmail(_ value: String) -> Bool {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              !value.contains(where: { $0.isWhitespace }),
              !value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { return false }
        return true
    }
}

/// Parses a path or query id; a malformed id is a 400, never a 404 or 500.
func parseID(_ raw: String?, name: String) throws -> UUID {
    guard let raw, let id = UUID(text: raw) else {
        throw ParleyError.badRequest("\(name) must be a valid id")
    }
    return id
}
