import _VigilMachinery

/// Everything the engine applies to an event apart from the shard's state: the configuration and the
/// values built from it once (signals, detectors, policy), rebuilt by `RiskEngine.reconfigure`.
///
/// A class, because the engine hands it to `ShardState.updateUser` next to the state it is changing:
/// a reference travels as one pointer, where a struct this size would be copied for the call.
final class EventRules: Sendable {
    let config: VigilConfig
    let policyVersion: String
    let keys: EngineKeys
    let policy: StepUpPolicy
    let signals: LoginSignals
    let detectors: AlertDetectors

    init(config: VigilConfig, policyVersion: String, keys: EngineKeys) {
        self.config = config
        self.policyVersion = policyVersion
        self.keys = keys
        self.policy = StepUpPolicy(settings: config.policy)
        self.signals = LoginSignals(settings: config.engine)
        self.detectors = AlertDetectors(settings: config.engine, keys: keys)
    }

    /// What the event does to the user's record and, unless it is late, to the user stage's global
    /// windows; a late event is only scored. `globalFacts` is where the spraying and campaign signals read (nil: the
    /// shard's own sources, when one engine runs every stage).
    func apply(
        _ context: EventContext, late: Bool, user: inout UserState, state: inout ShardState,
        globalFacts: (any GlobalFactLookup)?, into verdict: inout RiskEngine.Verdict
    ) {
        let userKey = context.userKey
        let time = context.event.time
        let type = context.event.type
        switch type {
        case .login where context.event.outcome == .success, .sensitiveAction:
            var assessment = signals.evaluate(context, user: user, state: state, globalFacts: globalFacts)
            if type == .sensitiveAction { scoreUnverifiedSession(context, user: user, assessment: &assessment) }
            // Kept in a local until the detectors have read it: they read a value of its own while they
            // append to `verdict.alerts`, not a part of the verdict being written.
            let decision = decide(context, assessment: assessment, user: user, at: time)
            if !late {
                detectors.detectOnSuccess(
                    context, assessment: assessment, decision: decision, user: &user, state: state,
                    into: &verdict.alerts)
                if type == .login {
                    let outcome = settle(
                        context, assessment: assessment, action: decision.action, user: &user, names: &state.names)
                    verdict.baseline[outcome.index] = 1
                }
            }
            verdict.decision = consume decision
        case .login:
            if !late {
                state.global.recordFailure(at: time, userKey: userKey)
                detectors.recordUserFailure(context, user: &user)
            }
        case .mfaChallenge:
            if !late, context.event.mfa?.factor.isPush == true {
                detectors.recordPushSent(context, user: &user, into: &verdict.alerts)
            }
        case .mfaResult:
            if !late {
                detectors.recordMFAResult(context, user: &user, into: &verdict.alerts)
                if context.event.mfa?.result == .approved {
                    verdict.baseline[BaselineLearning.verified.index] = UInt8(clamping: verify(context, user: &user))
                }
            }
        case .passwordResetRequest:
            if !late {
                state.global.recordResetRequest(at: time)
                detectors.recordAccountReset(context, user: &user, into: &verdict.alerts)
            }
        case .passwordResetComplete:
            if !late, context.event.outcome != .failure {
                user.lastResetCompleted = max(user.lastResetCompleted ?? time, time)
            }
        }
        if config.ssf.enabled {
            let event = context.event
            verdict.subject = SignalSubject(
                userID: event.user.id, email: event.user.email, tenant: event.tenant, eventID: event.eventID,
                time: time,
                sessionID: event.sessionID, credentialCompromised: event.credentialCompromised)
            if !late, config.ssf.riskLevelChange { trackRiskLevel(at: time, user: &user, verdict: &verdict) }
        }
        if !late, user.lastSeen < time { user.lastSeen = time }
    }

    /// Moves the user's risk level with the verdict and records a change for the signals when it crosses
    /// `ssf.risk_level_change.from`. The verdict's level is the highest of its decision's and its account
    /// alerts'; a level at or above `from` holds for `ssf.risk_level_change.hold`, so the user's risk stays
    /// raised through the quiet logins after a takeover and falls at the first verdict after the hold.
    /// Late events never get here: they change nothing, so a re-emitted verdict carries no change.
    func trackRiskLevel(at time: Timestamp, user: inout UserState, verdict: inout RiskEngine.Verdict) {
        let ssf = config.ssf
        var level = verdict.decision?.level ?? .low
        var raisingAlerts: [String] = []
        for alert in verdict.alerts where alert.scope == .account {
            let alertLevel = alert.severity.riskLevel
            level = max(level, alertLevel)
            if alertLevel >= ssf.riskLevelChangeFrom { raisingAlerts.append(alert.kind.rawValue) }
        }
        var held = user.raisedRisk
        if let hold = held, hold.until <= time { held = nil }
        if level >= ssf.riskLevelChangeFrom {
            held = RaisedRisk(level: max(level, held?.level ?? .low), until: time + ssf.riskLevelHold)
        }
        user.raisedRisk = held
        let current = max(level, held?.level ?? .low)
        let previous = user.signalledRisk
        guard current != previous else { return }
        guard max(current, previous) >= ssf.riskLevelChangeFrom else {
            // Below `from` nothing is signalled. A fall is remembered all the same (high → medium was
            // signalled, medium → low is not): the user back at low keeps no rare part for it, and the
            // next signal names low as the previous level. A rise below `from` is not: a first login
            // (medium) must not cost every new user a rare part.
            if current < previous { user.signalledRisk = current }
            return
        }
        user.signalledRisk = current
        let reason: String
        if current < previous {
            reason = "no verdict at \(previous.rawValue) risk for \(ssf.riskLevelHold.configString)"
        } else if !raisingAlerts.isEmpty {
            reason = raisingAlerts.joined(separator: ", ")
        } else {
            reason = verdict.decision?.reasons.map(\.signal.rawValue).joined(separator: ", ") ?? "risky verdict"
        }
        verdict.riskLevelChange = RiskLevelChange(previous: previous, current: current, reason: reason)
    }

    /// What an event on time does to the source stage's state: a failed login counts against its
    /// source (credential stuffing, and a new source-risk fact when `publishing`), a reset request
    /// against its source's reset wave.
    func applySource(
        _ context: EventContext, state: inout ShardState, publishing: Bool, into verdict: inout RiskEngine.Verdict
    ) {
        switch context.event.type {
        case .login where context.event.outcome != .success:
            verdict.sourceRisk = detectors.recordSourceFailure(
                context, state: &state, publishing: publishing, into: &verdict.alerts)
        case .passwordResetRequest:
            detectors.recordSourceReset(context, state: &state, into: &verdict.alerts)
        default: break
        }
    }

    /// What an event on time does to the domain stage's state: a reset request counts against its
    /// email domain's reset wave.
    func applyDomain(_ context: EventContext, state: inout ShardState, into verdict: inout RiskEngine.Verdict) {
        guard context.event.type == .passwordResetRequest else { return }
        detectors.recordDomainReset(context, state: &state, into: &verdict.alerts)
    }

    /// What an event on time does to the campaign stage's state: a failed login or a reset request
    /// counts in its autonomous system's and tenant's windows; the facts of campaigns opened or extended,
    /// and the entities forgotten whose facts are to be withdrawn, go to the verdict when `publishing` (a
    /// campaign stage: one engine of every stage reads its own).
    func applyCampaign(
        _ context: EventContext, state: inout ShardState, publishing: Bool, into verdict: inout RiskEngine.Verdict
    ) {
        let facts = detectors.recordCampaignEvent(context, state: &state, into: &verdict.alerts)
        if publishing { (verdict.campaigns, verdict.retiredCampaigns) = facts }
    }

    func decide(_ context: EventContext, assessment: Assessment, user: UserState, at time: Timestamp) -> Decision {
        let event = context.event
        let score = assessment.score
        let level = RiskLevel(score: score, policy: config.policy)
        let outcome = policy.decide(
            level: level,
            context: StepUpPolicy.Context(
                role: event.user.role, isSensitiveAction: event.type == .sensitiveAction,
                compromisedCredential: event.credentialCompromised, torExit: assessment.anonymity.contains(.torExit),
                withinPostResetWindow: assessment.withinPostResetWindow, pushBombingActive: assessment.pushBombingActive
            ))
        return Decision(
            decisionID: Identifiers.uuid(keys.identifier, "decision", event.tenant ?? "", event.eventID),
            eventID: event.eventID, eventType: event.type, userID: event.user.id, role: event.user.role,
            tenant: event.tenant, time: event.time, action: outcome.action, factors: outcome.factors, score: score,
            level: level, reasons: assessment.reasons, rules: outcome.rules, policyVersion: policyVersion,
            expiresAt: event.time + config.policy.decisionTTL)
    }
}
