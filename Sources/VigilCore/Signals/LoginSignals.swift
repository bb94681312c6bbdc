/// What the signals found for a successful login or sensitive action: the facts every signal reads,
/// computed once, and the reasons that fired. The detectors, the policy and the baseline update read
/// it too, so nothing is computed twice.
struct Assessment {
    var reasons: [Reason] = []
    /// Fewer successful logins than `learning_logins`: novelty is not yet meaningful.
    var learning = false
    var anonymity: AnonymityFlags = []
    var isNewDevice = false
    /// The browser family the device id is known from, when it is now presented by another.
    var deviceKnownFrom: BrowserFamily?
    /// The key a device presented without a browser was found under, when it is a browser's: learning
    /// the login refreshes that entry instead of adding a bare one every browser would match.
    var deviceFoundUnder: UInt64?
    var isNewCountry = false
    var isNewNetwork = false
    var countryKey: UInt64?
    var networkKey: UInt64?
    /// The last successful login, when the travel from it could be measured.
    var travelOrigin: LoginAnchor?
    var travel: TravelAssessment?
    /// Too fast over too far by the rule, whatever the anonymity of either end.
    var travelTooFast = false
    /// Too fast, and neither end anonymous: the impossible-travel signal and alert.
    var travelIsImpossible = false
    var withinPostResetWindow = false
    var pushBombingActive = false
    /// The login model's bits, when it scores the event (enabled, past learning, a login or action).
    var model: LoginModel.Result?

    var score: Int { min(100, max(0, reasons.reduce(0) { $0 + $1.points })) }

    /// True when the login comes from a network its user has used: a known AS number, or one of the
    /// address blocks the profile holds (where no ASN database names the network). A function, so that
    /// only the signals and detectors that need it pay for the profile's look-up.
    func onUsersNetwork(_ context: EventContext, user: UserState) -> Bool {
        (networkKey != nil && !isNewNetwork)
            || context.features.map { $0.network != 0 && user.profile.knowsNetwork($0.network) } == true
    }
}

/// The risk signals of a successful login or sensitive action, built once per configuration. Each
/// signal is a `SignalName` whose `evaluate` reads the event context, the user's state and the shared
/// facts; they are evaluated in declaration order, which is the order reasons appear in a decision.
/// An enum switch, not protocol values: the loop allocates nothing and calls nothing indirectly.
struct LoginSignals: Sendable {
    let settings: EngineSettings

    /// Evaluates every enabled signal against the user's baseline and the source's recent history
    /// (`state` is only read). `globalFacts` holds the cross-user stages' facts; nil reads the shard's own
    /// sources (one engine running every stage).
    func evaluate(
        _ context: EventContext, user: UserState, state: ShardState, globalFacts: (any GlobalFactLookup)?
    ) -> Assessment {
        // The facts stay constant while the signals read them; the reasons are gathered apart.
        let facts = Self.facts(context, user: user, state: state, settings: settings)
        var reasons: [Reason] = []
        for signal in SignalName.evaluationOrder {
            guard
                let reason = signal.evaluate(
                    context, user: user, facts: facts, state: state, globalFacts: globalFacts, settings: settings)
            else { continue }
            reasons.append(reason)
        }
        var assessment = facts
        assessment.reasons = reasons
        return assessment
    }

    /// The facts several signals, the detectors and the policy share.
    static func facts(
        _ context: EventContext, user: UserState, state: ShardState, settings: EngineSettings
    ) -> Assessment {
        let event = context.event
        let signals = settings.signals
        var facts = Assessment()
        facts.learning = user.successfulLogins < UInt32(max(0, settings.learningLogins))
        facts.anonymity = context.anonymity

        // Travel from the last successful login.
        if let anchor = state.lastLogin(of: user), event.ip != nil,
            let travel = TravelAssessment(
                from: anchor.location, at: anchor.time,
                to: context.intel.travelLocation(mobileToleranceKm: signals.mobileToleranceKm), at: event.time)
        {
            facts.travelTooFast = travel.isImpossible(
                maxSpeedKmh: signals.maxSpeedKmh, minDistanceKm: signals.minDistanceKm)
            facts.travelIsImpossible = facts.travelTooFast && facts.anonymity.isEmpty && anchor.anonymity.isEmpty
            facts.travel = travel
            facts.travelOrigin = anchor
        }

        // Novelty against the baseline. A device learned without a browser (managed, no user agent, or
        // before browsers were told apart) is known whatever the browser now; one presented without a
        // browser is known if it is known from any.
        var seenDevice = context.deviceKey.flatMap { user.seen.lastSeen(.device, $0) }
        if seenDevice == nil, context.deviceKey != nil {
            if context.browser != .unknown {
                seenDevice = context.deviceIDKey.flatMap { user.seen.lastSeen(.device, $0) }
            } else {
                for family in BrowserFamily.allCases where family != .unknown && seenDevice == nil {
                    guard let key = context.deviceKey(as: family) else { break }
                    seenDevice = user.seen.lastSeen(.device, key)
                    if seenDevice != nil { facts.deviceFoundUnder = key }
                }
            }
        }
        if let seen = seenDevice {
            facts.isNewDevice = event.time.since(seen) > settings.newDeviceAfter
        } else {
            facts.isNewDevice = true
            if context.browser != .unknown {
                facts.deviceKnownFrom = BrowserFamily.allCases.first { family in
                    family != .unknown && family != context.browser
                        && context.deviceKey(as: family).flatMap { user.seen.lastSeen(.device, $0) } != nil
                }
            }
        }
        if let code = context.intel.location?.countryCode {
            let countryKey = Self.packCountry(code)
            facts.countryKey = countryKey
            facts.isNewCountry = user.seen.lastSeen(.country, countryKey) == nil
        }
        if let network = context.intel.network {
            facts.networkKey = UInt64(network.number)
            facts.isNewNetwork = user.seen.lastSeen(.network, UInt64(network.number)) == nil
        }

        if signals.unusualLogin.enabled, !facts.learning, let features = context.features {
            facts.model = LoginModel.evaluate(
                features, deviceKnown: context.deviceKey == nil ? nil : !facts.isNewDevice,
                countryKnown: facts.countryKey == nil ? nil : !facts.isNewCountry,
                networkKnown: facts.networkKey == nil ? nil : !facts.isNewNetwork, user: user)
        }
        if let reset = user.lastResetCompleted, event.time >= reset, event.time.since(reset) <= settings.postResetWindow
        {
            facts.withinPostResetWindow = true
        }
        if let until = user.pushBombingUntil, event.time < until { facts.pushBombingActive = true }
        return facts
    }

    /// Two ASCII letters packed into an integer key.
    static func packCountry(_ code: String) -> UInt64 {
        var key: UInt64 = 0
        for byte in code.utf8.prefix(8) { key = key << 8 | UInt64(byte) }
        return key
    }
}

extension SignalName {
    /// Every signal in declaration order, stored once so evaluating them allocates nothing.
    static let evaluationOrder = allCases

    /// The reason this signal gives for the event, or nil when it does not fire or is disabled.
    func evaluate(
        _ context: EventContext, user: UserState, facts: Assessment, state: ShardState,
        globalFacts: (any GlobalFactLookup)?, settings: EngineSettings
    ) -> Reason? {
        let event = context.event
        let signals = settings.signals
        func fire(_ weight: SignalWeight, _ detail: ReasonDetail, points: Int? = nil) -> Reason? {
            guard weight.enabled else { return nil }
            return Reason(signal: self, points: points ?? weight.points, details: detail)
        }
        switch self {
        case .compromisedCredential:
            guard event.credentialCompromised else { return nil }
            return fire(signals.compromisedCredential, .compromisedCredential)
        case .idpRisk:
            switch event.idpRisk {
            case .high?: return fire(signals.idpRisk, .idpRisk(.high))
            case .medium? where signals.idpRiskMediumPoints > 0:
                return fire(signals.idpRisk, .idpRisk(.medium), points: signals.idpRiskMediumPoints)
            default: return nil
            }
        case .impossibleTravel:
            guard facts.travelIsImpossible, let anchor = facts.travelOrigin, let travel = facts.travel else {
                return nil
            }
            return fire(
                signals.impossibleTravel,
                .impossibleTravel(
                    from: anchor.location, to: context.intel.location,
                    adjustedDistanceKm: Int(travel.adjustedDistanceKm.rounded()), elapsedSeconds: travel.elapsedSeconds,
                    speedKmh: Int(travel.speedKmh.rounded())))
        case .anonymousIP:
            if !facts.anonymity.isEmpty {
                let tor = facts.anonymity.contains(.torExit)
                return fire(
                    signals.anonymousIP, .anonymousSource(facts.anonymity),
                    points: signals.anonymousIP.points + (tor ? signals.torExtraPoints : 0))
            }
            // Too fast, but the previous login was anonymous: travel is not assessed, and says so.
            guard facts.travelTooFast, !facts.travelIsImpossible, let anchor = facts.travelOrigin else { return nil }
            return fire(
                signals.anonymousIP, .travelNotAssessed(from: anchor.location, previousAnonymity: anchor.anonymity),
                points: 0)
        case .ipReputation:
            let categories = context.intel.reputation.filter { $0.source == .cidr && $0.isRisk }.map(\.category)
            guard !categories.isEmpty else { return nil }
            return fire(signals.ipReputation, .addressListed(categories: categories))
        case .asnReputation:
            let categories = context.intel.reputation.filter { $0.source == .asn && $0.isRisk }.map(\.category)
            guard !categories.isEmpty, let network = context.intel.network else { return nil }
            return fire(signals.asnReputation, .networkListed(number: network.number, categories: categories))
        case .trustedNetwork:
            guard let match = context.intel.reputation.first(where: \.isTrusted) else { return nil }
            return fire(
                signals.trustedNetwork, .trustedNetwork(asn: match.source == .asn ? context.intel.network?.number : nil)
            )
        case .newDevice:
            guard !facts.learning, facts.isNewDevice else { return nil }
            return fire(
                signals.newDevice,
                context.deviceKey == nil ? .noDeviceID : .deviceNotSeen(within: settings.newDeviceAfter))
        case .deviceBrowserChanged:
            guard !facts.learning, let known = facts.deviceKnownFrom else { return nil }
            return fire(signals.deviceBrowserChanged, .deviceBrowserChanged(known: known, now: context.browser))
        case .newCountry:
            guard !facts.learning, facts.isNewCountry, let code = context.intel.location?.countryCode else {
                return nil
            }
            return fire(
                signals.newCountry, .newCountry(code),
                points: facts.isNewDevice ? nil : signals.newCountryKnownDevicePoints)
        case .newASN:
            guard !facts.learning, facts.isNewNetwork, let network = context.intel.network else { return nil }
            return fire(signals.newASN, .newNetwork(number: network.number, organization: network.organization))
        case .unusualLogin:
            guard let model = facts.model, model.bits >= signals.unusualLoginFromBits else { return nil }
            let points = min(
                signals.unusualLogin.points,
                Int(((model.bits - signals.unusualLoginFromBits) * signals.unusualLoginPointsPerBit).rounded(.down)))
            guard points > 0 else { return nil }
            return fire(
                signals.unusualLogin, .unusualLogin(LoginModel.explain(model, context, user: user)), points: points)
        case .firstLogin:
            guard facts.learning else { return nil }
            return fire(signals.firstLogin, .firstLogin(seen: user.successfulLogins, required: settings.learningLogins))
        case .failedAttempts:
            let failures = user.failures.count(from: event.time - signals.failedAttemptsWindow, through: event.time)
            guard failures >= signals.failedAttemptsThreshold else { return nil }
            return fire(
                signals.failedAttempts,
                .failedAttempts(count: failures, windowSeconds: signals.failedAttemptsWindow.seconds))
        case .sourceIPSpraying:
            guard let sourceStateKey = context.sourceStateKey else { return nil }
            let start = event.time - signals.sprayingWindow
            let users: Int
            if let globalFacts {
                users = globalFacts.sourceRisk(sourceStateKey)?.failingUsers(from: start, through: event.time) ?? 0
            } else {
                users = state.sources[sourceStateKey]?.failingUsers.distinctCount(from: start, through: event.time) ?? 0
            }
            guard users >= signals.sprayingDistinctUsers else { return nil }
            return fire(
                signals.sourceIPSpraying, .sourceSpraying(users: users, windowSeconds: signals.sprayingWindow.seconds))
        case .campaignActive:
            guard settings.campaigns.enabled else { return nil }
            let resetTarget: Bool
            switch event.action {
            case .mfaReset, .recoveryCodeUse: resetTarget = true
            default: resetTarget = facts.withinPostResetWindow
            }
            func campaign(_ key: UInt64) -> CampaignFact? {
                guard let globalFacts else { return state.campaigns[key]?.fact(key: key) }
                return globalFacts.campaign(key)
            }
            var targets: [(key: UInt64, scope: AlertScope, subject: String)] = []
            if let asn = context.campaignASN { targets.append((context.campaignKeys.key(asn: asn), .asn, "AS\(asn)")) }
            // A campaign on the whole tenant weighs on a login from a network its user has not used, not
            // on one from the user's own: most of a tenant's logins during a campaign are its people's,
            // from where they always log in.
            if facts.learning || !facts.onUsersNetwork(context, user: user) {
                targets.append(
                    (
                        context.campaignKeys.key(tenant: event.tenant), .tenant,
                        event.tenant ?? AlertDetectors.defaultTenant
                    ))
            }
            for target in targets {
                guard let fact = campaign(target.key) else { continue }
                if let stuffing = fact.stuffing, stuffing.contains(event.time) {
                    return fire(
                        signals.campaignActive,
                        .campaignActive(
                            kind: .credentialStuffing, scope: target.scope, subject: target.subject,
                            secondsAgo: event.time.since(stuffing.start).seconds))
                }
                if resetTarget, let wave = fact.resetWave, wave.contains(event.time) {
                    return fire(
                        signals.campaignActive,
                        .campaignActive(
                            kind: .resetAbuse, scope: target.scope, subject: target.subject,
                            secondsAgo: event.time.since(wave.start).seconds))
                }
            }
            return nil
        case .pushBurst:
            let start = event.time - signals.pushBurstWindow
            let pushes = user.pushesSent.count(from: start, through: event.time)
            let failures = user.pushFailures.count(from: start, through: event.time)
            guard max(pushes, failures) >= signals.pushBurstThreshold else { return nil }
            return fire(
                signals.pushBurst,
                .pushBurst(pushes: pushes, failures: failures, windowSeconds: signals.pushBurstWindow.seconds))
        case .recentPasswordReset:
            guard facts.withinPostResetWindow, let reset = user.lastResetCompleted else { return nil }
            return fire(signals.recentPasswordReset, .recentPasswordReset(secondsAgo: event.time.since(reset).seconds))
        case .unknownSensitiveAction:
            guard case .other(let name) = event.action else { return nil }
            return fire(signals.unknownSensitiveAction, .unknownSensitiveAction(name))
        case .unverifiedSession:
            // Added by `EventRules` once the others are in: its points depend on their sum.
            return nil
        }
    }
}
