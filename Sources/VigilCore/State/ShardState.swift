/// All state of one shard: of every stage (a `Pipeline`: one Kafka input partition), or of one keyed
/// stage's partition (a `StageProcessor`: users and the global windows, sources, or domains). Keyed by
/// keyed hashes so raw identifiers never sit in memory longer than the event that carried them.
public struct ShardState: Sendable {
    var users = UserTable()
    /// By keyed hash of the source address (IPv6 aggregated to /64).
    var sources: [UInt64: SourceState] = [:]
    var domains: [UInt64: DomainState] = [:]
    /// Autonomous systems and tenants, by `EngineKeys.campaignKey`.
    var campaigns: [UInt64: CampaignState] = [:]
    var global: GlobalWindows
    /// City names and AS organisations of the users' anchors.
    var names = NameTable()
    var watermark: Watermark
    var nextSweep: Timestamp?
    var nextRareSweep: Timestamp?
    /// A stage shard's highest input offset applied per input partition (`InputPosition`), so a record
    /// the decode stage produced again changes nothing twice. Written with the shard entry.
    var inputMarks: [UInt64: Int64] = [:]
    /// Late events, evictions and drops since the shard was created.
    public internal(set) var counters = StateCounters()
    /// The entries changed since the last changelog flush; nil while changes are not recorded (replay,
    /// or no changelog), so recording costs nothing then.
    var changes: StateChanges?

    /// Empty state. `allowedLateness` sets the watermark; `globalWindow` the span of the global counts.
    public init(allowedLateness: EventDuration, globalWindow: EventDuration) {
        watermark = Watermark(allowedLateness: allowedLateness)
        global = GlobalWindows(window: globalWindow)
    }

    /// Updates the record of `key` (inserted from `newUser` when absent) in place while `body` also
    /// changes the rest of the shard (sources, domains, global windows, names).
    ///
    /// The record lives inside `users`, so writing it and the other tables at once would be two
    /// overlapping accesses to the state. For the call the user table is moved out of the state (a swap
    /// with an empty table: no copy, no allocation) and back afterwards; `body` therefore sees an empty
    /// `users`, and must not read other users' records (no detector does). `rules` is handed through
    /// so the caller's closure captures nothing that overlaps the state.
    mutating func updateUser<Rules>(
        _ key: UInt64, inserting newUser: () -> UserState, using rules: Rules,
        _ body: (Rules, inout UserState, inout ShardState) -> Void
    ) {
        var table = UserTable()
        swap(&table, &users)
        table.update(key, inserting: newUser) { body(rules, &$0, &self) }
        swap(&table, &users)
    }

    /// The user's last successful login, decoded.
    func lastLogin(of user: UserState) -> LoginAnchor? {
        user.lastLogin.map { LoginAnchor($0, names: names) }
    }

    /// Users held now.
    public var userCount: Int { users.count }
    /// Source addresses (or IPv6 /64s) held now.
    public var sourceCount: Int { sources.count }
    /// Email domains held now.
    public var domainCount: Int { domains.count }
    /// Autonomous systems and tenants held now.
    public var campaignCount: Int { campaigns.count }

    /// Entity counts, an approximate size of everything held and the global windows now, for status,
    /// metrics and summaries.
    public var figures: StateFigures { figures(globalWindowsAsOf: nil) }

    /// `figures` with the global windows ending at `time` when it is later than this shard's newest
    /// event: the newest event of all the shards summed with this one. Each shard's own newest would
    /// leave a shard that saw nothing lately showing the failures of its last busy window, and the sum
    /// would count them as recent.
    public func figures(globalWindowsAsOf time: Timestamp?) -> StateFigures {
        StateFigures(
            users: users.count, sources: sources.count, domains: domains.count, campaigns: campaigns.count,
            names: names.count,
            approximateBytes: users.approximateBytes + names.approximateBytes
                + sources.capacity * 4 / 3 * (MemoryLayout<UInt64>.stride + MemoryLayout<SourceState>.stride)
                + sources.count * Self.sourceHeapBytes
                + domains.capacity * 4 / 3 * (MemoryLayout<UInt64>.stride + MemoryLayout<DomainState>.stride)
                + domains.count * Self.domainHeapBytes
                + campaigns.capacity * 4 / 3 * (MemoryLayout<UInt64>.stride + MemoryLayout<CampaignState>.stride)
                + campaigns.values.reduce(0) {
                    $0 + $1.baseline.count * 4 + $1.current.users.registerBytes.count
                        + ($1.previous?.users.registerBytes.count ?? 0)
                },
            evictedUsers: counters.evictedUsers, evictedSources: counters.evictedSources,
            droppedAtCapacity: counters.droppedAtCapacity,
            global: (time.map { max($0, watermark.maxEventTime ?? $0) } ?? watermark.maxEventTime)
                .map { global.figures(at: $0) } ?? GlobalFigures())
    }

    /// Estimates of the window entries a source or domain holds on the heap.
    static let sourceHeapBytes = 512
    static let domainHeapBytes = 256

    /// Forgets idle users, sources and domains once the watermark passes the next sweep time, and (every
    /// `rareSweepInterval`, as it reads every allocated part) drops the rarely used part of a user once
    /// everything in it is older than the longest window reading it. Sweeps are driven by event time so
    /// replay and live runs evict identically. A late event is scored against what is left: one more
    /// than that longest window (24 h by default) behind the watermark no longer sees the user's
    /// failures, pushes or password reset of its own time.
    ///
    /// Entries the replay guard `spares` stay as they are; the keys of those removed or changed go to
    /// `changes` when recorded. Returns the sources removed that may have a fact in the source-risk
    /// table (`retiredSources`), then the autonomous systems and tenants removed that may have one in the
    /// campaigns table (`retiredCampaigns`): a shard holds one or the other unless it runs every stage.
    @discardableResult
    mutating func sweepIfDue(settings: EngineSettings, sparing spared: ((StateEntryKey) -> Bool)? = nil) -> [UInt64] {
        guard let now = watermark.current else { return [] }
        guard let due = nextSweep else {
            nextSweep = now + Self.sweepInterval
            return []
        }
        guard now >= due else { return [] }
        nextSweep = now + Self.sweepInterval
        let userCutoff = now - settings.userIdleTTL
        var rareCutoff: Timestamp?
        if now >= nextRareSweep ?? now {
            nextRareSweep = now + Self.rareSweepInterval
            rareCutoff = now - settings.longestUserWindow
        }
        let recording = changes != nil
        var changedUsers: [UInt64] = []
        let evicted = users.sweep(
            idleBefore: userCutoff, dropRareBefore: rareCutoff,
            sparing: { spared?(StateEntryKey(kind: .user, hash: $0)) ?? false }
        ) { if recording { changedUsers.append($0) } }
        counters.evictedUsers += evicted
        let crossCutoff = now - settings.longestCrossUserWindow
        let sourcesBefore = sources
        let domainsBefore = domains
        sources = sources.filter {
            $0.value.lastSeen >= crossCutoff || spared?(StateEntryKey(kind: .source, hash: $0.key)) == true
        }
        domains = domains.filter {
            $0.value.lastSeen >= crossCutoff || spared?(StateEntryKey(kind: .domain, hash: $0.key)) == true
        }
        counters.evictedSources += sourcesBefore.count - sources.count + domainsBefore.count - domains.count
        var retired: [UInt64] = []
        if sourcesBefore.count != sources.count {
            for (key, source) in sourcesBefore where sources[key] == nil {
                if recording { changes!.sources.insert(key) }
                if source.publishesFacts(settings.signals) { retired.append(key) }
            }
        }
        let campaignCutoff = now - settings.campaigns.idleTTL
        let idleCampaigns = campaigns.filter {
            $0.value.lastSeen < campaignCutoff && spared?(StateEntryKey(kind: .campaign, hash: $0.key)) != true
        }
        for (key, campaign) in idleCampaigns {
            campaigns[key] = nil
            if recording { changes!.campaigns.insert(key) }
            if campaign.publishesFacts { retired.append(key) }
        }
        counters.evictedSources += idleCampaigns.count
        if recording {
            changes!.users.formUnion(changedUsers)
            if domainsBefore.count != domains.count {
                for key in domainsBefore.keys where domains[key] == nil { changes!.domains.insert(key) }
            }
        }
        return retired.sorted()
    }

    mutating func countLate() { counters.lateEvents += 1 }

    static let sweepInterval = EventDuration.minutes(10)
    static let rareSweepInterval = EventDuration.hours(1)
}

/// How much a shard holds and what its global windows show. `approximateBytes` is the records and
/// indexes as allocated plus estimates for heap parts, not an exact measurement; evictions count since
/// the shard was created.
public struct StateFigures: Sendable, Equatable {
    /// Users held.
    public var users = 0
    /// Source addresses (or IPv6 /64s) held.
    public var sources = 0
    /// Email domains held.
    public var domains = 0
    /// Autonomous systems and tenants held by the campaign windows.
    public var campaigns = 0
    /// Interned city and organisation names.
    public var names = 0
    /// Estimated bytes of state; good for trends and alarms, not for accounting.
    public var approximateBytes = 0
    /// Users evicted after `engine.user_idle_ttl` without an event.
    public var evictedUsers = 0
    /// Sources, email domains, autonomous systems and tenants.
    public var evictedSources = 0
    /// Users, sources and email domains dropped because their shard was full (`engine.max_users`,
    /// `max_sources`, `max_email_domains`).
    public var droppedAtCapacity = 0
    /// What the shard's global windows show.
    public var global = GlobalFigures()

    /// Figures as given; zero by default, for summing shards.
    public init(
        users: Int = 0, sources: Int = 0, domains: Int = 0, campaigns: Int = 0, names: Int = 0,
        approximateBytes: Int = 0,
        evictedUsers: Int = 0, evictedSources: Int = 0, droppedAtCapacity: Int = 0,
        global: GlobalFigures = GlobalFigures()
    ) {
        self.users = users
        self.sources = sources
        self.domains = domains
        self.campaigns = campaigns
        self.names = names
        self.approximateBytes = approximateBytes
        self.evictedUsers = evictedUsers
        self.evictedSources = evictedSources
        self.droppedAtCapacity = droppedAtCapacity
        self.global = global
    }

    /// Adds another shard's figures, for daemon-wide totals.
    public mutating func add(_ other: StateFigures) {
        users += other.users
        sources += other.sources
        domains += other.domains
        campaigns += other.campaigns
        names += other.names
        approximateBytes += other.approximateBytes
        evictedUsers += other.evictedUsers
        evictedSources += other.evictedSources
        droppedAtCapacity += other.droppedAtCapacity
        global.add(other.global)
    }
}

/// Running totals for metrics and summaries.
public struct StateCounters: Sendable, Equatable {
    /// Events behind the watermark.
    public var lateEvents = 0
    /// Users evicted for being idle.
    public var evictedUsers = 0
    /// Sources, email domains, autonomous systems and tenants evicted for being idle.
    public var evictedSources = 0
    /// Records dropped because the shard was at a capacity limit.
    public var droppedAtCapacity = 0
}

extension EngineSettings {
    /// Cross-user state must outlive the longest window that reads it (and any alert hold).
    var longestCrossUserWindow: EventDuration {
        max(alerts.resetAbuseWindow, alerts.stuffingWindow, signals.sprayingWindow, EventDuration.hours(1))
    }

    /// The longest window that reads a user's rarely used state (failures, pushes, resets, holds).
    var longestUserWindow: EventDuration {
        let horizons = (alerts.pushBombingHorizons + alerts.mfaFatigueHorizons).map(\.window)
        return max(
            signals.failedAttemptsWindow, signals.pushBurstWindow, alerts.pushBombingWindow, alerts.mfaFatigueWindow,
            alerts.resetAbuseWindow, postResetWindow, alerts.serviceAccountHold, verification.window,
            verification.sessionHold,
            horizons.max() ?? .seconds(0))
    }
}
