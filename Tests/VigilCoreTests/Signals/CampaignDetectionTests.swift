import Testing

@testable import VigilCore

/// Campaigns spread over many sources (`engine.campaigns`): per autonomous system and per tenant, each at,
/// below and above its threshold, cold and with a baseline.
@Suite struct CampaignDetectionTests {
    /// 2026-09-21T14:00:00Z: slots of an hour start on it.
    static let base = Timestamp(seconds: 1_789_999_200)
    static let hostingASN: UInt32 = 64_500

    /// Floors small enough to reach in a test: a cold slot must hold three times these.
    static var config: VigilConfig {
        var config = VigilConfig()
        config.engine.campaigns.failuresFloor = 10
        config.engine.campaigns.unknownUserFloor = 5
        config.engine.campaigns.distinctUsersFloor = 1000
        config.engine.campaigns.resetsFloor = 5
        return config
    }

    /// Address `index` of the hosting network: each one used once stays under every per-source threshold.
    static func hostingAddress(_ index: Int) -> String { "10.64.\(index / 250).\(index % 250 + 1)" }

    /// The hosting network's addresses, a home address, and one address of another network.
    static var geo: [String: IPIntelligence] {
        var table = Places.table
        for index in 0..<2_000 {
            table[hostingAddress(index)] = IPIntelligence(
                network: AutonomousSystem(number: hostingASN, organization: "Hosting Ltd"))
        }
        return table
    }

    struct Stream {
        var harness: EngineHarness
        var next = 0

        init(config: VigilConfig = CampaignDetectionTests.config) {
            harness = EngineHarness(config: config, geo: CampaignDetectionTests.geo)
        }

        /// A failed login for a user never seen before, from the next hosting address, `minutes` after
        /// `base`; a tenant of its own unless `tenant` is given, so only the network's windows count it
        /// together.
        mutating func failure(
            at minutes: Double, tenant: String? = nil, unknownUser: Bool = false, address: String? = nil
        ) -> RiskEngine.Verdict {
            next += 1
            var event = AuthEvent(
                eventID: "f\(next)", type: .login, time: CampaignDetectionTests.time(minutes),
                tenant: tenant ?? "t\(next)", user: User(id: "victim\(next)"),
                ip: IPAddress(address ?? CampaignDetectionTests.hostingAddress(next % 2_000)), outcome: .failure)
            if unknownUser { event.failureKind = .unknownUser }
            return harness.send(event)
        }

        /// `count` failures spread over the minute starting at `minutes`; the alerts they raised.
        mutating func failures(
            _ count: Int, at minutes: Double, tenant: String? = nil, unknownUser: Bool = false
        ) -> [Alert] {
            (0..<count).flatMap {
                failure(at: minutes + Double($0) / Double(count), tenant: tenant, unknownUser: unknownUser).alerts
            }
        }

        /// A reset request in tenant `acme` for a user never seen before, from an address of no known network.
        mutating func reset(at minutes: Double) -> RiskEngine.Verdict {
            next += 1
            return harness.send(
                AuthEvent(
                    eventID: "r\(next)", type: .passwordResetRequest, time: CampaignDetectionTests.time(minutes),
                    tenant: "acme", user: User(id: "reset\(next)"), ip: IPAddress("198.51.100.\(next % 250 + 1)")))
        }

        /// A successful login of `user` in `tenant` from `address`.
        mutating func success(
            _ user: String, at minutes: Double, address: String, tenant: String? = nil
        ) -> RiskEngine.Verdict {
            next += 1
            return harness.send(
                AuthEvent(
                    eventID: "s\(next)", type: .login, time: CampaignDetectionTests.time(minutes), tenant: tenant,
                    user: User(id: user), ip: IPAddress(address), device: Device(id: "d-\(user)"),
                    outcome: .success))
        }
    }

    static func time(_ minutes: Double) -> Timestamp {
        base + EventDuration(microseconds: Int64(minutes * 60_000_000))
    }

    static func detail(_ alert: Alert, _ name: String) -> DetailValue? { alert.details.first { $0.0 == name }?.1 }

    @Test func aColdNetworkNeedsRatioTimesTheFloor() {
        var stream = Stream()
        #expect(stream.failures(29, at: 0).isEmpty)
        let alerts = stream.failure(at: 1).alerts
        #expect(alerts.map(\.kind) == [.credentialStuffing])
        let alert = alerts[0]
        #expect(alert.scope == .asn && alert.subject == "AS64500" && alert.tenant == nil)
        #expect(Self.detail(alert, "metric") == .string("failures") && Self.detail(alert, "count") == .int(30))
        #expect(Self.detail(alert, "expected") == .double(10) && Self.detail(alert, "threshold") == .double(30))
        #expect(alert.windowStart == Self.base && alert.severity == .high)
    }

    @Test func oneAlertPerCampaignExtendedWhileItGoesOnThenANewOne() {
        var stream = Stream()
        var alerts = stream.failures(60, at: 0)
        #expect(alerts.count == 1)
        // The next slot crosses again in the hold's second half: the same campaign, held longer.
        alerts += stream.failures(30, at: 65)
        #expect(alerts.count == 1)
        let key = EngineKeys(secret: .publicDefault).campaign.key(asn: Self.hostingASN)
        let interval = stream.harness.engine.state.campaigns[key]?.stuffing
        #expect(interval?.start == Self.time(29.0 / 60) && interval.map { $0.until > Self.time(180) } == true)
        // Long after the hold: a new campaign, a new alert with another uid.
        alerts += stream.failures(30, at: 600)
        #expect(alerts.count == 2)
        let encoder = AlertEncoder()
        #expect(encoder.findingUID(alerts[0]) != encoder.findingUID(alerts[1]))
    }

    /// A campaign's finding is its network and slot: whichever event crosses (the stage reads events from
    /// many partitions, in any order), the uid is the same; the next slot's campaign has another.
    @Test func theUIDIsTheSlotsNotTheCrossingEvents() {
        var early = Stream()
        let first = early.failures(30, at: 1)
        var late = Stream()
        _ = late.failures(29, at: 1)
        let second = late.failure(at: 59).alerts
        var nextSlot = Stream()
        let third = nextSlot.failures(30, at: 61)
        #expect(first.count == 1 && second.count == 1 && third.count == 1)
        #expect(first.first?.time != second.first?.time)
        let encoder = AlertEncoder()
        #expect(first.map(encoder.findingUID) == second.map(encoder.findingUID))
        #expect(first.map(encoder.findingUID) != third.map(encoder.findingUID))
    }

    /// The campaign stage reads many input partitions interleaved: an event of the previous slot that
    /// arrives after the next slot began counts in its own slot, and can make it cross; the alert names
    /// that slot. An event older than the previous slot counts in the current one.
    @Test func anEventOfThePreviousSlotCountsInItsOwnSlot() {
        var stream = Stream()
        #expect(stream.failures(29, at: 30).isEmpty)
        #expect(stream.failure(at: 61).alerts.isEmpty)
        let late = stream.failure(at: 59.5).alerts
        #expect(late.map(\.kind) == [.credentialStuffing])
        #expect(late.first?.windowStart == Self.base && late.first.flatMap { Self.detail($0, "count") } == .int(30))
        // Slot 15:00 holds its one event only: 29 more cross it, not 28.
        var next = Stream()
        _ = next.failures(29, at: 30)
        _ = next.failure(at: 61)
        _ = next.failure(at: 59.5)
        #expect(next.failures(28, at: 125).isEmpty)

        var lenient = Self.config
        lenient.engine.allowedLateness = .hours(2)
        var older = Stream(config: lenient)
        _ = older.failures(29, at: 30)
        _ = older.failure(at: 125)
        // Slot 14:00 is two slots back (on time under a lateness of two hours): the event counts in 16:00's
        // slot, which now holds two.
        #expect(older.failure(at: 59.5).alerts.isEmpty)
        let key = EngineKeys(secret: .publicDefault).campaign.key(asn: Self.hostingASN)
        #expect(older.harness.engine.state.campaigns[key]?.current.counts.failures == 2)
    }

    @Test func failuresForUnknownUsernamesHaveTheirOwnFloor() {
        var stream = Stream()
        #expect(stream.failures(14, at: 0, unknownUser: true).isEmpty)
        let alerts = stream.failure(at: 1, unknownUser: true).alerts
        #expect(alerts.count == 1 && Self.detail(alerts[0], "metric") == .string("unknown_user_failures"))
    }

    @Test func distinctFailingUsersHaveTheirOwnFloor() {
        var config = Self.config
        config.engine.campaigns.failuresFloor = 1000
        config.engine.campaigns.distinctUsersFloor = 10
        var stream = Stream(config: config)
        // Counted by a sketch: alerted within a few users of thirty, never far below it.
        #expect(stream.failures(25, at: 0).isEmpty)
        let alerts = stream.failures(10, at: 1)
        #expect(alerts.count == 1 && Self.detail(alerts[0], "metric") == .string("distinct_users"))
    }

    @Test func campaignActiveScoresLoginsFromTheNetworkWhileItLasts() {
        var stream = Stream()
        _ = stream.failures(30, at: 0)
        let during = stream.success("alice", at: 5, address: Self.hostingAddress(1_500))
        let reason = during.decision?.reasons.first { $0.signal == .campaignActive }
        #expect(reason?.points == 20)
        #expect(reason?.detail == "credential stuffing campaign on AS64500, detected 4m ago")
        #expect(!stream.success("bob", at: 5, address: Places.london).signals.contains(.campaignActive))
        #expect(
            !stream.success("carol", at: 130, address: Self.hostingAddress(1_501)).signals.contains(.campaignActive))
    }

    /// Stuffing over the whole tenant (addresses of no known network): an established user's login from
    /// their own provider is theirs, not the campaign's; one from a network they never used gets the points.
    @Test func aTenantCampaignScoresLoginsFromNetworksTheUserHasNotUsed() {
        var stream = Stream()
        // Frank's logins from London, each with its step-up passed: past learning, London's network known.
        for index in 0..<stream.harness.engine.config.engine.learningLogins {
            let session = InputText("frank-\(index)")
            for type in [EventType.login, .mfaResult] {
                _ = stream.harness.send(
                    AuthEvent(
                        eventID: "frank-\(type.rawValue)-\(index)", type: type, time: Self.time(Double(index) - 600),
                        tenant: "acme", user: User(id: "frank"), ip: IPAddress(Places.london),
                        device: Device(id: "d1"), outcome: type == .login ? .success : nil,
                        mfa: type == .login ? nil : MFA(factor: .totp, result: .approved), sessionID: session))
            }
        }
        let failures = (0..<30).flatMap { index in
            stream.failure(at: Double(index) / 30, tenant: "acme", address: "198.51.100.\(index + 1)").alerts
        }
        #expect(failures.map(\.scope) == [.tenant])
        let home = stream.harness.send(
            AuthEvent(
                eventID: "home", type: .login, time: Self.time(5), tenant: "acme", user: User(id: "frank"),
                ip: IPAddress(Places.london), device: Device(id: "d1"), outcome: .success))
        #expect(!home.signals.contains(.campaignActive))
        let away = stream.harness.send(
            AuthEvent(
                eventID: "away", type: .login, time: Self.time(6), tenant: "acme", user: User(id: "frank"),
                ip: IPAddress(Places.milton), device: Device(id: "d1"), outcome: .success))
        let reason = away.decision?.reasons.first { $0.signal == .campaignActive }
        #expect(reason?.detail == "credential stuffing campaign on tenant acme, detected 5m ago")
    }

    @Test func aResetWaveOnATenantScoresLoginsAfterAResetOnly() {
        var stream = Stream()
        for minute in 0..<14 { #expect(stream.reset(at: Double(minute)).alerts.isEmpty) }
        let alerts = stream.reset(at: 14).alerts
        #expect(alerts.map(\.kind) == [.resetAbuse])
        #expect(alerts.first?.scope == .tenant && alerts.first?.subject == "acme" && alerts.first?.tenant == "acme")
        // A user whose reset completed logs in during the wave; another without a reset does not count.
        _ = stream.harness.send(
            AuthEvent(
                eventID: "done", type: .passwordResetComplete, time: Self.time(15), tenant: "acme",
                user: User(id: "dave"), ip: IPAddress(Places.london), outcome: .success))
        let afterReset = stream.success("dave", at: 16, address: Places.london, tenant: "acme")
        let reason = afterReset.decision?.reasons.first { $0.signal == .campaignActive }
        #expect(reason?.detail == "password reset wave on tenant acme, detected 2m ago")
        #expect(
            !stream.success("erin", at: 16, address: Places.london, tenant: "acme").signals.contains(.campaignActive))
    }

    /// Four days of 20 failures in the 14:00 slot teach the network's baseline: the fifth day needs 60.
    @Test func theBaselineLearnsTheSlotsUsualCount() {
        var stream = Stream()
        var alerts: [Alert] = []
        for day in 0..<4 { alerts += stream.failures(20, at: Double(day) * 1440) }
        #expect(alerts.isEmpty)
        // 30 would alert a cold network; this one expects 20 at this hour.
        #expect(stream.failures(59, at: 4 * 1440).isEmpty)
        let crossing = stream.failure(at: 4 * 1440 + 2).alerts
        #expect(crossing.count == 1)
        #expect(crossing.first.map { Self.detail($0, "expected") } == .double(20))
        #expect(crossing.first.map { Self.detail($0, "baseline_days") } == .int(4))
        // Another hour of the same days expects nothing: the floor rules there.
        var quiet = Stream()
        for day in 0..<4 { _ = quiet.failures(20, at: Double(day) * 1440) }
        #expect(quiet.failures(9, at: 4 * 1440 + 300).isEmpty)
        #expect(quiet.failure(at: 4 * 1440 + 301).alerts.count == 1)
    }

    /// A network idle past `idle_ttl` is read as new: its baseline is gone, so a cold slot needs 30 again.
    @Test func aNetworkIdlePastItsTTLStartsOver() {
        var config = Self.config
        config.engine.campaigns.idleTTL = .days(7)
        var stream = Stream(config: config)
        for day in 0..<4 { _ = stream.failures(20, at: Double(day) * 1440) }
        // Eight idle days would have decayed the expectation to 2 (the floor, 10, would rule).
        #expect(stream.failures(29, at: 11 * 1440).isEmpty)
        #expect(stream.failure(at: 11 * 1440 + 1).alerts.count == 1)
    }

    @Test func campaignsOffCountNothing() {
        var config = Self.config
        config.engine.campaigns.enabled = false
        var stream = Stream(config: config)
        #expect(stream.failures(100, at: 0).isEmpty)
        #expect(stream.harness.engine.state.campaignCount == 0)
    }

    /// With the stuffing alert off the campaign is still detected and scored, only not reported.
    @Test func theAlertSwitchLeavesTheSignal() {
        var config = Self.config
        config.engine.alerts.credentialStuffing.enabled = false
        var stream = Stream(config: config)
        #expect(stream.failures(40, at: 0).isEmpty)
        #expect(stream.success("alice", at: 5, address: Self.hostingAddress(1_500)).signals.contains(.campaignActive))
    }
}

@Suite struct CampaignStateTests {
    static let settings = CampaignSettings()
    static let hour = EventDuration.hours(1).microseconds

    @Test func slotsStartAtTheirBoundary() {
        let slot = CampaignState.slot(of: Timestamp(microseconds: 7 * Self.hour), length: .hours(1))
        #expect(slot == 7)
        #expect(CampaignState.slot(of: Timestamp(microseconds: 8 * Self.hour - 1), length: .hours(1)) == 7)
    }

    /// The first day seeds each slot with its count; later days move it by 2 / (7 + 1) of the gap, and
    /// the deviation likewise; empty slots between count as zero.
    @Test func foldingSeedsThenAverages() {
        var state = CampaignState(lastSeen: Timestamp(microseconds: 0), length: .hours(1))
        state.current.counts.failures = 40
        state.advance(to: 24, settings: Self.settings)
        // Slot 23 stays open as the previous slot: 23 folded.
        #expect(state.baseline[0] == 40 && state.baseline[1] == 0 && state.foldedSlots == 23)
        #expect(state.previous == CampaignState.SlotTally())
        state.current.counts.failures = 80
        state.advance(to: 48, settings: Self.settings)
        // 40 + 0.25 × 40, deviation 0 + 0.25 × 40.
        #expect(state.baseline[0] == 50 && state.baseline[1] == 10 && state.foldedSlots == 47)
        // Two days folded: not trusted before the third.
        #expect(state.expectation(.failures, settings: Self.settings) == (40, 0))
        state.advance(to: 72, settings: Self.settings)
        // Three days behind slot 72 (the last of them open): trusted, though 71 are folded.
        #expect(state.baseline[0] == 37.5 && state.foldedSlots == 71 && state.slotsBehind() == 72)
        #expect(state.expectation(.failures, settings: Self.settings).expected == 37.5)
        // The open slot itself has only 71 behind it.
        #expect(state.expectation(.failures, settings: Self.settings, slot: 71) == (40, 0))
        // max(floor 40, 3 × 37.5, 37.5 + 4 × deviation)
        let deviation = state.baseline[1]
        #expect(deviation == 20)
        #expect(state.threshold(.failures, settings: Self.settings) == 117.5)
    }

    /// A campaign's slot is folded in as expected, not as counted: the next days' same hour still alerts
    /// on a campaign as large, where folding the spike (even clipped at its threshold) would raise the
    /// threshold day after day until the daily campaign is missed.
    @Test func aCrossingSlotIsFoldedInAsExpected() {
        var state = CampaignState(lastSeen: Timestamp(microseconds: 0), length: .hours(1))
        for day in Int64(0)..<3 {
            state.current.counts.failures = 10
            state.advance(to: (day + 1) * 24, settings: Self.settings)
        }
        #expect(state.baseline[0] == 10 && state.threshold(.failures, settings: Self.settings) == 40)
        for day in Int64(3)..<10 {
            state.current.counts.failures = 500
            state.advance(to: (day + 1) * 24, settings: Self.settings)
            #expect(state.baseline[0] == 10 && state.baseline[1] == 0, "day \(day)")
            #expect(state.threshold(.failures, settings: Self.settings) == 40)
        }
        // Below the threshold a count is learned as it is.
        state.current.counts.failures = 30
        state.advance(to: 11 * 24, settings: Self.settings)
        #expect(state.baseline[0] == 15 && state.baseline[1] == 5)
    }

    /// Under another slot length (a reload, or a restore under other settings) counts and baseline start
    /// over at the new slot, whichever way the length changed: a slot number of one length means nothing in
    /// another (five-minute slot numbers are twelve times the hourly ones).
    @Test(arguments: [(EventDuration.minutes(5), EventDuration.hours(1)), (.hours(1), .minutes(30))])
    func aChangedSlotLengthStartsOver(from old: EventDuration, to new: EventDuration) {
        var before = Self.settings
        before.slot = old
        let start = Timestamp(seconds: 1_790_000_000)
        var state = CampaignState(lastSeen: start, length: old)
        for day in Int64(0)..<4 {
            state.current.counts.failures = 10
            state.advance(to: CampaignState.slot(of: start + .days(day + 1), length: old), settings: before)
        }
        state.stuffing = CampaignInterval(start: start, until: start + .hours(2))
        state.current.counts.failures = 7
        var after = Self.settings
        after.slot = new
        let now = start + .days(5)
        let target = CampaignState.slot(of: now, length: new)
        state.advance(to: target, settings: after)
        #expect(state.slot == target && state.slotLength == new.microseconds)
        #expect(state.baseline.isEmpty && state.foldedSlots == 0 && state.count(.failures) == 0)
        #expect(state.start(of: .current) <= now && now < state.start(of: .current) + new)
        #expect(state.stuffing != nil)
        // The next slots fold normally under the new length: the first stays open while the second runs.
        state.current.counts.failures = 3
        state.advance(to: target + 1, settings: after)
        #expect(state.foldedSlots == 0 && state.previous?.counts.failures == 3)
        state.advance(to: target + 2, settings: after)
        #expect(state.foldedSlots == 1 && state.baseline.count == after.slotsPerDay * 8)
    }
}
