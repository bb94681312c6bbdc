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
    /// The last checkpoint a changelog restore applied.
    var restoredCheckpoint: ChangelogCheckpoint?

    /// An engine with empty state. `deviceKey` keys the hashes of device ids and other identifiers: engines
    /// that must agree (shards of one deployment, a replay of its input) need the same key.
    public init(config: VigilConfig, policyVersion: String, deviceKey: SipHashKey) {
        self.state = ShardState(
            allowedLateness: config.engine.allowedLateness, globalWindow: config.engine.globalWindow)
        self.keys = EngineKeys(secret: deviceKey)
        self.rules = EventRules(config: config, policyVersion: policyVersion, keys: keys)
    }

    /// Swaps in a new configuration between two events. State is kept; windows adopt new thresholds
    /// from the next event on.
    public mutating func reconfigure(_ config: VigilConfig, policyVersion: String) {
        self.rules = EventRules(config: config, policyVersion: policyVersion, keys: keys)
        state.watermark.allowedLateness = config.engine.allowedLateness
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
    }

    /// `intel` is handed over (moved into the `EventContext`), not copied: a copy retains its names
    /// and reputation list only to release them again. `offset` is the event's input offset when it
    /// has one (Kafka): after a restore, an event the restored state already reflects changes none of
    /// the entries that reflect it (`ReplayGuard`); its decision and alerts are produced all the same.
    public mutating func process(_ event: AuthEvent, intel: consuming IPIntelligence?, offset: Int64? = nil) -> Verdict
    {
        if let offset, offset <= guardedThrough {
            return processGuarded(event, intel: intel, offset: offset)
        }
        return apply(event, intel: intel, sparing: nil)
    }

    /// Applies the event to the state; entries `spared` (the replay guard's) are left to the caller.
    mutating func apply(
        _ event: AuthEvent, intel: consuming IPIntelligence?, sparing spared: ((StateEntryKey) -> Bool)?,
        sweeping: Bool = true
    ) -> Verdict {
        let time = event.time
        let late = state.watermark.isLate(time)
        if late {
            state.countLate()
        } else {
            state.watermark.observe(time)
        }
        let context = EventContext(event: event, intel: intel ?? .unknown, keys: keys)
        var verdict = Verdict(late: late)
        let userKey = context.userKey

        if late {
            // A late event changes nothing, so it reads a copy.
            var user = state.users[userKey] ?? UserState(lastSeen: time)
            rules.apply(context, late: true, user: &user, state: &state, into: &verdict)
        } else {
            state.updateUser(userKey, inserting: { UserState(lastSeen: time) }, using: rules) { rules, user, state in
                rules.apply(context, late: false, user: &user, state: &state, into: &verdict)
            }
            if sweeping {
                state.sweepIfDue(settings: config.engine, sparing: spared)
                state.enforceCapacity(settings: config.engine, sparing: spared)
            }
        }
        if state.changes != nil { markChanges(of: context, late: late) }
        return verdict
    }

    /// Marks the entries the event changed for the next changelog flush.
    private mutating func markChanges(of context: EventContext, late: Bool) {
        state.changes!.shard = true
        guard !late else { return }
        state.changes!.users.insert(context.userKey)
        let event = context.event
        let countsInGlobalWindows: Bool
        switch event.type {
        case .login: countsInGlobalWindows = event.outcome != .success
        case .passwordResetRequest:
            countsInGlobalWindows = true
            if let domain = event.user.emailDomain {
                state.changes!.domains.insert(keys.domainStateKey(tenant: event.tenant, domain: domain))
            }
        default: countsInGlobalWindows = false
        }
        guard countsInGlobalWindows else { return }
        if let source = context.sourceStateKey { state.changes!.sources.insert(source) }
        state.changes!.markBucket(slot: state.global.slot(at: event.time))
    }

    /// Users held in the shard's state now.
    public var userCount: Int { state.users.count }

    /// Entity counts, approximate state size and global windows of this engine's shard.
    public var figures: StateFigures { state.figures }
}
