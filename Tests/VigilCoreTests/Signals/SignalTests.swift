import Testing

@testable import VigilCore

@Suite struct SignalTests {
    @Test func firstLoginsAreTheLearningPeriodAndScoreMedium() {
        var h = EngineHarness()
        let first = h.login("gina", at: 0)
        #expect(first.signals == [.firstLogin])
        #expect(first.decision!.level == .medium)
        #expect(first.decision!.action == .stepUpSoft)
        h.login("gina", at: 1)
        #expect(h.login("gina", at: 2).signals == [.firstLogin])
        #expect(h.login("gina", at: 3).signals.isEmpty)
        #expect(h.login("gina", at: 4).decision!.action == .allow)
    }

    @Test func newDeviceCountryAndNetworkFireAfterLearning() {
        var h = EngineHarness()
        h.establish("hank")
        let verdict = h.login("hank", at: 600, ip: Places.milton, device: "d2")
        #expect(verdict.signals == [.newDevice, .newCountry, .newASN])
        #expect(verdict.decision!.score == 55)
        #expect(verdict.decision!.level == .medium)
    }

    @Test func deviceUnseenForThirtyDaysIsNewAgain() {
        var h = EngineHarness()
        h.establish("hank")
        let day = 24.0 * 60
        h.login("hank", at: day, device: "d2")
        // d1 was seen at about 0: 30 days later is exactly the limit.
        #expect(!h.login("hank", at: 30 * day, device: "d1").signals.contains(.newDevice))
        #expect(h.login("hank", at: 61 * day + 1, device: "d2").signals.contains(.newDevice))
    }

    @Test func missingDeviceIDCountsAsNewDevice() {
        var h = EngineHarness()
        h.establish("hank")
        let reason = h.login("hank", at: 5, device: nil).decision!.reasons.first { $0.signal == .newDevice }
        #expect(reason?.detail == "no device id supplied")
    }

    @Test func failedAttemptsFireAtTheThreshold() {
        var h = EngineHarness()
        h.establish("ivan")
        h.login("ivan", at: 1, outcome: .failure)
        h.login("ivan", at: 2, outcome: .failure)
        #expect(!h.login("ivan", at: 3).signals.contains(.failedAttempts))
        h.login("ivan", at: 4, outcome: .failure)
        #expect(h.login("ivan", at: 5).signals.contains(.failedAttempts))
        #expect(!h.login("ivan", at: 21).signals.contains(.failedAttempts))
    }

    @Test func pushBurstFiresAtThreePushes() {
        var h = EngineHarness()
        h.establish("judy")
        h.push("judy", at: 1, result: nil)
        h.push("judy", at: 2, result: nil)
        #expect(!h.login("judy", at: 3).signals.contains(.pushBurst))
        h.push("judy", at: 4, result: nil)
        #expect(h.login("judy", at: 5).signals.contains(.pushBurst))
    }

    @Test func compromisedCredentialForcesPhishingResistant() {
        var h = EngineHarness()
        h.establish("kim")
        let decision = h.login("kim", at: 5, compromised: true).decision!
        #expect(decision.signals == [.compromisedCredential])
        #expect(decision.action == .stepUpHard)
        #expect(decision.factors == [.passkey, .webauthn])
    }

    /// A declared office or VPN egress (`trusted_network`) lowers the score instead of raising it, whether
    /// listed by address or by network, and is not reported as a bad reputation.
    @Test(arguments: [ReputationMatch.Source.cidr, .asn])
    func aTrustedNetworkLowersTheScore(source: ReputationMatch.Source) {
        var table = Places.table
        let office = "81.2.69.160"
        table[office] = IPIntelligence(
            location: GeoLocation(
                countryCode: "SE", city: "Stockholm", latitude: 59.33, longitude: 18.06, accuracyRadiusKm: 20),
            network: AutonomousSystem(number: 64500),
            reputation: [ReputationMatch(source: source, category: "trusted_network")])
        var h = EngineHarness(geo: table)
        h.establish("olga")
        let verdict = h.login("olga", at: 600, ip: office, device: "d1")
        // new_country on a known device (10) + new_asn (10) − 30, floored at 0.
        #expect(verdict.signals == [.trustedNetwork, .newCountry, .newASN])
        #expect(verdict.decision!.score == 0)
        #expect(verdict.decision!.reasons.first?.points == -30)
        #expect(
            verdict.decision!.reasons.first?.detail
                == (source == .asn
                    ? "source network AS64500 is listed as trusted" : "source address is listed as trusted"))
    }

    /// A carrier's range (`mobile`) is a coarse location, not a risk: a trip to or from it is measured
    /// with `mobile_tolerance_km` (500) more error, and it adds no reputation points.
    @Test func aMobileRangeWidensTheTravelToleranceAtEitherEnd() {
        var table = Places.table
        let berlin = GeoLocation(
            countryCode: "DE", city: "Berlin", latitude: 52.52, longitude: 13.405, accuracyRadiusKm: 20)
        let carrier = "81.2.69.170"
        let fixedLine = "81.2.69.171"
        table[carrier] = IPIntelligence(
            location: berlin, network: AutonomousSystem(number: 64501),
            reputation: [ReputationMatch(source: .cidr, category: "mobile")])
        table[fixedLine] = IPIntelligence(location: berlin, network: AutonomousSystem(number: 64502))
        // London → Berlin (about 930 km, 900 after both radii) in 30 minutes.
        var fixed = EngineHarness(geo: table)
        fixed.establish("rosa")
        #expect(fixed.login("rosa", at: 30, ip: fixedLine, device: "d1").signals.contains(.impossibleTravel))
        var mobile = EngineHarness(geo: table)
        mobile.establish("rosa")
        let toPhone = mobile.login("rosa", at: 30, ip: carrier, device: "d1").signals
        #expect(!toPhone.contains(.impossibleTravel))
        #expect(!toPhone.contains(.ipReputation))
        // From the phone back to London: the anchor kept the wider radius.
        #expect(!mobile.login("rosa", at: 60, ip: Places.london, device: "d1").signals.contains(.impossibleTravel))
        // No tolerance: the trip is judged as from a fixed line.
        var config = VigilConfig()
        config.engine.signals.mobileToleranceKm = 0
        var strict = EngineHarness(config: config, geo: table)
        strict.establish("rosa")
        #expect(strict.login("rosa", at: 30, ip: carrier, device: "d1").signals.contains(.impossibleTravel))
    }

    @Test func aNewCountryOnAKnownDeviceWeighsLessThanOnANewOne() {
        var h = EngineHarness()
        h.establish("pia")
        let ownLaptop = h.login("pia", at: 600, ip: Places.milton, device: "d1").decision!
        #expect(ownLaptop.reasons.first { $0.signal == .newCountry }?.points == 10)
        var other = EngineHarness()
        other.establish("pia")
        let newDevice = other.login("pia", at: 600, ip: Places.milton, device: "d9").decision!
        #expect(newDevice.reasons.first { $0.signal == .newCountry }?.points == 25)
    }

    /// A country-level location (no city: a centroid with a radius of hundreds of kilometres) gives no
    /// travel verdict, however fast the trip looks.
    @Test func countryLevelLocationsGiveNoTravelVerdict() {
        var table = Places.table
        let countryOnly = "175.16.199.99"
        table[countryOnly] = IPIntelligence(
            location: GeoLocation(countryCode: "CN", latitude: 35.0, longitude: 105.0, accuracyRadiusKm: 1000),
            network: AutonomousSystem(number: 4837))
        var h = EngineHarness(geo: table)
        h.establish("quin")
        #expect(!h.login("quin", at: 10, ip: countryOnly).signals.contains(.impossibleTravel))
        // The same trip to a city-level location is judged.
        var judged = EngineHarness()
        judged.establish("quin")
        #expect(judged.login("quin", at: 10, ip: Places.changchun).signals.contains(.impossibleTravel))
    }

    /// The IdP's own rating: high adds `points`, medium `medium_points`, low and none nothing.
    @Test(arguments: [(IdPRiskLevel?.none, 0), (.low, 0), (.medium, 20), (.high, 50)])
    func idpRiskAddsItsRatingsPoints(level: IdPRiskLevel?, points: Int) {
        var h = EngineHarness()
        h.establish("lena")
        let decision = h.login("lena", at: 5, idpRisk: level).decision!
        #expect(decision.score == points)
        #expect(decision.signals == (points > 0 ? [.idpRisk] : []))
        #expect(
            decision.reasons.first?.detail
                == level.map { "the identity provider rated this sign-in \($0) risk" }.flatMap { points > 0 ? $0 : nil }
        )
    }

    @Test func idpRiskIsSilentWhenDisabledOrMediumIsWorthNothing() {
        var config = VigilConfig()
        config.engine.signals.idpRiskMediumPoints = 0
        var h = EngineHarness(config: config)
        h.establish("lena")
        #expect(h.login("lena", at: 5, idpRisk: .medium).signals.isEmpty)
        #expect(h.login("lena", at: 6, idpRisk: .high).signals == [.idpRisk])
        config.engine.signals.idpRisk.enabled = false
        h.engine.reconfigure(config, policyVersion: "off")
        #expect(h.login("lena", at: 7, idpRisk: .high).signals.isEmpty)
    }

    @Test func torExitAddsExtraPoints() {
        var h = EngineHarness()
        h.establish("lee")
        let tor = h.login("lee", at: 5, ip: Places.torExit).decision!.reasons.first { $0.signal == .anonymousIP }
        #expect(tor?.points == 50)
        let vpn = h.login("lee", at: 6, ip: Places.vpn).decision!.reasons.first { $0.signal == .anonymousIP }
        #expect(vpn?.points == 30)
    }

    @Test func disabledSignalsNeverFire() {
        var config = VigilConfig()
        config.engine.signals.firstLogin.enabled = false
        var h = EngineHarness(config: config)
        #expect(h.login("mo", at: 0).signals.isEmpty)
    }

    @Test func scoreIsCappedAtOneHundred() {
        var h = EngineHarness()
        h.establish("ned")
        let decision = h.login("ned", at: 30, ip: Places.changchun, device: "x", compromised: true).decision!
        #expect(decision.score == 100)
        #expect(decision.level == .high)
    }

    @Test func reputationTableHitsAreSignals() {
        var table = Places.table
        table["192.0.2.1"] = IPIntelligence(
            network: AutonomousSystem(number: 64500),
            reputation: [
                ReputationMatch(source: .asn, category: "bad"), ReputationMatch(source: .cidr, category: "bad"),
            ])
        var h = EngineHarness(geo: table)
        h.establish("oz")
        let signals = h.login("oz", at: 5, ip: "192.0.2.1").signals
        #expect(signals.contains(.asnReputation))
        #expect(signals.contains(.ipReputation))
    }
}

@Suite struct PolicyTests {
    @Test(arguments: [
        (UserRole.standard, RiskLevel.low, DecisionAction.allow), (.standard, .medium, .stepUpSoft),
        (.standard, .high, .stepUpHard),
        (.admin, .low, .allow), (.admin, .medium, .stepUpHard), (.finance, .medium, .stepUpHard),
        (.contractor, .low, .stepUpSoft), (.contractor, .high, .stepUpHard), (.service, .medium, .allow),
        (.service, .high, .deny),
    ])
    func roleTable(role: UserRole, level: RiskLevel, expected: DecisionAction) {
        #expect(PolicySettings().roles[role].action(for: level) == expected)
    }

    private func context(_ role: UserRole, tor: Bool = false, sensitive: Bool = false) -> StepUpPolicy.Context {
        StepUpPolicy.Context(
            role: role, isSensitiveAction: sensitive, compromisedCredential: false, torExit: tor,
            withinPostResetWindow: false, pushBombingActive: false)
    }

    @Test func adminFromTorIsDenied() {
        let outcome = StepUpPolicy(settings: PolicySettings()).decide(level: .low, context: context(.admin, tor: true))
        #expect(outcome.action == .deny)
        #expect(outcome.rules == ["admin_from_tor_denied"])
    }

    @Test func privilegedRolesNeverGetSMSOrEmail() {
        let policy = StepUpPolicy(settings: PolicySettings())
        for role in [UserRole.admin, .finance, .contractor] {
            let factors = policy.factors(for: .stepUpSoft, context: context(role))
            #expect(!factors.contains(.sms) && !factors.contains(.email))
        }
        #expect(policy.factors(for: .stepUpSoft, context: context(.standard)).contains(.sms))
    }

    @Test func privilegedSensitiveActionNeedsPhishingResistant() {
        var h = EngineHarness()
        h.establish("root", role: .admin)
        let decision = h.sensitive("root", at: 5, action: .roleGrant, role: .admin).decision!
        #expect(decision.action == .stepUpHard)
        #expect(decision.eventType == .sensitiveAction)
    }

    @Test func serviceAccountAtHighRiskIsDeniedWithAnAlert() {
        var h = EngineHarness()
        h.establish("svc-backup", role: .service)
        let verdict = h.login("svc-backup", at: 30, ip: Places.changchun, device: "x", role: .service)
        #expect(verdict.decision!.action == .deny)
        #expect(verdict.alertKinds.contains(.serviceAccountHighRisk))
    }

    @Test func serviceAccountAlertIsHeldForTheConfiguredTimeAndCanBeOff() {
        var config = VigilConfig()
        config.engine.alerts.serviceAccountHold = .minutes(10)
        var h = EngineHarness(config: config)
        h.establish("svc", role: .service)
        #expect(
            h.login("svc", at: 30, ip: Places.changchun, device: "x", role: .service).alertKinds.contains(
                .serviceAccountHighRisk))
        // The denied login taught the baseline nothing: from Changchun again it is still impossible travel.
        let held = h.login("svc", at: 39.9, ip: Places.changchun, device: "y", role: .service)
        #expect(held.decision!.action == .deny)
        #expect(!held.alertKinds.contains(.serviceAccountHighRisk))
        let afterHold = h.login("svc", at: 40, ip: Places.changchun, device: "z", role: .service)
        #expect(afterHold.decision!.action == .deny)
        #expect(afterHold.alertKinds.contains(.serviceAccountHighRisk))

        config.engine.alerts.serviceAccountHighRisk.enabled = false
        var off = EngineHarness(config: config)
        off.establish("svc", role: .service)
        let denied = off.login("svc", at: 30, ip: Places.changchun, device: "x", role: .service)
        #expect(denied.decision!.action == .deny)
        #expect(!denied.alertKinds.contains(.serviceAccountHighRisk))
    }

    @Test func unknownSensitiveActionIsKeptAndScored() {
        var h = EngineHarness()
        h.establish("pat")
        let decision = h.sensitive("pat", at: 5, action: .other("launch_rockets")).decision!
        #expect(decision.signals.contains(.unknownSensitiveAction))
    }

    @Test func decisionIDsAreDeterministicAndDistinct() {
        var a = EngineHarness()
        var b = EngineHarness()
        let first = a.login("q", at: 0, id: "evt-1").decision!
        let again = b.login("q", at: 0, id: "evt-1").decision!
        let other = b.login("q", at: 1, id: "evt-2").decision!
        #expect(first.decisionID == again.decisionID)
        #expect(first.decisionID != other.decisionID)
        #expect(first.decisionID.count == 36)
        #expect(first.expiresAt == EngineHarness.at(5))
    }
}

@Suite struct EventTimeTests {
    @Test func lateEventsAreScoredButDoNotChangeState() {
        var h = EngineHarness()
        h.establish("rex")
        h.login("rex", at: 60)
        let late = h.login("rex", at: 50, device: "old-laptop")
        #expect(late.late)
        #expect(late.decision != nil)
        #expect(h.engine.state.counters.lateEvents == 1)
        // The late device was not learned.
        #expect(h.login("rex", at: 61, device: "old-laptop").signals.contains(.newDevice))
    }

    @Test func eventsWithinLatenessArePlacedInTheirWindow() {
        var h = EngineHarness()
        for i in 0..<4 { h.push("sue", at: 10 + Double(i), result: .denied) }
        // Four minutes behind the newest event: within the 5-minute lateness, still counted.
        let verdict = h.push("sue", at: 9, result: .denied)
        #expect(!verdict.late)
        #expect(verdict.alertKinds == [.pushBombing])
    }

    @Test func lateLoginDoesNotMoveTheTravelAnchorBackwards() {
        var h = EngineHarness()
        h.establish("tom")
        h.login("tom", at: 100, ip: Places.changchun)
        h.login("tom", at: 98, ip: Places.london)  // within lateness but older than the anchor
        #expect(h.engine.state.users.values.first?.lastLogin?.time == EngineHarness.at(100))
    }

    @Test func idleUsersAreEvicted() {
        var config = VigilConfig()
        config.engine.userIdleTTL = .days(1)
        var h = EngineHarness(config: config)
        h.login("old", at: 0)
        h.login("new", at: 1)
        #expect(h.engine.userCount == 2)
        h.login("new", at: 2 * 24 * 60)
        h.login("new", at: 2 * 24 * 60 + 20)
        #expect(h.engine.userCount == 1)
        #expect(h.engine.state.counters.evictedUsers == 1)
    }
}

extension Decision {
    var signals: [SignalName] { reasons.map(\.signal) }
}
