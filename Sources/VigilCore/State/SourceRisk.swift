/// What the source stage tells every user stage about one source address: the latest failure time of
/// each distinct user whose login failed from it, as many as the source's failing-users window holds
/// (its capacity is `max(alerts.stuffing_distinct_users, signals.spraying_distinct_users)`), keyed by
/// the source's keyed hash. The `source_ip_spraying` signal counts the times inside
/// `[t - signals.spraying_window, t]`, exactly as it counted the source's own window when one shard held
/// both.
///
/// Why that is exact when the table is updated synchronously (replay): the failing-users window only
/// changes when the source stage records a failed login, and never loses an entry except by giving
/// way to a newer one at capacity, so the number of users it holds never goes down. The source stage
/// publishes a fact on every change once that number reaches the spraying threshold, so from then on
/// the table holds a copy of the window as of the last failure processed. Before that, fewer users than
/// the threshold are held, so no time range can count enough of them and the signal stays silent
/// whatever the table holds. A fact left by a source that was swept out (idle past the longest
/// cross-user window, which is at least the spraying window) only holds times that no event still on
/// time can count. On Kafka the table lags by the propagation delay instead.
public struct SourceRiskFact: Sendable, Equatable {
    /// The keyed hash of the source address (IPv6 aggregated to /64), as the source state is keyed.
    public var source: UInt64
    /// The latest failure time of each distinct failing user, in ascending order.
    public var failingUserTimes: [Timestamp]

    /// A fact for `source`; `failingUserTimes` is sorted here.
    public init(source: UInt64, failingUserTimes: [Timestamp]) {
        self.source = source
        self.failingUserTimes = failingUserTimes.sorted()
    }

    /// Distinct failing users whose latest failure lies in `start...end`.
    public func failingUsers(from start: Timestamp, through end: Timestamp) -> Int {
        var total = 0
        for time in failingUserTimes where time >= start && time <= end { total += 1 }
        return total
    }
}
