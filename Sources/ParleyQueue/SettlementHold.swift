/// Keeps acknowledgements back for a moment so that those of several batches go to the broker
/// as one `basic.ack` with `multiple`.
///
/// Each ack is a settle command that a quorum queue appends to its log and syncs to disk: at a
/// few hundred messages a second, one per batch was about a seventh of the broker's CPU. An ack
/// follows the command's effect, events and reply, so holding it delays nothing a client waits
/// for; what it costs is a few more redeliveries after a crash (applied again as no-ops) and a
/// fuller prefetch window, which is why a hold also ends at `limit` settlements. A reject is
/// never held: it ends the hold at once (a requeue or a dead letter should not wait).
struct SettlementHold<Item> {
    let delay: Duration
    let limit: Int
    private(set) var held: [Item] = []
    private var since: ContinuousClock.Instant?
    private var urgent = false

    /// - Parameters:
    ///   - delay: the longest a settlement waits for company; zero sends each at once.
    ///   - limit: this many held settlements go at once.
    init(delay: Duration, limit: Int) {
        self.delay = delay
        self.limit = max(1, limit)
    }

    /// Holds `items`, which arrived at `now`; an `urgent` one makes everything held due.
    mutating func add(_ items: [Item], urgent: Bool, at now: ContinuousClock.Instant) {
        guard !items.isEmpty else { return }
        if held.isEmpty { since = now }
        held += items
        self.urgent = self.urgent || urgent
    }

    /// How long until what is held is due: nil when nothing is held, zero when it is due now.
    func wait(at now: ContinuousClock.Instant) -> Duration? {
        guard let since else { return nil }
        if urgent || held.count >= limit { return .zero }
        return max(.zero, delay - (now - since))
    }

    /// Everything held, oldest first; the hold is empty afterwards.
    mutating func take() -> [Item] {
        defer {
            held.removeAll(keepingCapacity: true)
            since = nil
            urgent = false
        }
        return held
    }
}
