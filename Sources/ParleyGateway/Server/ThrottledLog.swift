import Logging
import Synchronization

/// Logs a failure that repeats while a backing service is down at most once per `interval` for
/// each kind, saying how many like it were held back since the last line: during an outage
/// every request fails alike, and a line for each (hundreds a second) buried everything else in
/// the log. Metrics still count every one (`parley_http_requests_total` by status), and the
/// service's client logs its own connection changes.
final class ThrottledLog: Sendable {
    private struct Kind {
        var quietUntil: ContinuousClock.Instant
        var heldBack: Int
    }

    private let interval: Duration
    private let kinds = Mutex<[String: Kind]>([:])
    /// Kinds are a handful of fixed messages; a bound all the same, should one carry details.
    private static let maxKinds = 64

    init(interval: Duration = .seconds(10)) {
        self.interval = interval
    }

    /// Logs `message` unless a line of the same `kind` went out less than `interval` ago; the
    /// line that goes out carries `heldBack`, the count of those not logged since the last one.
    /// `metadata` is made only for a line that goes out.
    func log(
        _ logger: Logger, level: Logger.Level, _ message: Logger.Message, kind: String, metadata: @autoclosure () -> Logger.Metadata = [:]
    ) {
        guard logger.logLevel <= level else { return }
        let now = ContinuousClock.now
        let heldBack: Int? = kinds.withLock { kinds in
            if var seen = kinds[kind], now < seen.quietUntil {
                seen.heldBack += 1
                kinds[kind] = seen
                return nil
            }
            if kinds[kind] == nil, kinds.count >= Self.maxKinds { kinds.removeAll() }
            let heldBack = kinds[kind]?.heldBack ?? 0
            kinds[kind] = Kind(quietUntil: now + interval, heldBack: 0)
            return heldBack
        }
        guard let heldBack else { return }
        var metadata = metadata()
        if heldBack > 0 { metadata["heldBack"] = "\(heldBack)" }
        logger.log(level: level, message, metadata: metadata)
    }
}
