/// All state of one shard (one Kafka partition, or a whole replay): users, sources and domains,
/// keyed by keyed hashes so raw identifiers never sit in memory longer than the event that carried them.
public struct ShardState: Sendable {
    public var users: [UInt64: UserState] = [:]
    public var sources: [IPAddress: SourceState] = [:]
    public var domains: [UInt64: DomainState] = [:]
    public var watermark: Watermark
    var nextSweep: Timestamp?
    public private(set) var counters = StateCounters()

    public init(allowedLateness: Duration) { watermark = Watermark(allowedLateness: allowedLateness) }

    /// Forgets idle users, sources and domains once the watermark passes the next sweep time.
    /// Sweeps are driven by event time so replay and live runs evict identically.
    mutating func sweepIfDue(settings: EngineSettings) {
        guard let now = watermark.current else { return }
        guard let due = nextSweep else {
            nextSweep = now + Self.sweepInterval
            return
        }
        guard now >= due else { return }
        nextSweep = now + Self.sweepInterval
        let userCutoff = now - settings.userIdleTTL
        let before = users.count
        users = users.filter { $0.value.lastSeen >= userCutoff }
        counters.evictedUsers += before - users.count
        let crossCutoff = now - settings.longestCrossUserWindow
        let sourcesBefore = sources.count, domainsBefore = domains.count
        sources = sources.filter { $0.value.lastSeen >= crossCutoff }
        domains = domains.filter { $0.value.lastSeen >= crossCutoff }
        counters.evictedSources += sourcesBefore - sources.count + domainsBefore - domains.count
    }

    mutating func countLate() { counters.lateEvents += 1 }

    static let sweepInterval = Duration.minutes(10)
}

/// Running totals for metrics and summaries.
public struct StateCounters: Sendable, Equatable {
    public var lateEvents = 0
    public var evictedUsers = 0
    public var evictedSources = 0
}

extension EngineSettings {
    /// Cross-user state must outlive the longest window that reads it (and any alert hold).
    var longestCrossUserWindow: Duration {
        max(alerts.resetAbuseWindow, alerts.stuffingWindow, signals.sprayingWindow, Duration.hours(1))
    }
}
