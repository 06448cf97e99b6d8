import Hummingbird
import Metrics

/// HTTP requests by route, method and status, how long each took to answer, and how many are in
/// progress.
///
/// Ours rather than Hummingbird's `MetricsMiddleware`, which records from a closure it puts in
/// the response's body, run once the body is written: a `HEAD` answered by the router's
/// generated route gets a new, empty body, so those requests were never counted and stayed in
/// progress for ever. Here a request is recorded when its response is ready; the time a file
/// takes to stream to the client is not in its duration.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let inProgress = Meter(label: "parley_http_active_requests", dimensions: [("http_request_method", request.method.rawValue)])
        inProgress.increment()
        defer { inProgress.decrement() }
        do {
            let response = try await next(request, context)
            Self.record(request, context: context, status: response.status.code, since: start)
            return response
        } catch {
            // Nothing should get here (errors become responses inside); if it does, it is ours.
            Self.record(request, context: context, status: 500, since: start)
            throw error
        }
    }

    private static func record(_ request: Request, context: Context, status: Int, since start: ContinuousClock.Instant) {
        let dimensions = [
            // A path no route serves has no route: one label for them all, whatever was asked.
            ("http_route", context.endpointPath ?? "Unknown"),
            ("http_request_method", request.method.rawValue),
            ("http_response_status_code", String(status)),
        ]
        Counter(label: "parley_http_requests_total", dimensions: dimensions).increment()
        Timer(label: "parley_http_request_duration_seconds", dimensions: dimensions).record(duration: ContinuousClock.now - start)
    }
}
