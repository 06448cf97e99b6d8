import Hummingbird
import NIOHTTP1
import ParleyCore
import ParleyPubSub
import ParleyQueue
import ParleyStore

/// The one place where errors become HTTP statuses.
enum ParleyHTTPError {
    static func unauthorized(_ message: String) -> ParleyError { ParleyError(.unauthorized, message) }

    static func status(of code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .badRequest, .validationFailed: .badRequest
        case .unauthorized, .invalidCredentials: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict, .emailTaken: .conflict
        case .gone: .gone
        case .rangeNotSatisfiable: .rangeNotSatisfiable
        case .payloadTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unprocessable: .unprocessableContent
        case .rateLimited: .tooManyRequests
        case .unavailable, .timeout: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    /// Any error as the value clients see; failures of backing services become 503.
    static func parleyError(from error: any Error) -> ParleyError {
        switch error {
        case let error as ParleyError:
            return error
        case is StoreError:
            return .unavailable("The database is unavailable, try again")
        case is QueueError:
            return .unavailable("The message queue is unavailable, try again")
        case is RedisError:
            return .unavailable("Real-time service is unavailable, try again")
        case is HTTPParserError:
            // Met while a route reads the body: the client sent a broken one or went away in
            // the middle of it (the usual case, and then nobody reads the answer).
            return .badRequest("The request body is malformed or was cut short")
        case let error as HTTPError:
            let code: ErrorCode = switch error.status.code {
            case 400: .badRequest
            case 401: .unauthorized
            case 403: .forbidden
            case 404: .notFound
            case 405: .notFound
            case 413: .payloadTooLarge
            case 415: .unsupportedMediaType
            case 503: .unavailable
            default: error.status.code < 500 ? .badRequest : .internal
            }
            return ParleyError(code, error.body ?? error.status.reasonPhrase)
        default:
            return ParleyError(.internal, "Internal server error")
        }
    }
}
