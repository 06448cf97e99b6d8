import Hummingbird
import Logging
import ParleyCore

/// Turns every error a route throws into `{message, code, errors?}` with its status; never a
/// stack trace. Backing-service failures answer 503 with `Retry-After`.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    /// 503s, one line per kind of outage now and then rather than one per request.
    let outages: ThrottledLog

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let parleyError = ParleyHTTPError.parleyError(from: error)
            let status = ParleyHTTPError.status(of: parleyError.code)
            if status.code >= 500 {
                let metadata: Logger.Metadata = ["path": "\(request.uri.path)", "error": "\(error)"]
                if status == .serviceUnavailable {
                    // A backing service being down is expected operation (503, retried by clients).
                    outages.log(context.logger, level: .warning, "request failed", kind: parleyError.message, metadata: metadata)
                } else {
                    // Anything else at 5xx is a bug: every one is logged.
                    context.logger.error("request failed", metadata: metadata)
                }
            }
            var response = JSONResponse.make(status: status, body: parleyError)
            if status == .serviceUnavailable {
                response.headers[.retryAfter] = "1"
            }
            return response
        }
    }
}
