/// Hummingbird's request metrics under Prometheus's conventions and Parley's prefix, for the
/// metrics factory's `nameAndLabelSanitizer`. Its labels follow OpenTelemetry's names instead:
/// `hb.requests` is a counter without `_total`, `http.server.request.duration` a time in seconds
/// without `_seconds`.
public enum HTTPMetricNames {
    /// Hummingbird's label and the name it is exported under.
    public static let renamed: [String: String] = [
        "hb.requests": "parley_http_requests_total",
        "hb.request.errors": "parley_http_request_errors_total",
        "http.server.request.duration": "parley_http_request_duration_seconds",
        "http.server.active_requests": "parley_http_active_requests",
    ]

    /// `label` renamed if it is one of Hummingbird's, the dimensions as they are.
    @Sendable public static func prometheus(_ label: String, _ dimensions: [(String, String)]) -> (String, [(String, String)]) {
        (renamed[label] ?? label, dimensions)
    }
}
