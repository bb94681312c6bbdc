/// What the signals found for a successful login or sensitive action, kept for the detectors,
/// the policy and the baseline update so nothing is computed twice.
struct Assessment {
    var reasons: [Reason] = []
    var isNewDevice = false
    var isNewCountry = false
    var countryKey: UInt64?
    var networkKey: UInt64?
    var travel: TravelAssessment?
    var travelIsImpossible = false
    var withinPostResetWindow = false
    var pushBombingActive = false

    var score: Int { min(100, max(0, reasons.reduce(0) { $0 + $1.points })) }
}

extension RiskEngine {
    /// Evaluates every enabled signal against the user's baseline and the source's recent history.
    func assess(_ context: EventContext, user: UserState) -> Assessment {
        let event = context.event
        let signals = config.engine.signals
        let engine = config.engine
        var result = Assessment()
        func fire(_ signal: SignalName, _ weight: SignalWeight, _ detail: ReasonDetail, points: Int? = nil) {
            guard weight.enabled else { return }
            result.reasons.append(Reason(signal: signal, points: points ?? weight.points, details: detail))
        }

        let learning = user.successfulLogins < UInt32(max(0, engine.learningLogins))
        let location = context.intel.location
        let anonymity = context.anonymity

        if event.credentialCompromised {
            fire(.compromisedCredential, signals.compromisedCredential, .compromisedCredential)
        }

        // Travel from the last successful login, unless either end is anonymous.
        if let anchor = state.lastLogin(of: user), event.ip != nil,
            let travel = TravelAssessment(from: anchor.location, at: anchor.time, to: location, at: event.time)
        {
            result.travel = travel
            let impossible = travel.isImpossible(maxSpeedKmh: signals.maxSpeedKmh, minDistanceKm: signals.minDistanceKm)
            if impossible && anonymity.isEmpty && anchor.anonymity.isEmpty {
                result.travelIsImpossible = true
                fire(
                    .impossibleTravel, signals.impossibleTravel,
                    .impossibleTravel(
                        from: anchor.location, to: location, adjustedDistanceKm: Int(travel.adjustedDistanceKm.rounded()),
                        elapsedSeconds: travel.elapsedSeconds, speedKmh: Int(travel.speedKmh.rounded())))
            } else if impossible && anonymity.isEmpty {
                fire(
                    .anonymousIP, signals.anonymousIP,
                    .travelNotAssessed(from: anchor.location, previousAnonymity: anchor.anonymity), points: 0)
            }
        }

        if !anonymity.isEmpty {
            let tor = anonymity.contains(.torExit)
            fire(
                .anonymousIP, signals.anonymousIP, .anonymousSource(anonymity),
                points: signals.anonymousIP.points + (tor ? signals.torExtraPoints : 0))
        }
        let cidrCategories = context.intel.reputation.filter { $0.source == .cidr }.map(\.category)
        if !cidrCategories.isEmpty {
            fire(.ipReputation, signals.ipReputation, .addressListed(categories: cidrCategories))
        }
        let asnCategories = context.intel.reputation.filter { $0.source == .asn }.map(\.category)
        if !asnCategories.isEmpty, let network = context.intel.network {
            fire(.asnReputation, signals.asnReputation, .networkListed(number: network.number, categories: asnCategories))
        }

        // Novelty against the baseline.
        if let deviceKey = context.deviceKey {
            if let seen = user.seen.lastSeen(.device, deviceKey) {
                result.isNewDevice = event.time.since(seen) > engine.newDeviceAfter
            } else {
                result.isNewDevice = true
            }
        } else {
            result.isNewDevice = true
        }
        if let code = location?.countryCode {
            result.countryKey = Self.packCountry(code)
            result.isNewCountry = user.seen.lastSeen(.country, result.countryKey!) == nil
        }
        if let network = context.intel.network {
            result.networkKey = UInt64(network.number)
        }
        let isNewNetwork = result.networkKey.map { user.seen.lastSeen(.network, $0) == nil } ?? false
        if learning {
            fire(
                .firstLogin, signals.firstLogin,
                .firstLogin(seen: user.successfulLogins, required: engine.learningLogins))
        } else {
            if result.isNewDevice {
                fire(
                    .newDevice, signals.newDevice,
                    context.deviceKey == nil ? .noDeviceID : .deviceNotSeen(within: engine.newDeviceAfter))
            }
            if result.isNewCountry, let code = location?.countryCode {
                fire(.newCountry, signals.newCountry, .newCountry(code))
            }
            if isNewNetwork, let network = context.intel.network {
                fire(.newASN, signals.newASN, .newNetwork(number: network.number, organization: network.organization))
            }
        }

        // Recent history of the user and the source.
        let failures = user.failures.count(from: event.time - signals.failedAttemptsWindow, through: event.time)
        if failures >= signals.failedAttemptsThreshold {
            fire(.failedAttempts, signals.failedAttempts, .failedAttempts(count: failures, windowSeconds: signals.failedAttemptsWindow.seconds))
        }
        if let sourceKey = context.sourceKey, let source = state.sources[sourceKey] {
            let users = source.failingUsers.distinctCount(from: event.time - signals.sprayingWindow, through: event.time)
            if users >= signals.sprayingDistinctUsers {
                fire(.sourceIPSpraying, signals.sourceIPSpraying, .sourceSpraying(users: users, windowSeconds: signals.sprayingWindow.seconds))
            }
        }
        let pushStart = event.time - signals.pushBurstWindow
        let pushes = user.pushesSent.count(from: pushStart, through: event.time)
        let pushFailures = user.pushFailures.count(from: pushStart, through: event.time)
        if max(pushes, pushFailures) >= signals.pushBurstThreshold {
            fire(
                .pushBurst, signals.pushBurst,
                .pushBurst(pushes: pushes, failures: pushFailures, windowSeconds: signals.pushBurstWindow.seconds))
        }
        if let reset = user.lastResetCompleted, event.time >= reset, event.time.since(reset) <= engine.postResetWindow {
            result.withinPostResetWindow = true
            fire(.recentPasswordReset, signals.recentPasswordReset, .recentPasswordReset(secondsAgo: event.time.since(reset).seconds))
        }
        if case .other(let name) = event.action {
            fire(.unknownSensitiveAction, signals.unknownSensitiveAction, .unknownSensitiveAction(name))
        }
        if let until = user.pushBombingUntil, event.time < until { result.pushBombingActive = true }

        result.reasons.sort { $0.signal < $1.signal }
        return result
    }

    func decide(_ context: EventContext, assessment: Assessment, user: UserState, at time: Timestamp) -> Decision {
        let event = context.event
        let score = assessment.score
        let level = RiskLevel(score: score, policy: config.policy)
        let outcome = policy.decide(
            level: level,
            context: StepUpPolicy.Context(
                role: event.user.role, isSensitiveAction: event.type == .sensitiveAction,
                compromisedCredential: event.credentialCompromised, torExit: context.anonymity.contains(.torExit),
                withinPostResetWindow: assessment.withinPostResetWindow, pushBombingActive: assessment.pushBombingActive))
        return Decision(
            decisionID: Identifiers.uuid(keys.identifier, "decision", event.tenant ?? "", event.eventID),
            eventID: event.eventID, eventType: event.type, userID: event.user.id, role: event.user.role,
            tenant: event.tenant, time: event.time, action: outcome.action, factors: outcome.factors, score: score,
            level: level, reasons: assessment.reasons, rules: outcome.rules, policyVersion: policyVersion,
            expiresAt: event.time + config.policy.decisionTTL)
    }

    /// Updates the baseline with a successful login (never with a late one).
    mutating func learn(_ context: EventContext, assessment: Assessment, user: inout UserState) {
        let event = context.event
        let engine = config.engine
        user.successfulLogins &+= 1
        if let deviceKey = context.deviceKey {
            user.seen.record(.device, deviceKey, at: event.time, capacity: engine.maxDevicesPerUser)
        }
        if let country = assessment.countryKey {
            user.seen.record(.country, country, at: event.time, capacity: engine.maxCountriesPerUser)
        }
        if let network = assessment.networkKey {
            user.seen.record(.network, network, at: event.time, capacity: engine.maxASNsPerUser)
        }
        if let ip = event.ip, user.lastLogin.map({ $0.time <= event.time }) ?? true {
            user.lastLogin = CompactAnchor(
                time: event.time, eventID: event.eventID, ip: ip, location: context.intel.location,
                network: context.intel.network, anonymity: context.anonymity, names: &state.names)
        }
    }

    /// Two ASCII letters packed into an integer key.
    static func packCountry(_ code: String) -> UInt64 {
        var key: UInt64 = 0
        for byte in code.utf8.prefix(8) { key = key << 8 | UInt64(byte) }
        return key
    }
}
