/// Event-time progress of a shard: the latest event time seen, and the watermark behind it.
/// Events older than the watermark are late: they are still scored, but never change state, so a
/// straggler cannot move a baseline backwards.
public struct Watermark: Sendable, Equatable {
    public private(set) var maxEventTime: Timestamp?
    public var allowedLateness: EventDuration

    public init(allowedLateness: EventDuration) { self.allowedLateness = allowedLateness }

    public var current: Timestamp? { maxEventTime.map { $0 - allowedLateness } }

    /// True when `time` is behind the watermark.
    public func isLate(_ time: Timestamp) -> Bool {
        guard let current else { return false }
        return time < current
    }

    public mutating func observe(_ time: Timestamp) {
        if maxEventTime == nil || time > maxEventTime! { maxEventTime = time }
    }
}
