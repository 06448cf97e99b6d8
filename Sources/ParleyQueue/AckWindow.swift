/// Turns settlements that arrive in any order into as few AMQP frames as it can: the run of
/// acknowledged deliveries from the oldest unsettled one on goes as one `basic.ack` with
/// `multiple`, which a quorum queue applies as one settle command instead of one per message.
///
/// Delivery tags of a channel count up from 1, one per delivery, so "every tag up to N is
/// settled" is one number. An ack behind an unsettled delivery cannot be folded into a
/// `multiple` (that would settle the unsettled one too), so it goes on its own at once rather
/// than wait: a slow delivery never holds the prefetch window of the ones behind it. Rejects
/// always go on their own, first.
struct AckWindow {
    enum Frame: Equatable {
        case ack(UInt64, multiple: Bool)
        case nack(UInt64, requeue: Bool)
    }

    /// Every tag up to this one is settled.
    private(set) var floor: UInt64 = 0
    /// Settled tags above ``floor``.
    private var settledAbove = Set<UInt64>()

    /// The frames to send, in order, for these settlements.
    mutating func settle(acks: [UInt64], rejects: [(tag: UInt64, requeue: Bool)]) -> [Frame] {
        var frames = rejects.map { Frame.nack($0.tag, requeue: $0.requeue) }
        settledAbove.formUnion(rejects.map(\.tag))
        let acked = Set(acks.filter { $0 > floor })
        settledAbove.formUnion(acked)
        var highestAcked: UInt64?
        while settledAbove.remove(floor + 1) != nil {
            floor += 1
            if acked.contains(floor) { highestAcked = floor }
        }
        if let highestAcked { frames.append(.ack(highestAcked, multiple: true)) }
        frames += acked.filter { $0 > floor }.sorted().map { .ack($0, multiple: false) }
        return frames
    }
}
