/// When a session is pinged and when it is given up on: Engine.IO's heartbeat and Socket.IO's
/// connect deadline as plain state, so that one sweeper serves every session instead of timer
/// tasks per connection.
struct Heartbeat: Sendable {
    enum Action: Equatable, Sendable {
        case none
        case ping
        /// `cutOff`: the client is gone, so the connection goes without a closing handshake.
        case close(String, cutOff: Bool)
    }

    let interval: Duration
    let timeout: Duration
    private(set) var nextPing: ContinuousClock.Instant
    /// When the ping still unanswered went out.
    private(set) var pingSent: ContinuousClock.Instant?
    private var connectDeadline: ContinuousClock.Instant?

    /// - Parameter connectTimeout: how long the session may stay without a namespace; nil: no limit.
    init(now: ContinuousClock.Instant, interval: Duration, timeout: Duration, connectTimeout: Duration?) {
        self.interval = interval
        self.timeout = timeout
        nextPing = now + interval
        connectDeadline = connectTimeout.map { now + $0 }
    }

    /// A pong arrived: the next ping is an interval after it, as Engine.IO clients expect.
    mutating func pong(at now: ContinuousClock.Instant) {
        guard pingSent != nil else { return }
        pingSent = nil
        nextPing = now + interval
    }

    /// What is due at `now`. `hasSockets` is asked once, when the connect deadline passes.
    mutating func due(at now: ContinuousClock.Instant, hasSockets: () -> Bool) -> Action {
        if let deadline = connectDeadline, now >= deadline {
            connectDeadline = nil
            if !hasSockets() { return .close("connect timeout", cutOff: false) }
        }
        if let sent = pingSent {
            return now >= sent + timeout ? .close("ping timeout", cutOff: true) : .none
        }
        guard now >= nextPing else { return .none }
        pingSent = now
        return .ping
    }

    /// How often a sweeper must look for pings, timeouts and deadlines to be late by a tenth of
    /// the shortest of them at most (and by a second at most).
    static func sweepInterval(_ configuration: SocketIOConfiguration) -> Duration {
        let shortest = min(configuration.pingInterval, configuration.pingTimeout, configuration.connectTimeout)
        return max(.milliseconds(5), min(.seconds(1), shortest / 10))
    }
}
