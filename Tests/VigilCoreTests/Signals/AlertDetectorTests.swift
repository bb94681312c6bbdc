import Testing

@testable import VigilCore

@Suite struct PushBombingTests {
    @Test func fourDenialsDoNotAlertFiveDo() {
        var h = EngineHarness()
        for i in 0..<4 { #expect(h.push("alice", at: Double(i), result: .denied).alerts.isEmpty) }
        let fifth = h.push("alice", at: 4, result: .timeout)
        #expect(fifth.alertKinds == [.pushBombing])
        #expect(fifth.alerts[0].evidence.count == 5)
        #expect(fifth.alerts[0].severity == .high)
    }

    @Test func denialsOutsideTheWindowDoNotCount() {
        var h = EngineHarness()
        h.push("alice", at: 0, result: .denied)  // 10m01s before the fifth: outside
        for i in 1...3 { h.push("alice", at: Double(i), result: .denied) }
        #expect(h.push("alice", at: 10.02, result: .denied).alerts.isEmpty)
        #expect(h.push("alice", at: 10.03, result: .denied).alertKinds == [.pushBombing])
    }

    @Test func ninePushesSentDoNotAlertTenDo() {
        var h = EngineHarness()
        for i in 0..<9 { #expect(h.push("bob", at: Double(i) * 0.5, result: nil).alerts.isEmpty) }
        #expect(h.push("bob", at: 5, result: nil).alertKinds == [.pushBombing])
    }

    @Test func oneAlertPerWindowThenANewOneWithANewUID() {
        var h = EngineHarness()
        var alerts: [Alert] = []
        for i in 0..<12 { alerts += h.push("alice", at: Double(i) * 0.5, result: .denied).alerts }
        #expect(alerts.count == 1)
        for i in 0..<5 { alerts += h.push("alice", at: 20 + Double(i) * 0.5, result: .denied).alerts }
        #expect(alerts.count == 2)
        let encoder = AlertEncoder()
        #expect(encoder.findingUID(alerts[0]) != encoder.findingUID(alerts[1]))
    }

    /// `window_seconds` of the verdict's one alert.
    static func window(_ verdict: RiskEngine.Verdict) -> Int64? {
        guard verdict.alerts.count == 1 else { return nil }
        return verdict.alerts[0].details.first { $0.0 == "window_seconds" }.flatMap {
            if case .int(let seconds) = $0.1 { seconds } else { nil }
        }
    }

    /// One denial every three minutes never puts five in ten minutes; the eighth within the hour raises it.
    @Test func aSlowDripRaisesItAtTheHourHorizon() {
        var h = EngineHarness()
        for i in 0..<7 { #expect(h.push("dana", at: Double(i) * 3, result: .denied).alerts.isEmpty) }
        let eighth = h.push("dana", at: 21, result: .timeout)
        #expect(eighth.alertKinds == [.pushBombing])
        #expect(Self.window(eighth) == 3600)
        #expect(eighth.alerts.first?.evidence.count == 8)
    }

    /// One every ten minutes keeps the hour at seven; the fifteenth within the day raises it.
    @Test func aDripOverTheDayRaisesItAtTheDayHorizon() {
        var h = EngineHarness()
        for i in 0..<14 { #expect(h.push("eli", at: Double(i) * 10, result: .denied).alerts.isEmpty) }
        let fifteenth = h.push("eli", at: 140, result: .denied)
        #expect(Self.window(fifteenth) == 86_400)
        // Off: a horizon of 0 failures is not looked at.
        var config = VigilConfig()
        config.engine.alerts.pushBombingHourFailures = 0
        config.engine.alerts.pushBombingDayFailures = 0
        var off = EngineHarness(config: config)
        for i in 0..<30 { #expect(off.push("eli", at: Double(i) * 3, result: .denied).alerts.isEmpty) }
    }

    /// A day horizon longer than every other window: the user's failed pushes are kept for it, not swept
    /// with the rarely used state once the other windows have passed.
    @Test func aLongHorizonKeepsTheFailuresItReads() {
        var config = VigilConfig()
        config.engine.alerts.pushBombingDayWindow = .hours(72)
        var h = EngineHarness(config: config)
        // Fourteen failures half an hour apart (no shorter horizon fills), then a day and a half of quiet
        // in which another user's events move the shard's time on and its sweeps run.
        for i in 0..<14 { #expect(h.push("ivy", at: Double(i) * 30, result: .denied).alerts.isEmpty) }
        for hour in stride(from: 8.0, through: 48, by: 4) { h.push("zed", at: hour * 60, result: .approved) }
        #expect(Self.window(h.push("ivy", at: 50 * 60, result: .denied)) == Int64(72 * 3600))
    }

    @Test func activePushBombingRemovesPushFactors() {
        var h = EngineHarness()
        h.establish("alice")
        for i in 0..<5 { h.push("alice", at: 1 + Double(i) * 0.1, result: .denied) }
        let verdict = h.login("alice", at: 3, device: "new-device")
        let decision = try! #require(verdict.decision)
        #expect(decision.action == .stepUpSoft)
        #expect(!decision.factors.contains(.pushNumberMatch))
        #expect(!decision.factors.contains(.push))
        #expect(decision.factors.contains(.totp))
        #expect(decision.signals.contains(.pushBurst))
    }
}

@Suite struct MFAFatigueTests {
    @Test func approvalAfterTwoDenialsIsQuiet() {
        var h = EngineHarness()
        h.push("carol", at: 0, result: .denied)
        h.push("carol", at: 1, result: .timeout)
        #expect(h.push("carol", at: 2, result: .approved).alerts.isEmpty)
    }

    @Test func approvalAfterThreeDenialsIsCritical() {
        var h = EngineHarness()
        for i in 0..<3 { h.push("carol", at: Double(i), result: .denied) }
        let verdict = h.push("carol", at: 3, result: .approved)
        #expect(verdict.alertKinds == [.mfaFatigueAccepted])
        #expect(verdict.alerts[0].severity == .critical)
        #expect(verdict.alerts[0].evidence.count == 4)
    }

    @Test func denialsOlderThanTheWindowDoNotCount() {
        var h = EngineHarness()
        for i in 0..<3 { h.push("carol", at: Double(i), result: .denied) }
        #expect(h.push("carol", at: 10.5, result: .approved).alerts.isEmpty)
    }

    /// Five denials, then twenty minutes' pause, then an approval: the short window is empty, the two
    /// hours are not. Four are not enough, nor five more than two hours back.
    @Test func anApprovalAfterAPauseIsCaughtOverTheLongHorizon() {
        var h = EngineHarness()
        for i in 0..<5 { h.push("fay", at: Double(i) * 4, result: .denied) }
        let approval = h.push("fay", at: 36, result: .approved)
        #expect(approval.alertKinds == [.mfaFatigueAccepted])
        #expect(PushBombingTests.window(approval) == 7200)
        var four = EngineHarness()
        for i in 0..<4 { four.push("fay", at: Double(i) * 4, result: .denied) }
        #expect(four.push("fay", at: 36, result: .approved).alerts.isEmpty)
        var late = EngineHarness()
        for i in 0..<5 { late.push("fay", at: Double(i) * 4, result: .denied) }
        #expect(late.push("fay", at: 16 + 120.5, result: .approved).alerts.isEmpty)
    }

    /// Down to two failures where an operator wants it.
    @Test func twoFailuresAreEnoughWhenConfigured() {
        var config = VigilConfig()
        config.engine.alerts.mfaFatigueFailures = 2
        var h = EngineHarness(config: config)
        h.push("gus", at: 0, result: .denied)
        h.push("gus", at: 1, result: .timeout)
        #expect(h.push("gus", at: 2, result: .approved).alertKinds == [.mfaFatigueAccepted])
    }

    /// With a minimum spacing, two failures five seconds apart are one refusal; twenty seconds apart, two.
    @Test(arguments: [(5.0, false), (14.9, false), (15.0, true), (20.0, true)])
    func failuresCloserThanTheSpacingCountOnce(secondsApart: Double, alerts: Bool) {
        var config = VigilConfig()
        config.engine.alerts.mfaFatigueFailures = 2
        config.engine.alerts.mfaFatigueMinSpacing = .seconds(15)
        var h = EngineHarness(config: config)
        h.push("hal", at: 0, result: .denied)
        h.push("hal", at: secondsApart / 60, result: .denied)
        #expect(h.push("hal", at: 2, result: .approved).alertKinds == (alerts ? [.mfaFatigueAccepted] : []))
    }
}

@Suite struct CredentialStuffingTests {
    private func failures(_ h: inout EngineHarness, users: Int, attempts: Int, ip: String = "198.51.100.7") -> [Alert] {
        var alerts: [Alert] = []
        for i in 0..<attempts {
            alerts += h.login("user\(i % users)", at: Double(i) * 0.5, ip: ip, outcome: .failure).alerts
        }
        return alerts
    }

    @Test func fifteenAttemptsOverFiveUsersAlert() {
        var h = EngineHarness()
        let alerts = failures(&h, users: 5, attempts: 15)
        #expect(alerts.map(\.kind) == [.credentialStuffing])
        #expect(alerts[0].scope == .sourceIP)
        #expect(alerts[0].subject == "198.51.100.7")
        #expect(alerts[0].evidence.count == 15)
    }

    /// A source keeps distinct users up to the larger of the stuffing and spraying thresholds: six users
    /// behind the attempts show as "at least 5" under the defaults (both 5), and as 6 when spraying's
    /// threshold keeps more.
    @Test func theAccountCountSaysAtLeastAtTheSourcesCap() {
        var h = EngineHarness()
        let capped = failures(&h, users: 6, attempts: 15)
        #expect(capped.map(\.message) == ["198.51.100.7 failed 15 logins for at least 5 accounts within 15m"])
        var config = VigilConfig()
        config.engine.signals.sprayingDistinctUsers = 8
        var exact = EngineHarness(config: config)
        #expect(
            failures(&exact, users: 6, attempts: 15).map(\.message) == [
                "198.51.100.7 failed 15 logins for 6 accounts within 15m"
            ])
    }

    @Test func fourteenAttemptsDoNotAlert() {
        var h = EngineHarness()
        #expect(failures(&h, users: 5, attempts: 14).isEmpty)
    }

    @Test func fourUsersDoNotAlertHoweverManyAttempts() {
        var h = EngineHarness()
        #expect(failures(&h, users: 4, attempts: 25).isEmpty)
    }

    @Test func ipv6SourcesAggregateToTheir64() {
        var h = EngineHarness()
        var alerts: [Alert] = []
        for i in 0..<15 {
            alerts +=
                h.login("user\(i % 5)", at: Double(i) * 0.5, ip: "2001:db8:7:7::\(i + 1)", outcome: .failure).alerts
        }
        #expect(alerts.map(\.kind) == [.credentialStuffing])
        #expect(alerts[0].subject == "2001:db8:7:7::")
    }

    @Test func sprayingSignalFiresAtFiveDistinctUsers() {
        var h = EngineHarness()
        h.establish("victim")
        for i in 0..<4 { h.login("user\(i)", at: 1 + Double(i) * 0.1, ip: "198.51.100.9", outcome: .failure) }
        #expect(!h.login("victim", at: 2, ip: "198.51.100.9").signals.contains(.sourceIPSpraying))
        h.login("user4", at: 2.1, ip: "198.51.100.9", outcome: .failure)
        #expect(h.login("victim", at: 2.2, ip: "198.51.100.9").signals.contains(.sourceIPSpraying))
    }
}

@Suite struct ResetAbuseTests {
    @Test func fourRequestsForOneAccountAreQuietFiveAlert() {
        var h = EngineHarness()
        for i in 0..<4 { #expect(h.resetRequest("dave", at: Double(i) * 10).alerts.isEmpty) }
        let alerts = h.resetRequest("dave", at: 45).alerts
        #expect(alerts.map(\.kind) == [.resetAbuse])
        #expect(alerts[0].scope == .account)
    }

    @Test func oneSourceResettingTenAccountsAlerts() {
        var h = EngineHarness()
        var alerts: [Alert] = []
        for i in 0..<9 { alerts += h.resetRequest("acct\(i)", at: Double(i), ip: "203.0.113.5").alerts }
        #expect(alerts.isEmpty)
        alerts += h.resetRequest("acct9", at: 9, ip: "203.0.113.5").alerts
        #expect(alerts.map(\.scope) == [.sourceIP])
        #expect(alerts[0].evidence.count == 10)
    }

    @Test func twentyAccountsOfOneDomainAlert() {
        var h = EngineHarness()
        var alerts: [Alert] = []
        for i in 0..<19 {
            alerts += h.resetRequest("u\(i)", at: Double(i), ip: "203.0.113.\(i + 1)", domain: "example.com").alerts
        }
        #expect(alerts.isEmpty)
        alerts += h.resetRequest("u19", at: 19, ip: "203.0.113.99", domain: "example.com").alerts
        #expect(alerts.map(\.scope) == [.emailDomain])
        #expect(alerts[0].subject == "example.com")
    }

    @Test func requestsSpreadOverMoreThanAnHourDoNotAlert() {
        var h = EngineHarness()
        for i in 0..<5 { #expect(h.resetRequest("dave", at: Double(i) * 16).alerts.isEmpty) }
    }
}

@Suite struct TakeoverAfterResetTests {
    /// A new device on a network she never used (Changchun's AS4837), within a day of the reset.
    @Test func newDeviceOnANewNetworkWithinADayOfResetAlerts() {
        var h = EngineHarness()
        h.establish("erin")
        h.resetComplete("erin", at: 60)
        let verdict = h.login("erin", at: 24 * 60, ip: Places.changchun, device: "attacker-laptop")
        #expect(verdict.alertKinds.contains(.takeoverAfterReset))
        #expect(verdict.signals.contains(.recentPasswordReset))
        #expect(verdict.decision!.action >= .stepUpSoft)
    }

    /// Her new phone at home after the reset, and her own laptop on a trip: stepped up (the post-reset
    /// rule) but no alert. A new device in another country alerts.
    @Test func herNewPhoneAtHomeOrHerLaptopAbroadDoNotAlert() {
        var h = EngineHarness()
        h.establish("erin")
        h.resetComplete("erin", at: 60)
        let home = h.login("erin", at: 120, device: "new-phone")
        #expect(home.alerts.isEmpty && home.decision!.action == .stepUpSoft)
        // Milton: another country and network, reached in a day.
        #expect(h.login("erin", at: 24 * 60, ip: Places.milton, device: "d1").alerts.isEmpty)
        var abroad = EngineHarness()
        abroad.establish("erin")
        abroad.resetComplete("erin", at: 60)
        #expect(
            abroad.login("erin", at: 24 * 60, ip: Places.milton, device: "other").alertKinds == [.takeoverAfterReset])
    }

    /// A new device from an address without an AS number is on her network only if its block is hers.
    @Test func withoutAnASNumberTheAddressBlockTells() {
        let unnumbered = "198.51.100.23"
        var geo = Places.table
        geo[unnumbered] = IPIntelligence(location: Places.table[Places.london]!.location)
        geo["198.51.100.99"] = IPIntelligence(location: Places.table[Places.london]!.location)
        var h = EngineHarness(geo: geo)
        for i in 0..<3 { h.login("erin", at: Double(i), ip: unnumbered) }
        h.resetComplete("erin", at: 60)
        #expect(h.login("erin", at: 120, ip: "198.51.100.99", device: "new-phone").alerts.isEmpty)
        #expect(h.login("erin", at: 180, ip: "198.51.101.7", device: "laptop-2").alertKinds == [.takeoverAfterReset])
    }

    /// A user still learning has no baseline a device could be new against.
    @Test func aLearningUserDoesNotAlert() {
        var h = EngineHarness()
        h.login("erin", at: 0)
        h.resetComplete("erin", at: 60)
        #expect(h.login("erin", at: 24 * 60, ip: Places.milton, device: "other").alerts.isEmpty)
    }

    @Test func knownDeviceAfterResetDoesNotAlertButStillStepsUp() {
        var h = EngineHarness()
        h.establish("erin")
        h.resetComplete("erin", at: 60)
        let verdict = h.login("erin", at: 120, device: "d1")
        #expect(verdict.alerts.isEmpty)
        #expect(verdict.decision!.action == .stepUpSoft)
        #expect(verdict.decision!.rules.contains("post_reset_requires_step_up"))
    }

    @Test func newDeviceAfterTheWindowDoesNotAlert() {
        var h = EngineHarness()
        h.establish("erin")
        h.resetComplete("erin", at: 60)
        #expect(h.login("erin", at: 60 + 24 * 60 + 1, device: "new").alerts.isEmpty)
    }
}

@Suite struct ImpossibleTravelTests {
    @Test func londonToChangchunInThirtyMinutesAlerts() {
        var h = EngineHarness()
        h.establish("frank")
        let verdict = h.login("frank", at: 30, ip: Places.changchun)
        #expect(verdict.alertKinds == [.impossibleTravel])
        #expect(verdict.signals.contains(.impossibleTravel))
        let alert = verdict.alerts[0]
        #expect(alert.sources.count == 2)
        #expect(alert.evidence.count == 2)
    }

    @Test func twoImpossibleLoginsFromOneAnchorGetTwoUIDsThatReplaysKeep() throws {
        func run() throws -> [Alert] {
            var h = EngineHarness()
            h.establish("frank")
            // A sensitive action does not move the anchor (only logins are learned), so the login after
            // it is measured from the same London login.
            let first = h.sensitive(
                "frank", at: 30, action: SensitiveAction(wireName: "data_export"), ip: Places.changchun
            ).alerts
            let second = h.login("frank", at: 40, ip: Places.changchun).alerts
            return first + second
        }
        let alerts = try run()
        try #require(alerts.map(\.kind) == [.impossibleTravel, .impossibleTravel])
        // One anchor: both findings start at the same login, so only the later login tells them apart.
        #expect(alerts[0].windowStart == alerts[1].windowStart)
        let encoder = AlertEncoder()
        #expect(encoder.findingUID(alerts[0]) != encoder.findingUID(alerts[1]))
        #expect(try run().map(encoder.findingUID) == alerts.map(encoder.findingUID))
    }

    @Test func londonToBoxfordIsNotTravel() {
        var h = EngineHarness()
        h.establish("frank")
        let verdict = h.login("frank", at: 30, ip: Places.boxford)
        #expect(verdict.alerts.isEmpty)
        #expect(!verdict.signals.contains(.impossibleTravel))
    }

    @Test func slowEnoughTravelIsNotImpossible() throws {
        // London → Changchun is ~8,050 km; minus 110 km of radii ≈ 7,940 km: at 900 km/h that takes ~8.8 h.
        var h = EngineHarness()
        h.establish("frank")
        let travel = try #require(
            TravelAssessment(
                from: Places.table[Places.london]!.location, at: EngineHarness.at(0),
                to: Places.table[Places.changchun]!.location, at: EngineHarness.at(0)))
        let hoursAtLimit = travel.adjustedDistanceKm / 900
        #expect(!h.login("frank", at: hoursAtLimit * 60 + 1, ip: Places.changchun).signals.contains(.impossibleTravel))
        var h2 = EngineHarness()
        h2.establish("frank")
        #expect(h2.login("frank", at: hoursAtLimit * 60 - 1, ip: Places.changchun).signals.contains(.impossibleTravel))
    }

    @Test func accuracyRadiiAreSubtracted() {
        let a = GeoLocation(city: "A", latitude: 0, longitude: 0, accuracyRadiusKm: 300)
        let b = GeoLocation(city: "B", latitude: 0, longitude: 9, accuracyRadiusKm: 300)  // ~1,000 km apart
        let travel = TravelAssessment(from: a, at: Timestamp(seconds: 0), to: b, at: Timestamp(seconds: 60))!
        #expect(abs(travel.distanceKm - 1000.8) < 1)
        #expect(abs(travel.adjustedDistanceKm - 400.8) < 1)
        #expect(!travel.isImpossible(maxSpeedKmh: 900, minDistanceKm: 500))
        #expect(travel.isImpossible(maxSpeedKmh: 900, minDistanceKm: 400))
    }

    @Test func anonymousSourceIsReportedAsAnonymousNotTravel() {
        var h = EngineHarness()
        h.establish("frank")
        let verdict = h.login("frank", at: 30, ip: Places.torExit)
        #expect(verdict.alerts.isEmpty)
        #expect(verdict.signals.contains(.anonymousIP))
        #expect(!verdict.signals.contains(.impossibleTravel))
    }

    @Test func anonymousPreviousLoginIsReportedNotScoredAsTravel() {
        // A Tor exit located to a city: a country-level one would give no travel verdict at all.
        var table = Places.table
        let cityExit = "1.124.213.2"
        table[cityExit] = IPIntelligence(
            location: GeoLocation(
                countryCode: "AU", city: "Sydney", latitude: -33.87, longitude: 151.21, accuracyRadiusKm: 20),
            anonymity: [.anonymous, .torExit])
        var h = EngineHarness(geo: table)
        h.establish("frank")
        h.login("frank", at: 10, ip: cityExit)
        let verdict = h.login("frank", at: 20, ip: Places.changchun)
        #expect(verdict.alerts.isEmpty)
        let reason = verdict.decision!.reasons.first { $0.signal == .anonymousIP }
        #expect(reason?.points == 0)
    }
}
