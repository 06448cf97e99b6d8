import Foundation

/// The stable error codes clients see as `code`; the gateway maps each to one HTTP status.
public enum ErrorCode: String, Codable, Sendable {
    case badRequest = "bad_request"
    case validationFailed = "validation_failed"
    case unauthorized
    case invalidCredentials = "invalid_credentials"
    case forbidden
    case notFound = "not_found"
    case conflict
    /// The thing existed and was deleted (a file whose message is gone).
    case gone
    case emailTaken = "email_taken"
    case payloadTooLarge = "payload_too_large"
    case rangeNotSatisfiable = "range_not_satisfiable"
    case unsupportedMediaType = "unsupported_media_type"
    case unprocessable
    case rateLimited = "rate_limited"
    case unavailable = "service_unavailable"
    case timeout
    case `internal` = "internal_error"
}

/// An error as a value: a stable ``ErrorCode``, a human message and, for validation, the list of
/// what was wrong. Travels in replies from workers to gateways unchanged.
public struct ParleyError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    public var message: String
    public var errors: [String]?

    public init(_ code: ErrorCode, _ message: String, errors: [String]? = nil) {
        self.code = code
        self.message = message
        self.errors = errors
    }

    public var description: String { "\(code.rawValue): \(message)" }

    /// Whether the request itself is at fault, so that trying it again cannot help; false for a
    /// passing failure of the server (unavailable, timeout, internal).
    public var blamesTheRequest: Bool {
        switch code {
        case .unavailable, .timeout, .internal: false
        default: true
        }
    }

    public static func badRequest(_ message: String, errors: [String]? = nil) -> ParleyError {
        ParleyError(errors == nil ? .badRequest : .validationFailed, message, errors: errors)
    }
    public static func forbidden(_ message: String) -> ParleyError { ParleyError(.forbidden, message) }
    public static func notFound(_ message: String) -> ParleyError { ParleyError(.notFound, message) }
    public static func unavailable(_ message: String) -> ParleyError { ParleyError(.unavailable, message) }
}
