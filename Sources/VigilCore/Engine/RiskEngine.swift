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

    /// Users held in the shard's state now.
    public var userCount: Int { state.users.count }

    /// Entity counts, approximate state size and global windows of this engine's shard.
    public var figures: StateFigures { state.figures }
}
