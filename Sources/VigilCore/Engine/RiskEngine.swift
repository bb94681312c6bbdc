import _VigilMachinery

/// The deterministic heart of Vigil: one validated, enriched event in, at most one decision and any
/// number of alerts out. Event time is its only clock; no locks, no I/O. A shard owns one engine.
public struct RiskEngine: Sendable {
    public var config: VigilConfig { rules.config }
    public var policyVersion: String { rules.policyVersion }
    public internal(set) var state: ShardState
    /// Everything applied to an event apart from the state, kept apart from it so both can be
    /// accessed at once (see `ShardState.updateUser`).
    private(set) var rules: EventRules
    let keys: EngineKeys

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
        state.global.adopt(window: config.engine.globalWindow)
    }

    /// What one event produced.
    public struct Verdict: Sendable {
        public var decision: Decision?
        public var alerts: [Alert] = []
        /// The event was behind the watermark: scored, but state was not changed.
        public var late = false
    }

    /// `intel` is handed over (moved into the `EventContext`), not copied: a copy retains its names
    /// and reputation list only to release them again.
    public mutating func process(_ event: AuthEvent, intel: consuming IPIntelligence?) -> Verdict {
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
            state.sweepIfDue(settings: config.engine)
            state.enforceCapacity(settings: config.engine)
        }
        return verdict
    }

    public var userCount: Int { state.users.count }

    /// Entity counts, approximate state size and global windows of this engine's shard.
    public var figures: StateFigures { state.figures }
}
