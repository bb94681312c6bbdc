/// The deterministic heart of Vigil: one validated, enriched event in, at most one decision and any
/// number of alerts out. Event time is its only clock; no locks, no I/O. A shard owns one engine.
public struct RiskEngine: Sendable {
    public private(set) var config: VigilConfig
    public private(set) var policyVersion: String
    public internal(set) var state: ShardState
    let keys: EngineKeys
    var policy: StepUpPolicy

    public init(config: VigilConfig, policyVersion: String, deviceKey: SipHashKey) {
        self.config = config
        self.policyVersion = policyVersion
        self.state = ShardState(allowedLateness: config.engine.allowedLateness, globalWindow: config.engine.globalWindow)
        self.keys = EngineKeys(secret: deviceKey)
        self.policy = StepUpPolicy(settings: config.policy)
    }

    /// Swaps in a new configuration between two events. State is kept; windows adopt new thresholds
    /// from the next event on.
    public mutating func reconfigure(_ config: VigilConfig, policyVersion: String) {
        self.config = config
        self.policyVersion = policyVersion
        self.policy = StepUpPolicy(settings: config.policy)
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
            apply(context, late: true, user: &user, into: &verdict)
        } else {
            // The record is updated in place. The table leaves `state` meanwhile, so the detectors can
            // change the rest of the state while the record is being written (none reads other users).
            var users = UserTable()
            swap(&users, &state.users)
            users.update(userKey, inserting: { UserState(lastSeen: time) }) {
                apply(context, late: false, user: &$0, into: &verdict)
            }
            swap(&users, &state.users)
            state.sweepIfDue(settings: config.engine)
            state.enforceCapacity(settings: config.engine)
        }
        return verdict
    }

    /// What the event does to the user's record and, unless it is late, to the rest of the shard; a late
    /// event is only scored.
    private mutating func apply(_ context: EventContext, late: Bool, user: inout UserState, into verdict: inout Verdict) {
        let userKey = context.userKey
        let time = context.event.time
        let type = context.event.type
        switch type {
        case .login where context.event.outcome == .success, .sensitiveAction:
            let assessment = assess(context, user: user)
            // A local until the detectors have read it: reading `verdict.decision` while they append to
            // `verdict.alerts` made the compiler copy the whole verdict.
            let decision = decide(context, assessment: assessment, user: user, at: time)
            if !late {
                detectOnSuccess(context, assessment: assessment, decision: decision, user: &user, into: &verdict.alerts)
                if type == .login { learn(context, assessment: assessment, user: &user) }
            }
            verdict.decision = consume decision
        case .login:
            if !late {
                state.global.recordFailure(at: time, userKey: userKey)
                recordFailure(context, user: &user, into: &verdict.alerts)
            }
        case .mfaChallenge:
            if !late, context.event.mfa?.factor.isPush == true { recordPushSent(context, user: &user, into: &verdict.alerts) }
        case .mfaResult:
            if !late { recordMFAResult(context, user: &user, into: &verdict.alerts) }
        case .passwordResetRequest:
            if !late {
                state.global.recordResetRequest(at: time)
                recordResetRequest(context, user: &user, into: &verdict.alerts)
            }
        case .passwordResetComplete:
            if !late, context.event.outcome != .failure {
                user.lastResetCompleted = max(user.lastResetCompleted ?? time, time)
            }
        }
        if !late, user.lastSeen < time { user.lastSeen = time }
    }

    public var userCount: Int { state.users.count }

    /// Entity counts, approximate state size and global windows of this engine's shard.
    public var figures: StateFigures { state.figures }
}

/// Keys derived from the operator's secret, one per purpose.
struct EngineKeys: Sendable {
    let user: SipHashKey
    let device: SipHashKey
    let domain: SipHashKey
    let identifier: SipHashKey

    init(secret: SipHashKey) {
        user = secret.derived(1)
        device = secret.derived(2)
        domain = secret.derived(3)
        // Public ids (decision ids, finding uids) must not depend on the secret: the same input
        // gives the same ids on every deployment, so downstream deduplication works across replays.
        identifier = SipHashKey.publicDefault.derived(4)
    }
}

/// Per-event values computed once and shared by the signals, detectors and policy.
struct EventContext {
    let event: AuthEvent
    let intel: IPIntelligence
    let userKey: UInt64
    /// The address aggregated for per-source state (IPv6 to /64).
    let sourceKey: IPAddress?
    /// Keyed hash of `device.id`; the raw id never enters state.
    let deviceKey: UInt64?

    init(event: AuthEvent, intel: IPIntelligence, keys: EngineKeys) {
        var hasher = SipHashState(key: keys.user)
        hasher.append(event.tenant ?? "")
        hasher.append(event.user.id)
        self.userKey = hasher.finalize()
        self.sourceKey = event.ip?.sourceKey
        if let id = event.device?.id, !id.isEmpty {
            self.deviceKey = keys.device.hash(id)
        } else {
            self.deviceKey = nil
        }
        self.intel = intel
        self.event = event
    }

    /// Anonymous by database flags or by a reputation category that means the same.
    var anonymity: AnonymityFlags {
        var flags = intel.anonymity
        for match in intel.reputation {
            switch match.category {
            case "vpn": flags.insert(.vpn)
            case "tor": flags.insert(.torExit)
            case "hosting": flags.insert(.hosting)
            case "proxy": flags.insert(.publicProxy)
            default: break
            }
        }
        return flags
    }

    var observedSource: ObservedSource? { event.ip.map { ObservedSource(ip: $0, intel: intel) } }
}
