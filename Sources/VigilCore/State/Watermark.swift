/// Event-time progress of a shard: the latest event time seen, and the watermark behind it.
/// Events older than the watermark are late: they are still scored, but never change state, so a
/// straggler cannot move a baseline backwards.
struct Watermark: Sendable, Equatable {
    private(set) var maxEventTime: Timestamp?
    var allowedLateness: EventDuration

    init(allowedLateness: EventDuration) { self.allowedLateness = allowedLateness }

    var current: Timestamp? { maxEventTime.map { $0 - allowedLateness } }

    /// True when `time` is behind the watermark.
    func isLate(_ time: Timestamp) -> Bool {
        guard let current else { return false }
        return time < current
    }

    mutating func observe(_ time: Timestamp) {
        if maxEventTime == nil || time > maxEventTime! { maxEventTime = time }
    }
}
