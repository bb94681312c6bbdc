import Foundation
import Testing

@testable import VigilCore

/// The login model's likelihood ratios on cases computed by hand (the arithmetic is in each test's
/// comment), and the `unusual_login` signal at and around its threshold.
@Suite struct LoginModelTests {
    /// 30 logins at Tuesday 10h: the hour and day counts fill at 15, halve to 7 and go on, so both end at
    /// 14 (15 → 8…15 → 8…14).
    static func settledProfile(logins: Int = 30, hourOfWeek: Int = 24 + 10) -> LoginProfile {
        var profile = LoginProfile()
        for _ in 0..<logins { profile.record(LoginFeatures(hourOfWeek: hourOfWeek)) }
        return profile
    }

    @Test func countsHalveWhenOneFills() {
        let profile = Self.settledProfile()
        #expect(profile.hourCount(10) == 14 && profile.dayCount(1) == 14)
        #expect(profile.observations == 14 && profile.dayObservations == 14)
        #expect(profile.hourCount(11) == 0 && profile.dayCount(2) == 0)
    }

    /// A new Firefox for a user known with one browser after 30 logins: ε = (1 + 1) / (30 + 1 + 2) = 2/33;
    /// attacker (0.025 + 1/9) / 2 = 0.0680556; user 0.025 · 2/33 = 0.00151515; log2(44.917) = 5.4892.
    @Test func aNewRareFamilyIsWorthItsRarity() {
        let bits = LoginModel.familyBits(known: false, distinct: 1, share: 0.025, values: 9, escape: 2.0 / 33)
        #expect(abs(bits - 5.4892) < 0.0005)
        // The same novelty in Chrome (68% of logins) is worth less: attacker 0.395556, user 0.0412121.
        let common = LoginModel.familyBits(known: false, distinct: 1, share: 0.68, values: 9, escape: 2.0 / 33)
        #expect(abs(common - log2(0.3955556 / 0.0412121)) < 0.0005 && common < bits)
        // The user's own Chrome counts for them: user (1 − 2/33) + 2/33 · 0.68 = 0.980606; log2(0.403379) = −1.3098.
        let known = LoginModel.familyBits(known: true, distinct: 1, share: 0.68, values: 9, escape: 2.0 / 33)
        #expect(abs(known - -1.3098) < 0.0005)
    }

    /// Against 14 logins at Tuesday 10h, Sunday 03h: hour share (0 + 2/24) / (28 + 2) = 1/360, log2(15);
    /// day share (0 + 2/7) / (14 + 2) = 1/56, log2(8): 6.9069 in all. Tuesday 10h: hour (14 + 1/12) / 30,
    /// day (14 + 2/7) / 16: −3.4940 − 2.6439 = −6.1379.
    @Test func theHourOfTheWeekAgainstTheUsersClock() {
        let profile = Self.settledProfile()
        #expect(abs(LoginModel.clockBits(6 * 24 + 3, profile: profile) - (log2(15.0) + 3)) < 0.0005)
        #expect(abs(LoginModel.clockBits(24 + 10, profile: profile) - -6.1379) < 0.0005)
        // A neighbouring hour counts half: (7 + 1/12) / 30 against 1/24 is −2.5025, with the day −5.1464.
        #expect(abs(LoginModel.clockBits(24 + 11, profile: profile) - -5.1464) < 0.0005)
        // A new user's clock says nothing: every hour and day is the uniform share.
        #expect(LoginModel.clockBits(6 * 24 + 3, profile: LoginProfile()) == 0)
    }

    /// Everything new for a settled user, against everything known: each feature bounded to −2…+6.
    @Test func featuresAddUpWithinTheirBounds() {
        var user = UserState(lastSeen: EngineHarness.base)
        user.profile = Self.settledProfile()
        user.profile.record(
            LoginFeatures(hourOfWeek: 24 + 10, network: 7, city: 9, browser: .chrome, system: .windows))
        user.seen.record(.device, 1, at: EngineHarness.base, capacity: 10)
        // 31 logins learned: the model reads 30 (`settledLogins`).
        #expect(user.profile.logins == 31)
        let strange = LoginFeatures(hourOfWeek: 6 * 24 + 3, network: 8, city: 10, browser: .firefox, system: .linux)
        let result = LoginModel.evaluate(
            strange, deviceKnown: false, countryKnown: true, networkKnown: false, user: user)
        // device: one known, ε = 2 / (30 + 3): log2(16.5); AS: none known, ε = 1 / (30 + 2): 5 bits.
        #expect(abs(result[.device]! - log2(16.5)) < 1e-9)
        #expect(abs(result[.asn]! - 5) < 1e-9)
        #expect(result[.country] == -LoginModel.familiarBits)
        // One block and one city known: ε = 2 / 33.
        #expect(abs(result[.network]! - log2(16.5)) < 1e-9 && abs(result[.city]! - log2(16.5)) < 1e-9)
        #expect(result[.hourOfWeek] == LoginModel.maxBitsPerFeature)
        let sum = LoginFeature.allCases.compactMap { result[$0] }.reduce(0, +)
        #expect(abs(result.bits - sum) < 1e-9 && result.bits > 25)

        let usual = LoginModel.evaluate(
            LoginFeatures(hourOfWeek: 24 + 10, network: 7, city: 9, browser: .chrome, system: .windows),
            deviceKnown: true, countryKnown: true, networkKnown: true, user: user)
        #expect(usual.bits < -10)
        // Without an address, a device or a user agent the features are absent, not counted.
        let bare = LoginModel.evaluate(
            LoginFeatures(hourOfWeek: 24 + 10), deviceKnown: nil, countryKnown: nil, networkKnown: nil, user: user)
        #expect(bare[.device] == nil && bare[.network] == nil && bare[.browser] == nil && bare[.hourOfWeek] != nil)
    }

    /// The browser and system are the user agent's, whatever the device id: none at all, or a client
    /// id every browser shares (which binds no device key to the browser).
    @Test(arguments: [nil, "client:app-1"] as [String?])
    func featuresReadTheAgentWhateverTheDeviceID(id: String?) {
        let event = AuthEvent(
            eventID: "e", type: .login, time: EngineHarness.base, user: User(id: "u"), ip: IPAddress("81.2.69.142"),
            device: Device(id: id, userAgent: InputText(UnusualLoginSignalTests.firefoxOnLinux)), outcome: .success)
        let context = EventContext(event: event, intel: .unknown, keys: EngineKeys(secret: .publicDefault))
        #expect(context.features?.browser == .firefox && context.features?.system == .linux)
        #expect(context.browser == .unknown)
        #expect(context.features?.hourOfWeek == 14 && context.features?.network != 0)
    }

    @Test func profileSlotsKeepTheMostRecent() {
        var profile = LoginProfile()
        for block: UInt16 in [1, 2, 3, 4, 5, 2] { profile.record(LoginFeatures(hourOfWeek: 0, network: block)) }
        #expect(profile.networkCount == 4)
        #expect(!profile.knowsNetwork(1) && [2, 3, 4, 5].allSatisfy(profile.knowsNetwork))
        profile.record(LoginFeatures(hourOfWeek: 0, network: 6))
        // 2 was used again after 3: 3 is now the oldest and goes.
        #expect(!profile.knowsNetwork(3) && profile.knowsNetwork(2) && profile.knowsNetwork(6))
        for city: UInt16 in [1, 2, 3] { profile.record(LoginFeatures(hourOfWeek: 0, city: city)) }
        #expect(profile.cityCount == 2 && !profile.knowsCity(1))
        #expect(!profile.knowsNetwork(0) && !profile.knowsCity(0))
    }

    @Test(
        arguments: [
            (0, 3 * 24), (3_600_000_000, 3 * 24 + 1), (-1, 3 * 24 - 1), (4 * 86_400_000_000, 0),
            (-3 * 86_400_000_000, 0),
        ] as [(Int64, Int)])
    func hourOfWeekFromTheEpochThursday(microseconds: Int64, expected: Int) {
        #expect(LoginFeatures.hourOfWeek(Timestamp(microseconds: microseconds)) == expected)
    }
}

/// The `unusual_login` signal in the engine: a settled user's logins, then one new in every way.
@Suite struct UnusualLoginSignalTests {
    static let chromeOnWindows =
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
    static let firefoxOnLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    /// London, but another provider: the same-country attacker on a consumer ISP.
    static let londonISP = "81.2.70.10"
    static let geo: [String: IPIntelligence] = {
        var table = Places.table
        table[londonISP] = IPIntelligence(
            location: GeoLocation(
                countryCode: "GB", city: "Croydon", latitude: 51.37, longitude: -0.1, accuracyRadiusKm: 20),
            network: AutonomousSystem(number: 64_500))
        return table
    }()

    /// Thirty weekday logins at 14h from London on d1 (the harness's base is Monday 14:13 UTC).
    static func settled(config: VigilConfig = VigilConfig(), geo: [String: IPIntelligence] = geo) -> EngineHarness {
        var h = EngineHarness(config: config, geo: geo)
        var day = 0
        for _ in 0..<30 {
            if day % 7 == 5 { day += 2 }
            h.login("alice", at: Double(day) * 1440, agent: chromeOnWindows)
            day += 1
        }
        return h
    }

    /// Sunday 03h UTC of the sixth week, from a new provider in the user's country, a new device and
    /// browser: new_device 20 + new_asn 10 is 30 (allow) by the rules alone.
    static let attackMinute = Double(5 * 7 + 6) * 1440 - (14.22 - 3) * 60

    @Test func aLoginNewInEveryWayReachesMedium() throws {
        var h = Self.settled()
        let verdict = h.login(
            "alice", at: Self.attackMinute, ip: Self.londonISP, device: "evil", verified: false,
            agent: Self.firefoxOnLinux)
        let decision = try #require(verdict.decision)
        let reason = try #require(decision.reasons.first { $0.signal == .unusualLogin })
        guard case .unusualLogin(let model) = reason.details else {
            Issue.record("unexpected details \(reason.details)")
            return
        }
        let signals = h.engine.config.engine.signals
        let expected = min(
            signals.unusualLogin.points,
            Int(((model.bits - signals.unusualLoginFromBits) * signals.unusualLoginPointsPerBit).rounded(.down)))
        #expect(reason.points == expected && expected > 0)
        #expect(decision.score == 30 + expected && decision.level >= .medium)
        #expect(model.findings.count == 3)
        // 30 logins at 14h: the count filled at 15 and halved, 14 weigh now.
        #expect(model.observations == 14)
        #expect(
            reason.detail.hasPrefix("unlike this user's logins by \(Int(model.bits)).")
                && reason.detail.contains(" bits: "))
        #expect(reason.detail.contains("Sun 03h UTC: 0 of 14 weighted logins at or next to that hour"))
        #expect(reason.detail.contains("browser Firefox never seen for this user (2.5% of logins worldwide)"))
    }

    /// The user's new phone on a carrier's network in their city: new device, network, block, browser
    /// and system. At the hour they usually log in (Tuesday 14h) it stays below from_bits, and the rules
    /// alone decide (new_device 20 + new_asn 10: allow); at 03h, when they never do, it is challenged.
    @Test(arguments: [(14.0, false), (3.0, true)])
    func aNewPhoneIsChallengedOnlyAtAnUnusualHour(hour: Double, challenged: Bool) throws {
        var geo = Self.geo
        geo["81.2.71.20"] = IPIntelligence(
            location: GeoLocation(
                countryCode: "GB", city: "London", latitude: 51.5142, longitude: -0.0931, accuracyRadiusKm: 50),
            network: AutonomousSystem(number: 64_501))
        var h = Self.settled(geo: geo)
        let phone =
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
        let tuesday = Double(6 * 7 + 1) * 1440 + (hour - 14.22) * 60
        let verdict = h.login("alice", at: tuesday, ip: "81.2.71.20", device: "phone", agent: phone)
        #expect(Set(verdict.signals) == (challenged ? [.newDevice, .newASN, .unusualLogin] : [.newDevice, .newASN]))
        #expect((verdict.decision?.action != .allow) == challenged)
    }

    /// At the threshold: bits just below from_bits add nothing, just above add their points.
    @Test func firesFromItsThreshold() throws {
        var probe = Self.settled()
        let bits = try #require(
            probe.login(
                "alice", at: Self.attackMinute, ip: Self.londonISP, device: "evil", verified: false,
                agent: Self.firefoxOnLinux
            ).decision?.reasons.compactMap { reason -> Double? in
                if case .unusualLogin(let model) = reason.details { return model.bits }
                return nil
            }.first)
        for (fromBits, expected) in [(bits + 0.01, nil), (bits - 0.49, nil), (bits - 0.51, 1), (bits - 10, 20)]
            as [(Double, Int?)]
        {
            var config = VigilConfig()
            config.engine.signals.unusualLoginFromBits = fromBits
            var h = Self.settled(config: config)
            let decision = h.login(
                "alice", at: Self.attackMinute, ip: Self.londonISP, device: "evil", verified: false,
                agent: Self.firefoxOnLinux
            ).decision
            #expect(decision?.reasons.first { $0.signal == .unusualLogin }?.points == expected, "from \(fromBits)")
        }
    }

    /// The user's own login at their usual hour, and any login while learning, score nothing from the model.
    @Test func usualLoginsAndLearningScoreNothing() {
        var h = Self.settled()
        let usual = h.login("alice", at: 36 * 1440, agent: Self.chromeOnWindows)
        #expect(!usual.signals.contains(.unusualLogin) && usual.decision?.action == .allow)
        var fresh = EngineHarness(geo: Self.geo)
        let first = fresh.login(
            "bob", at: Self.attackMinute, ip: Self.londonISP, device: "evil", agent: Self.firefoxOnLinux)
        #expect(first.signals == [.firstLogin])
    }

    /// An unverified login teaches the profile nothing: the attacker's hour and browser stay unusual.
    @Test func unverifiedLoginsDoNotTeachTheProfile() {
        var h = Self.settled()
        let before = h.engine.state.users.values.first!.profile
        for attempt in 0..<3 {
            h.login(
                "alice", at: Self.attackMinute + Double(attempt) * 10, ip: Self.londonISP, device: "evil",
                verified: false, agent: Self.firefoxOnLinux)
        }
        #expect(h.engine.state.users.values.first!.profile == before)
    }

    @Test func turnedOffItNeverFires() {
        var config = VigilConfig()
        config.engine.signals.unusualLogin.enabled = false
        var h = Self.settled(config: config)
        let verdict = h.login(
            "alice", at: Self.attackMinute, ip: Self.londonISP, device: "evil", verified: false,
            agent: Self.firefoxOnLinux)
        #expect(!verdict.signals.contains(.unusualLogin) && verdict.decision?.score == 30)
    }
}

/// The profile and a waiting login's features are state: they go through the changelog whole, and a
/// value with bits where none can be is refused, naming the field.
@Suite struct LoginProfileStateTests {
    static let scope = ChangelogScope(inputTopic: "auth-events")

    /// The settled user, then the attacker's login waiting for an MFA success that never comes.
    static func recorded() -> (EngineHarness, [ChangelogRecord]) {
        var h = UnusualLoginSignalTests.settled()
        h.engine.recordsChanges = true
        h.login(
            "alice", at: UnusualLoginSignalTests.attackMinute, ip: UnusualLoginSignalTests.londonISP, device: "evil",
            verified: false, agent: UnusualLoginSignalTests.firefoxOnLinux)
        return (h, h.engine.takeChangelogFlush(stamp: 40, scope: scope))
    }

    @Test func theProfileAndWaitingFeaturesRestoreWhole() throws {
        let (h, records) = Self.recorded()
        var restored = EngineHarness(geo: UnusualLoginSignalTests.geo)
        for record in records {
            _ = try restored.engine.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope)
        }
        let before = try #require(h.engine.state.users.values.first)
        let after = try #require(restored.engine.state.users.values.first)
        #expect(!before.profile.isEmpty && after.profile == before.profile)
        let waiting = try #require(before.pendingLogins.first)
        #expect(waiting.features.browser == .firefox && waiting.features.system == .linux)
        #expect(after.pendingLogins.map(\.features) == before.pendingLogins.map(\.features))
    }

    @Test func aProfileWithBitsOutsideItsCountsIsRefused() throws {
        let (_, records) = Self.recorded()
        let index = try #require(records.firstIndex { try! ChangelogKey(bytes: $0.key).entry.kind == .user })
        var value = try #require(records[index].value)
        #expect(value[0] == 4)
        // The high word of the hour counts starts 24 bytes from the end (then blocks 8, cities 4,
        // browsers 2, systems 1, logins 1); its top byte holds the unused nibble 15.
        value[value.count - 24 + 7] |= 0xF0
        var strict = EngineHarness()
        #expect {
            try strict.engine.applyChangelogRecord(key: records[index].key, value: value, scope: Self.scope)
        } throws: { error in
            "\(error)".contains("user profile hours")
        }
        // A waiting login's hour of the week past 167 likewise: hour 1 · block 2 · city 2 · browser 1 ·
        // system 1, then no remembered MFA success 4, then the profile 33.
        var hour = try #require(records[index].value)
        hour[hour.count - 33 - 4 - 7] = 200
        #expect {
            try strict.engine.applyChangelogRecord(key: records[index].key, value: hour, scope: Self.scope)
        } throws: { error in
            "\(error)".contains("pending login hour of week")
        }
        // An unknown browser family bit likewise.
        var browsers = try #require(records[index].value)
        browsers[browsers.count - 3] |= 0x80
        #expect {
            try strict.engine.applyChangelogRecord(key: records[index].key, value: browsers, scope: Self.scope)
        } throws: { error in
            "\(error)".contains("user profile browsers")
        }
    }
}
