import _VigilMachinery

/// The deterministic heart of Vigil: one validated, enriched event in, at most one decision and any
/// number of alerts out. Event time is its only clock; no locks, no I/O. A shard owns one engine.
public struct RiskEngine: Sendable {
    /// The configuration the engine applies now (changed only by `reconfigure`).
    public var config: VigilConfig { rules.config }
    /// Stamped on every decision, so each one names the configuration that made it.
    public var policyVersion: String { rules.policyVersion }
    /// The shard's state; read it for figures, only the engine changes it.
    public internal(set) var state: ShardState
    /// Everything applied to an event apart from the state, kept apart from it so both can be
    /// accessed at once (see `ShardState.updateUser`).
    private(set) var rules: EventRules
    let keys: EngineKeys
    /// Set by a changelog restore or a stamped snapshot until the input passes what the restored state
    /// reflects (`ReplayGuard`).
    var replayGuard: ReplayGuard?
    /// `Int64.max` while `replayGuard` is set, else `Int64.min`: the one comparison an event with an
    /// offset pays once the guard is gone.
    var guardedThrough = Int64.min
    /// The last checkpoint a changelog restore applied: the input offset the restored state reaches and
    /// the settings digest it was written under.
    public internal(set) var restoredCheckpoint: ChangelogCheckpoint?

    /// An engine with empty state. `deviceKey` keys the hashes of device ids and other identifiers: engines
    /// that must agree (shards of one deployment, a replay of its input) need the same key.
    public init(config: VigilConfig, policyVersion: String, deviceKey: SipHashKey) {
        self.init(config: config, policyVersion: policyVersion, deviceKey: deviceKey, stages: .all)
    }

    /// An engine with empty state running one keyed stage only (a shard of that stage): the user stage
    /// holds users and the global windows, the source stage sources, the domain stage domains. Its
    /// events come from a `StageProcessor`, with lateness decided by the decode stage (the `process`
    /// taking an `AuthEvent` is for an engine running every stage). `dropsRepeats` false leaves out its
    /// table of event ids: for a shard all of whose records come from one decode stage, which drops every
    /// repeat before them (a replay).
    public init(
        config: VigilConfig, policyVersion: String, deviceKey: SipHashKey, stage: StageKind, dropsRepeats: Bool = true
    ) {
        self.init(config: config, policyVersion: policyVersion, deviceKey: deviceKey, stages: EngineStages(stage))
        if !dropsRepeats { recentEvents = nil }
    }

    init(config: VigilConfig, policyVersion: String, deviceKey: SipHashKey, stages: EngineStages) {
        self.state = ShardState(
            allowedLateness: config.engine.allowedLateness, globalWindow: config.engine.globalWindow)
        self.keys = EngineKeys(secret: deviceKey)
        self.rules = EventRules(config: config, policyVersion: policyVersion, keys: keys)
        self.stages = stages
        if stages != .all { recentEvents = RecentEventIDs(config.input) }
    }

    /// A keyed stage's table of event ids seen (`input.duplicate_window`): a repeat delivered on another
    /// input partition than the first copy passes that decode stage's table, and meets the first here,
    /// where all events of its key (user, source, domain) do, so no window counts it twice. Nil for an
    /// engine running every stage (its input partition holds all of a user's events, so the decode stage
    /// sees every repeat).
    private var recentEvents: RecentEventIDs?

    /// The stages this engine runs: all of them (one shard holds everything), or one keyed stage.
    let stages: EngineStages

    /// Swaps in a new configuration between two events. State is kept; windows adopt new thresholds
    /// from the next event on.
    public mutating func reconfigure(_ config: VigilConfig, policyVersion: String) {
        self.rules = EventRules(config: config, policyVersion: policyVersion, keys: keys)
        state.watermark.allowedLateness = config.engine.allowedLateness
        recentEvents?.reconfigure(config.input)
        adoptConfiguredGlobalWindow()
    }

    /// Restarts the global windows when the configured length differs from theirs, marking what the
    /// restart clears for the changelog.
    mutating func adoptConfiguredGlobalWindow() {
        guard state.global.window != config.engine.globalWindow else { return }
        if state.changes != nil {
            for slot in state.global.occupiedSlots { state.changes!.markBucket(slot: slot) }
            state.changes!.shard = true
        }
        state.global.adopt(window: config.engine.globalWindow)
    }

    /// What one event produced.
    public struct Verdict: Sendable {
        /// Set only for successful logins and sensitive actions, the events an IdP waits on.
        public var decision: Decision?
        /// In detection order.
        public var alerts: [Alert] = []
        /// The event was behind the watermark: scored, but state was not changed.
        public var late = false
        /// The event was processed again after a restore, and an entry it reads or changes already
        /// reflected it: its decision and alerts were delivered before (outputs reach Kafka before the
        /// changelog records reflecting them), and these copies, scored against state that already
        /// counts the event, may differ from those (an alert may be missing, or be one the first run
        /// never raised). The first copy stands; a consumer must not let this one replace it. Every
        /// copy that is not marked equals the first.
        public var reemitted = false
        /// The source stage's new fact for the source-risk table, when its failing-users window changed
        /// while at or above the spraying threshold (`SourceRiskFact`); nil otherwise, and always nil
        /// for an engine running every stage (it reads its own sources).
        public var sourceRisk: SourceRiskFact?
        /// The campaign stage's new facts for the campaigns table, when a campaign opened or was extended
        /// on the event's autonomous system or tenant (`CampaignFact`); empty for an engine running every
        /// stage (it reads its own campaign state).
        public var campaigns: [CampaignFact] = []
        /// Autonomous systems and tenants the campaign stage forgot whose facts it had published: their
        /// facts are withdrawn (tombstones on the campaigns topic), before any new fact of the event. An
        /// entity idle past `engine.campaigns.idle_ttl` had its intervals end long before; one dropped at
        /// `engine.campaigns.max_entities` may be mid-campaign, which then stops scoring logins.
        public var retiredCampaigns: [UInt64] = []
        /// The event repeats one seen within `input.duplicate_window`: nothing was scored or changed.
        public var duplicate = false
        /// Sources the source stage forgot (idle past the longest cross-user window, or dropped at
        /// `engine.max_sources`) whose facts it had published: their facts are withdrawn (a tombstone on
        /// the source-risk topic), so the table shrinks as the sources' state does. Withdrawing changes no
        /// verdict of an event on time: the facts hold only times that no such event still counts.
        public var retiredSources: [UInt64] = []
        /// What the event did to its user's baseline, per `BaselineLearning` case position: one for a
        /// successful login on time, the logins it verified for an MFA success; zeros otherwise.
        public var baseline = InlineArray<4, UInt8>(repeating: 0)
        /// The user's risk level moved across `ssf.risk_level_change.from` (user stage, `ssf.enabled`).
        public var riskLevelChange: RiskLevelChange?
        /// Whom the verdict is about, for the signals' subject; set by the user stage when `ssf.enabled`.
        public var subject: SignalSubject?
    }

    /// `intel` is handed over (moved into the `EventContext`), not copied: a copy retains its names
    /// and reputation list only to release them again. `offset` is the event's input offset when it
    /// has one (Kafka): after a restore, an event the restored state already reflects changes none of
    /// the entries that reflect it (`ReplayGuard`); its decision and alerts are produced all the same.
    /// For an engine running every stage; lateness is decided by its own watermark. `message` holds the
    /// bytes the event was decoded from when its texts are spans of them (the decoder's events).
    public mutating func process(
        _ event: consuming AuthEvent, intel: consuming IPIntelligence?, offset: Int64? = nil,
        message: UnsafeRawBufferPointer? = nil
    ) -> Verdict {
        let late = state.watermark.isLate(event.time)
        let context = EventContext(event: event, intel: intel ?? .unknown, keys: keys, message: message)
        return run(context, late: late, globalFacts: nil, offset: offset)
    }

    /// Runs one event of a stage record through this stage's engine. `late` is the decode stage's
    /// verdict (its watermark sees the whole input partition, a stage shard's would depend on the
    /// partition count); a late event is scored but changes nothing. `globalFacts` is where the user
    /// stage's `source_ip_spraying` signal reads. `offset` is the record's offset in the stage topic, for
    /// the replay guard. `origin` is where the decode stage read the event: a record at or below the
    /// highest input offset this shard applied from that input partition is a copy the decode stage
    /// produced again (it consumed its input again after a crash), scored like a late event, changing
    /// nothing, its outputs marked re-emitted. `lane` tells apart the records one event makes for one
    /// stage (`StageProcessor.tenantLane`): their input marks and event ids are kept apart by it.
    mutating func process(
        stageEvent context: EventContext, late: Bool, globalFacts: (any GlobalFactLookup)?, offset: Int64?,
        origin: InputPosition?, lane: UInt64 = 0
    ) -> Verdict {
        if let origin {
            let partition = origin.partition ^ lane
            if let applied = state.inputMarks[partition], origin.offset <= applied {
                var verdict = apply(context, late: true, globalFacts: globalFacts, sparing: nil, copy: true)
                verdict.late = false
                verdict.reemitted = true
                return verdict
            }
            state.inputMarks[partition] = origin.offset
        }
        if recentEvents != nil {
            let id = keys.eventKey(tenant: context.event.tenant, eventID: context.event.eventID) ^ lane
            guard recentEvents!.admit(id, at: context.event.time, position: origin) else {
                return Verdict(duplicate: true)
            }
        }
        return run(context, late: late, globalFacts: globalFacts, offset: offset)
    }

    private mutating func run(
        _ context: EventContext, late: Bool, globalFacts: (any GlobalFactLookup)?, offset: Int64?
    ) -> Verdict {
        if let offset, offset <= guardedThrough {
            return processGuarded(context, late: late, globalFacts: globalFacts, offset: offset)
        }
        return apply(context, late: late, globalFacts: globalFacts, sparing: nil)
    }

    /// Applies the event to the state; entries `spared` (the replay guard's) are left to the caller.
    /// A `copy` (of an event applied before) is late and not even counted as late.
    ///
    /// A user idle for longer than `engine.user_idle_ttl` before the event is read as absent, whether
    /// or not a sweep removed it yet: sweeps run on the shard's own event time, which depends on the
    /// partition count, so only what no event still on time can read may depend on them.
    mutating func apply(
        _ context: EventContext, late: Bool, globalFacts: (any GlobalFactLookup)?,
        sparing spared: ((StateEntryKey) -> Bool)?, sweeping: Bool = true, copy: Bool = false
    ) -> Verdict {
        let time = context.event.time
        if late {
            if !copy { state.countLate() }
        } else {
            state.watermark.observe(time)
        }
        var verdict = Verdict(late: late)
        if stages.contains(.user) {
            let userKey = context.userKey
            let idleBefore = time - config.engine.userIdleTTL
            if late {
                // A late event changes nothing, so it reads a copy.
                var user =
                    state.users[userKey].flatMap { $0.lastSeen < idleBefore ? nil : $0 } ?? UserState(lastSeen: time)
                rules.apply(context, late: true, user: &user, state: &state, globalFacts: globalFacts, into: &verdict)
            } else {
                state.updateUser(userKey, inserting: { UserState(lastSeen: time) }, using: rules) {
                    rules, user, state in
                    if user.lastSeen < idleBefore { user = UserState(lastSeen: time) }
                    rules.apply(
                        context, late: false, user: &user, state: &state, globalFacts: globalFacts, into: &verdict)
                }
            }
        }
        if !late {
            if stages.contains(.source) {
                rules.applySource(context, state: &state, publishing: stages != .all, into: &verdict)
            }
            if stages.contains(.domain) { rules.applyDomain(context, state: &state, into: &verdict) }
            if stages.contains(.campaign) {
                rules.applyCampaign(context, state: &state, publishing: stages != .all, into: &verdict)
            }
            if sweeping {
                let retired =
                    state.sweepIfDue(settings: config.engine, sparing: spared)
                    + state.enforceCapacity(settings: config.engine, sparing: spared)
                // Only the source and campaign stages publish facts (an engine of every stage reads its own).
                if stages == .source { verdict.retiredSources = retired }
                if stages == .campaign { verdict.retiredCampaigns += retired }
            }
        }
        if state.changes != nil, !copy { markChanges(of: context, late: late) }
        return verdict
    }

    /// Marks the entries the event changed for the next changelog flush.
    private mutating func markChanges(of context: EventContext, late: Bool) {
        state.changes!.shard = true
        guard !late else { return }
        if stages.contains(.user) { state.changes!.users.insert(context.userKey) }
        let event = context.event
        switch event.type {
        case .login where event.outcome != .success: break
        case .passwordResetRequest:
            if stages.contains(.domain), let domain = event.user.emailDomain {
                state.changes!.domains.insert(keys.domainStateKey(tenant: event.tenant, domain: domain))
            }
        default: return
        }
        if stages.contains(.source), let source = context.sourceStateKey { state.changes!.sources.insert(source) }
        if stages.contains(.campaign), config.engine.campaigns.enabled {
            let counted = context.countedCampaigns
            for key in [counted.asn, counted.tenant] { if let key { state.changes!.campaigns.insert(key) } }
        }
        if stages.contains(.user) { state.changes!.markBucket(slot: state.global.slot(at: event.time)) }
    }

    /// The newest event time the state has seen on time (its watermark trails it by
    /// `engine.allowed_lateness`): where a decode stage resumes after a restore.
    public var newestEventTime: Timestamp? { state.watermark.maxEventTime }

    /// Users held in the shard's state now.
    public var userCount: Int { state.users.count }

    /// Entity counts, approximate state size and global windows of this engine's shard.
    public var figures: StateFigures { state.figures }

    /// `figures` with the global windows ending at `time` when it is later than this shard's newest
    /// event (`ShardState.figures(globalWindowsAsOf:)`): for a sum over shards, as of their newest event.
    public func figures(globalWindowsAsOf time: Timestamp?) -> StateFigures {
        state.figures(globalWindowsAsOf: time)
    }
}

/// The stages one engine runs.
struct EngineStages: OptionSet, Sendable {
    let rawValue: UInt8

    static let user = EngineStages(rawValue: 1 << 0)
    static let source = EngineStages(rawValue: 1 << 1)
    static let domain = EngineStages(rawValue: 1 << 2)
    static let campaign = EngineStages(rawValue: 1 << 3)
    static let all: EngineStages = [.user, .source, .domain, .campaign]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ stage: StageKind) {
        switch stage {
        case .user: self = .user
        case .source: self = .source
        case .domain: self = .domain
        case .campaign: self = .campaign
        }
    }
}
