/// An instant as microseconds since the Unix epoch (UTC). Integer time keeps the engine exact and
/// deterministic; RFC 3339 is only the wire format.
public struct Timestamp: Sendable, Hashable, Comparable {
    /// Microseconds since 1970-01-01T00:00:00Z; negative before it.
    public var microseconds: Int64

    /// The instant `microseconds` after the epoch.
    public init(microseconds: Int64) { self.microseconds = microseconds }
    /// The instant `milliseconds` after the epoch (wraps, never traps, on overflow).
    public init(milliseconds: Int64) { self.microseconds = milliseconds &* 1000 }
    /// The instant `seconds` after the epoch (wraps, never traps, on overflow).
    public init(seconds: Int64) { self.microseconds = seconds &* 1_000_000 }

    /// Whole milliseconds, rounded down; defined for every value (no overflow at the extremes).
    public var milliseconds: Int64 {
        let (quotient, remainder) = microseconds.quotientAndRemainder(dividingBy: 1000)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// Earlier instants are smaller.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    /// The instant `rhs` later; wraps instead of trapping, so hostile input cannot crash the engine.
    public static func + (lhs: Timestamp, rhs: EventDuration) -> Timestamp {
        Timestamp(microseconds: lhs.microseconds &+ rhs.microseconds)
    }

    /// The instant `rhs` earlier; wraps instead of trapping.
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
    /// Length in microseconds; negative spans are allowed (see `Timestamp.since`).
    public var microseconds: Int64

    /// A span of `microseconds`.
    public init(microseconds: Int64) { self.microseconds = microseconds }
    /// A span of `s` seconds.
    public static func seconds(_ s: Int64) -> EventDuration { EventDuration(microseconds: s &* 1_000_000) }
    /// A span of `m` minutes.
    public static func minutes(_ m: Int64) -> EventDuration { .seconds(m &* 60) }
    /// A span of `h` hours.
    public static func hours(_ h: Int64) -> EventDuration { .seconds(h &* 3600) }
    /// A span of `d` days of 24 hours (event time has no calendar or leap seconds).
    public static func days(_ d: Int64) -> EventDuration { .seconds(d &* 86_400) }

    /// The span in seconds, fractional (metrics, speeds).
    public var seconds: Double { Double(microseconds) / 1_000_000 }
    /// The span in hours, fractional (travel speed in km/h).
    public var hours: Double { Double(microseconds) / 3_600_000_000 }

    /// Shorter spans are smaller.
    public static func < (lhs: EventDuration, rhs: EventDuration) -> Bool { lhs.microseconds < rhs.microseconds }
}
