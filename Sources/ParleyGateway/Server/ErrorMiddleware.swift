import Hummingbird
import Logging
import ParleyCore

/// Turns every error a route throws into `{message, code, errors?}` with its status; never a
/// stack trace. Backing-service failures answer 503 with `Retry-After`.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let parleyError = ParleyHTTPError.parleyError(from: error)
            let status = ParleyHTTPError.status(of: parleyError.code)
            if status.code >= 500 {
                // A backing service being down is expected operation (503, retried by clients);
                // anything else at 5xx is a bug.
                let level: Logger.Level = status == .serviceUnavailable ? .warning : .error
                context.logger.log(level: level, "request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            }
            var response = JSONResponse.make(status: status, body: parleyError)
            if status == .serviceUnavailable {
                response.headers[.retryAfter] = "1"
            }
            return response
        }
    }
}
