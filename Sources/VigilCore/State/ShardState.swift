/// All state of one shard (one Kafka partition, or a whole replay): users, sources and domains,
/// keyed by keyed hashes so raw identifiers never sit in memory longer than the event that carried them.
public struct ShardState: Sendable {
    public var users = UserTable()
    public var sources: [IPAddress: SourceState] = [:]
    public var domains: [UInt64: DomainState] = [:]
    /// City names and AS organisations of the users' anchors.
    public var names = NameTable()
    public var watermark: Watermark
    var nextSweep: Timestamp?
    var nextRareSweep: Timestamp?
    public private(set) var counters = StateCounters()

    public init(allowedLateness: Duration) { watermark = Watermark(allowedLateness: allowedLateness) }

    /// The user's last successful login, decoded.
    public func lastLogin(of user: UserState) -> LoginAnchor? {
        user.lastLogin.map { LoginAnchor($0, names: names) }
    }

    public var userCount: Int { users.count }
    public var sourceCount: Int { sources.count }
    public var domainCount: Int { domains.count }

    /// Entity counts and an approximate size of everything held, for status and metrics.
    public var footprint: StateFootprint {
        StateFootprint(
            users: users.count, sources: sources.count, domains: domains.count, names: names.count,
            approximateBytes: users.approximateBytes + names.approximateBytes
                + sources.capacity * 4 / 3 * (MemoryLayout<IPAddress>.stride + MemoryLayout<SourceState>.stride)
                + sources.count * Self.sourceHeapBytes
                + domains.capacity * 4 / 3 * (MemoryLayout<UInt64>.stride + MemoryLayout<DomainState>.stride)
                + domains.count * Self.domainHeapBytes)
    }

    /// Estimates of the window entries a source or domain holds on the heap.
    static let sourceHeapBytes = 512
    static let domainHeapBytes = 256

    /// Forgets idle users, sources and domains once the watermark passes the next sweep time, and (every
    /// `rareSweepInterval`, as it reads every allocated part) drops the rarely used part of a user once
    /// everything in it is older than the longest window reading it. Sweeps are driven by event time so
    /// replay and live runs evict identically.
    mutating func sweepIfDue(settings: EngineSettings) {
        guard let now = watermark.current else { return }
        guard let due = nextSweep else {
            nextSweep = now + Self.sweepInterval
            return
        }
        guard now >= due else { return }
        nextSweep = now + Self.sweepInterval
        let userCutoff = now - settings.userIdleTTL
        var rareCutoff: Timestamp?
        if now >= nextRareSweep ?? now {
            nextRareSweep = now + Self.rareSweepInterval
            rareCutoff = now - settings.longestUserWindow
        }
        let evicted = users.sweep(idleBefore: userCutoff, dropRareBefore: rareCutoff)
        counters.evictedUsers += evicted
        let crossCutoff = now - settings.longestCrossUserWindow
        let sourcesBefore = sources.count, domainsBefore = domains.count
        sources = sources.filter { $0.value.lastSeen >= crossCutoff }
        domains = domains.filter { $0.value.lastSeen >= crossCutoff }
        counters.evictedSources += sourcesBefore - sources.count + domainsBefore - domains.count
    }

    mutating func countLate() { counters.lateEvents += 1 }

    static let sweepInterval = Duration.minutes(10)
    static let rareSweepInterval = Duration.hours(1)
}

/// How much one shard holds: entity counts and an approximate size in bytes (the records and indexes as
/// allocated, plus estimates for heap parts; not an exact measurement).
public struct StateFootprint: Sendable, Equatable {
    public var users: Int
    public var sources: Int
    public var domains: Int
    /// Interned city and organisation names.
    public var names: Int
    public var approximateBytes: Int
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

    /// The longest window that reads a user's rarely used state (failures, pushes, resets, holds).
    var longestUserWindow: Duration {
        max(
            signals.failedAttemptsWindow, signals.pushBurstWindow, alerts.pushBombingWindow, alerts.mfaFatigueWindow,
            alerts.resetAbuseWindow, postResetWindow, RiskEngine.serviceAlertHold)
    }
}
