/// All state of one shard (one Kafka partition, or a whole replay): users, sources and domains,
/// keyed by keyed hashes so raw identifiers never sit in memory longer than the event that carried them.
public struct ShardState: Sendable {
    public var users: [UInt64: UserState] = [:]
    public var sources: [IPAddress: SourceState] = [:]
    public var domains: [UInt64: DomainState] = [:]
    public var global: GlobalWindows
    public var watermark: Watermark
    var nextSweep: Timestamp?
    public private(set) var counters = StateCounters()

    public init(allowedLateness: Duration, globalWindow: Duration) {
        watermark = Watermark(allowedLateness: allowedLateness)
        global = GlobalWindows(window: globalWindow)
    }

    /// Sizes and global figures now, for metrics and summaries.
    public var figures: StateFigures {
        StateFigures(
            users: users.count, sources: sources.count, domains: domains.count,
            global: watermark.maxEventTime.map { global.figures(at: $0) } ?? GlobalFigures())
    }

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

/// How much state a shard holds and what its global windows show.
public struct StateFigures: Sendable, Equatable {
    public var users = 0
    public var sources = 0
    public var domains = 0
    public var global = GlobalFigures()

    public init(users: Int = 0, sources: Int = 0, domains: Int = 0, global: GlobalFigures = GlobalFigures()) {
        self.users = users
        self.sources = sources
        self.domains = domains
        self.global = global
    }

    /// Adds another shard's figures, for daemon-wide totals.
    public mutating func add(_ other: StateFigures) {
        users += other.users
        sources += other.sources
        domains += other.domains
        global.add(other.global)
    }
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
