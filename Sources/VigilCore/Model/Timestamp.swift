/// An instant as microseconds since the Unix epoch (UTC). Integer time keeps the engine exact and
/// deterministic; RFC 3339 is only the wire format.
public struct Timestamp: Sendable, Hashable, Comparable {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public init(milliseconds: Int64) { self.microseconds = milliseconds &* 1000 }
    public init(seconds: Int64) { self.microseconds = seconds &* 1_000_000 }

    /// Whole milliseconds, rounded down; defined for every value (no overflow at the extremes).
    public var milliseconds: Int64 {
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: 1000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    public static func + (lhs: Timestamp, rhs: EventDuration) -> Timestamp {
        Timestamp(microseconds: lhs.microseconds &+ rhs.microseconds)
    }

    public static func - (lhs: Timestamp, rhs: EventDuration) -> Timestamp {
        Timestamp(microseconds: lhs.microseconds &- rhs.microseconds)
    }

    /// Elapsed time from `earlier` to `self` (negative when `earlier` is later).
    public func since(_ earlier: Timestamp) -> EventDuration {
        EventDuration(microseconds: microseconds &- earlier.microseconds)
    }
}

/// A span of event time in microseconds. Our own type (not `Swift.Duration`) keeps arithmetic cheap
/// and config values exact.
public struct EventDuration: Sendable, Hashable, Comparable {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }
    public static func seconds(_ s: Int64) -> EventDuration { EventDuration(microseconds: s &* 1_000_000) }
    public static func minutes(_ m: Int64) -> EventDuration { .seconds(m &* 60) }
    public static func hours(_ h: Int64) -> EventDuration { .seconds(h &* 3600) }
    public static func days(_ d: Int64) -> EventDuration { .seconds(d &* 86_400) }

    public var seconds: Double { Double(microseconds) / 1_000_000 }
    public var hours: Double { Double(microseconds) / 3_600_000_000 }

    public static func < (lhs: EventDuration, rhs: EventDuration) -> Bool { lhs.microseconds < rhs.microseconds }
}
