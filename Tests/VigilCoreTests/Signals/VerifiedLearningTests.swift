import Testing

@testable import VigilCore

/// `engine.verification`: the baseline learns a login only when it was allowed or an MFA success of
/// its sign-in verified it.
@Suite struct VerifiedLearningTests {
    /// A login of `user` from Milton (a new country and network for a London user) on `device`.
    static func login(
        _ user: String, at minutes: Double, id: String, device: String = "evil", ip: String = Places.milton,
        session: String? = nil, correlation: String? = nil, compromised: Bool = false
    ) -> AuthEvent {
        AuthEvent(
            eventID: id, type: .login, time: EngineHarness.at(minutes), user: User(id: user), ip: IPAddress(ip),
            device: Device(id: device), outcome: .success, credentialCompromised: compromised,
            sessionID: session.map { InputText($0) }, correlationID: correlation.map { InputText($0) })
    }

    /// An MFA success of `user`'s, from Milton unless `ip` says otherwise.
    static func mfaSuccess(
        _ user: String, at minutes: Double, id: String, session: String? = nil, challenge: String? = nil,
        factor: MFAFactor = .totp, ip: String = Places.milton
    ) -> AuthEvent {
        AuthEvent(
            eventID: id, type: .mfaResult, time: EngineHarness.at(minutes), user: User(id: user),
            ip: IPAddress(ip),
            mfa: MFA(factor: factor, result: .approved, challengeID: challenge.map { InputText($0) }),
            sessionID: session.map { InputText($0) })
    }

    /// A data export from alice's own device at home: it scores nothing by itself.
    static func sensitive(_ user: String, at minutes: Double, id: String, session: String? = nil) -> AuthEvent {
        AuthEvent(
            eventID: id, type: .sensitiveAction, time: EngineHarness.at(minutes), user: User(id: user),
            ip: IPAddress(Places.london), device: Device(id: "d1"), action: .dataExport,
            sessionID: session.map { InputText($0) })
    }

    static let novelty: Set<SignalName> = [.newDevice, .newCountry, .newASN]
    /// Three days after `establish`: far enough that Milton is no impossible travel from London.
    static let later = 3 * 24 * 60.0

    /// The attacker with alice's password logs in three times from a device, country and network she
    /// never used, never passing the step-up: every login is as new as the first.
    @Test func anAttackersLaterLoginsStayUnknown() {
        var h = EngineHarness()
        h.establish("alice")
        for (index, minutes) in [60.0, 75, 90].map({ Self.later + $0 }).enumerated() {
            let verdict = h.send(Self.login("alice", at: minutes, id: "attack-\(index)"))
            #expect(Set(verdict.signals) == Self.novelty, "login \(index)")
            #expect(verdict.decision?.action == .stepUpSoft, "login \(index)")
        }
        #expect(h.engine.state.users.values.first?.seen.count(.device) == 1)
    }

    /// The same logins, each passing its step-up: the second is known.
    @Test func aVerifiedLoginIsLearned() {
        var h = EngineHarness()
        h.establish("alice")
        #expect(
            Set(h.send(Self.login("alice", at: Self.later + 60, id: "trip", session: "s1")).signals) == Self.novelty)
        h.send(Self.mfaSuccess("alice", at: Self.later + 61, id: "trip.mfa", session: "s1"))
        #expect(h.send(Self.login("alice", at: Self.later + 90, id: "again")).signals.isEmpty)
    }

    /// A login the policy allows is learned without MFA (a new device at home scores below a step-up).
    @Test func anAllowedLoginIsLearnedWithoutMFA() {
        var h = EngineHarness()
        h.establish("alice")
        let first = h.login("alice", at: Self.later + 60, device: "d2", verified: false)
        #expect(first.decision?.action == .allow && first.signals == [.newDevice])
        #expect(h.login("alice", at: Self.later + 70, device: "d2", verified: false).signals.isEmpty)
    }

    /// A denied login is never learned, whatever follows it.
    @Test func aDeniedLoginIsNeverLearned() {
        var h = EngineHarness()
        h.establish("svc", role: .service)
        let denied = h.login("svc", at: 30, ip: Places.changchun, device: "x", role: .service)
        #expect(denied.decision?.action == .deny)
        #expect(h.engine.state.users.values.first?.seen.count(.device) == 1)
        #expect(h.engine.state.users.values.first?.pendingLogins.isEmpty == true)
    }

    /// Ids decide which sign-in an MFA success belongs to: another session's success verifies nothing,
    /// its own does; a challenge id equal to the login's correlation id links them too.
    @Test func anMFASuccessVerifiesOnlyItsOwnSignIn() {
        var h = EngineHarness()
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "a", session: "s1"))
        h.send(Self.mfaSuccess("alice", at: Self.later + 61, id: "other", session: "s2"))
        #expect(
            Set(h.send(Self.login("alice", at: Self.later + 62, id: "b", session: "s3", correlation: "tx-3")).signals)
                == Self.novelty)
        h.send(Self.mfaSuccess("alice", at: Self.later + 63, id: "b.mfa", challenge: "tx-3"))
        let user = h.engine.state.users.values.first!
        #expect(user.seen.count(.device) == 2)
        // "a" still waits: only "b" was verified.
        #expect(user.pendingLogins.map(\.time) == [EngineHarness.at(Self.later + 60)])
    }

    /// Feeds reorder a sign-in's steps: an MFA success that arrives before its login (same session)
    /// verifies it on arrival.
    @Test func anMFASuccessBeforeItsLoginVerifiesIt() {
        var h = EngineHarness()
        h.establish("alice")
        h.send(Self.mfaSuccess("alice", at: Self.later + 60, id: "early.mfa", session: "s9"))
        #expect(h.engine.state.users.values.first?.verifiedLinks.count == 1)
        h.send(Self.login("alice", at: Self.later + 60.5, id: "late-login", session: "s9"))
        #expect(h.send(Self.login("alice", at: Self.later + 90, id: "again")).signals.isEmpty)
    }

    /// Without ids, the user's next MFA success from the login's place within the window verifies the
    /// latest login before it, and one just before the login (feeds reorder) verifies it on arrival;
    /// one after the window does not.
    @Test(arguments: [(9.99, true), (10.01, false), (-0.5, true), (-10.01, false)])
    func withoutIdsTheNextSuccessWithinTheWindowVerifies(after minutes: Double, verifies: Bool) {
        var h = EngineHarness()
        h.establish("alice")
        if minutes < 0 { h.send(Self.mfaSuccess("alice", at: Self.later + 60 + minutes, id: "m")) }
        h.send(Self.login("alice", at: Self.later + 60, id: "a"))
        if minutes >= 0 { h.send(Self.mfaSuccess("alice", at: Self.later + 60 + minutes, id: "m")) }
        let again = h.send(Self.login("alice", at: Self.later + 90, id: "again"))
        #expect(again.signals.isEmpty == verifies)
    }

    /// Without ids to compare, an MFA success verifies only a login from its own address, /64, network
    /// or device: the user passing MFA at home does not verify the attacker's login from elsewhere, even
    /// the latest one, and placeholder session ids ("unknown", as Okta writes) link nothing.
    @Test(arguments: [nil, "unknown", "N/A", "Undefined", "00000000-0000-0000-0000-000000000000"])
    func anMFASuccessFromElsewhereVerifiesNothingWithoutIds(session: String?) {
        var h = EngineHarness()
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "attacker", session: session))
        #expect(h.login("alice", at: Self.later + 61, ip: Places.london, verified: false).decision?.action == .allow)
        h.send(Self.mfaSuccess("alice", at: Self.later + 62, id: "m", session: session, ip: Places.london))
        let user = h.engine.state.users.values.first!
        #expect(user.pendingLogins.count == 1)
        // It answered her own login, allowed and learned already: nothing to remember.
        #expect(user.verifiedLinks.isEmpty)
        // Milton is still new to her (and too far from London in half an hour).
        #expect(Set(h.send(Self.login("alice", at: Self.later + 90, id: "again")).signals).isSuperset(of: Self.novelty))
    }

    /// A sensitive action without ids, right after an unverified login without ids, is of that session.
    @Test func aSensitiveActionWithoutIdsInheritsTheWaitingLogin() throws {
        var h = EngineHarness()
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "a"))
        let action = try #require(h.send(Self.sensitive("alice", at: Self.later + 61, id: "x")).decision)
        #expect(action.reasons.last?.signal == .unverifiedSession && action.score == 55)
    }

    /// The window is the setting's: at 30 minutes a success 20 minutes later still verifies.
    @Test func theWindowIsConfigurable() {
        var config = VigilConfig()
        config.engine.verification.window = .minutes(30)
        var h = EngineHarness(config: config)
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "a"))
        h.send(Self.mfaSuccess("alice", at: Self.later + 80, id: "m"))
        #expect(h.send(Self.login("alice", at: Self.later + 90, id: "again")).signals.isEmpty)
    }

    /// A push approved after repeated denials (MFA fatigue) is the attacker's way in: it verifies nothing,
    /// whether or not the fatigue and push-bombing alerts are on, and the login it would have verified
    /// never is, not even by a later success.
    @Test(arguments: [true, false])
    func aFatiguedApprovalVerifiesNothing(alertsOn: Bool) {
        var config = VigilConfig()
        config.engine.alerts.mfaFatigueAccepted.enabled = alertsOn
        config.engine.alerts.pushBombing.enabled = alertsOn
        var h = EngineHarness(config: config)
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "a"))
        for index in 0..<3 { h.push("alice", at: Self.later + 60.5 + Double(index) * 0.5, result: .denied) }
        let approval = h.send(Self.mfaSuccess("alice", at: Self.later + 62.5, id: "yes", factor: .push))
        #expect(approval.alertKinds.contains(.mfaFatigueAccepted) == alertsOn)
        #expect(h.engine.state.users.values.first?.pendingLogins.isEmpty == true)
        h.send(Self.mfaSuccess("alice", at: Self.later + 65, id: "later"))
        #expect(Set(h.send(Self.login("alice", at: Self.later + 90, id: "again")).signals) == Self.novelty)
    }

    /// A sensitive action in a session whose login waits for its MFA success scores what the login
    /// scored, after the window too; after the success or in another session it is scored on its own.
    @Test func aSensitiveActionInAnUnverifiedSessionScoresAsTheLogin() throws {
        var h = EngineHarness()
        h.establish("alice")
        let login = try #require(h.send(Self.login("alice", at: Self.later + 60, id: "a", session: "s1")).decision)
        #expect(login.score == 55)
        let action = try #require(
            h.send(Self.sensitive("alice", at: Self.later + 62, id: "x1", session: "s1")).decision)
        let reason = try #require(action.reasons.last)
        #expect(reason.signal == .unverifiedSession)
        #expect(action.score == login.score)
        #expect(reason.points == login.score - action.reasons.dropLast().reduce(0) { $0 + $1.points })
        #expect(reason.detail == "the session's login 2m ago scored 55 and is not verified by MFA yet")

        #expect(
            h.send(Self.sensitive("alice", at: Self.later + 63, id: "x2", session: "s2")).signals.contains(
                .unverifiedSession) == false)
        // Waiting the window out does not clear the session: its actions keep the login's score.
        #expect(
            h.send(Self.sensitive("alice", at: Self.later + 70.01, id: "x3", session: "s1")).signals.contains(
                .unverifiedSession))

        h.send(Self.login("alice", at: Self.later + 80, id: "b", session: "s4"))
        h.send(Self.mfaSuccess("alice", at: Self.later + 81, id: "b.mfa", session: "s4"))
        #expect(
            h.send(Self.sensitive("alice", at: Self.later + 82, id: "x4", session: "s4")).signals.contains(
                .unverifiedSession) == false)
    }

    /// With verification off (feeds without MFA results) a stepped-up login is learned at once.
    @Test func withVerificationOffEveryLoginThatIsNotDeniedIsLearned() {
        var config = VigilConfig()
        config.engine.verification.required = false
        var h = EngineHarness(config: config)
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "a"))
        #expect(h.send(Self.login("alice", at: Self.later + 90, id: "again")).signals.isEmpty)
    }

    /// A login waiting for its MFA success survives a changelog restore (state format version 3) and is
    /// verified by a success after it.
    @Test func aPendingLoginSurvivesARestore() throws {
        var h = EngineHarness()
        h.engine.recordsChanges = true
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "a", session: "s1"))
        // An MFA success of another sign-in, waiting for its login.
        h.send(Self.mfaSuccess("alice", at: Self.later + 60.5, id: "early", session: "s2"))
        let scope = ChangelogScope(inputTopic: "auth-events")
        let records = h.engine.takeChangelogFlush(stamp: 1, scope: scope)
        var restored = EngineHarness()
        for record in records {
            #expect(try restored.engine.applyChangelogRecord(key: record.key, value: record.value, scope: scope))
        }
        let user = try #require(restored.engine.state.users.values.first)
        #expect(user.pendingLogins == h.engine.state.users.values.first?.pendingLogins)
        #expect(user.verifiedLinks == h.engine.state.users.values.first?.verifiedLinks)
        #expect(user.pendingLogins.count == 1 && user.verifiedLinks.count == 1)
        restored.send(Self.mfaSuccess("alice", at: Self.later + 61, id: "a.mfa", session: "s1"))
        #expect(restored.send(Self.login("alice", at: Self.later + 90, id: "again")).signals.isEmpty)
    }

    /// Every successful login on time counts one outcome for its baseline, and an MFA success the logins
    /// it verified: what `vigil_baseline_logins_total{outcome}` adds up.
    @Test func eachVerdictSaysWhatItDidToTheBaseline() {
        func counts(_ verdict: RiskEngine.Verdict) -> [BaselineLearning: Int] {
            var counts: [BaselineLearning: Int] = [:]
            for outcome in BaselineLearning.allCases where verdict.baseline[outcome.index] > 0 {
                counts[outcome] = Int(verdict.baseline[outcome.index])
            }
            return counts
        }
        var h = EngineHarness()
        h.establish("alice")
        #expect(counts(h.login("alice", at: 5, verified: false)) == [.learned: 1])
        #expect(counts(h.send(Self.login("alice", at: Self.later + 60, id: "a", session: "s1"))) == [.pending: 1])
        #expect(counts(h.send(Self.login("alice", at: Self.later + 61, id: "b", session: "s1"))) == [.pending: 1])
        #expect(counts(h.send(Self.mfaSuccess("alice", at: Self.later + 62, id: "m", session: "s1"))) == [.verified: 2])
        #expect(counts(h.send(Self.mfaSuccess("alice", at: Self.later + 63, id: "m2", session: "s1"))) == [:])
        var service = EngineHarness()
        service.establish("svc", role: .service)
        #expect(
            counts(service.login("svc", at: 30, ip: Places.changchun, device: "x", role: .service)) == [.denied: 1])
    }

    /// A device id learned from Chrome and presented by a script is a copied cookie: new, and
    /// `device_browser_changed`, together medium. The same id from Chrome again is known; a managed
    /// device's id (the machine's) may come from any browser; a device learned without a user agent is
    /// known from every browser.
    @Test func aDeviceIdFromAnotherBrowserIsACopiedCookie() throws {
        var h = EngineHarness()
        let chrome = BrowserFamilyTests.chrome
        for index in 0..<3 { h.login("alice", at: Double(index), agent: chrome) }
        let replay = try #require(h.login("alice", at: 10, verified: false, agent: "python-requests/2.31").decision)
        #expect(replay.reasons.map(\.signal) == [.newDevice, .deviceBrowserChanged])
        #expect(replay.reasons.last?.detail == "device id known from Chrome, now presented by a script or HTTP library")
        #expect(replay.action == .stepUpSoft)
        #expect(h.login("alice", at: 11, verified: false, agent: chrome).signals.isEmpty)

        var managed = EngineHarness()
        for index in 0..<3 { managed.login("bob", at: Double(index), agent: chrome, managed: true) }
        #expect(managed.login("bob", at: 10, agent: "Mozilla/5.0 Firefox/133.0", managed: true).signals.isEmpty)

        // An identity provider's client id is every browser's.
        var client = EngineHarness()
        for index in 0..<3 { client.login("dan", at: Double(index), device: "client:portal", agent: chrome) }
        #expect(client.login("dan", at: 10, device: "client:portal", agent: "curl/8.5.0").signals.isEmpty)

        // Without a user agent, a device known from a browser is known, and learning it refreshes that
        // browser's entry instead of adding one every browser would match.
        #expect(h.login("alice", at: 12, verified: false).signals.isEmpty)
        #expect(h.engine.state.users.values.first?.seen.count(.device) == 1)

        // Learned before browsers were told apart: known from Chrome, and from then on bound to it.
        var learnedBefore = EngineHarness()
        learnedBefore.establish("carol")
        #expect(learnedBefore.login("carol", at: 10, verified: false, agent: chrome).signals.isEmpty)
        #expect(learnedBefore.engine.state.users.values.first?.seen.count(.device) == 1)
        let copied = learnedBefore.login("carol", at: 11, verified: false, agent: "curl/8.5.0")
        #expect(copied.signals == [.newDevice, .deviceBrowserChanged])
    }

    /// An unverified login's session keeps its risk for `session_hold` (12 h), not longer; an MFA success of
    /// that session after the window closes it (the user stepped up in it after all) without teaching the
    /// baseline anything.
    @Test func anUnverifiedSessionLastsTheHoldOrUntilItsMFASuccess() {
        var h = EngineHarness()
        h.establish("alice")
        h.send(Self.login("alice", at: Self.later + 60, id: "a", session: "s1"))
        h.send(Self.login("alice", at: Self.later + 61, id: "b", session: "s2"))
        func floored(_ minutes: Double, _ session: String, _ id: String) -> Bool {
            h.send(Self.sensitive("alice", at: Self.later + minutes, id: id, session: session)).signals.contains(
                .unverifiedSession)
        }
        #expect(floored(61 + 29, "s2", "x0"))
        h.send(Self.mfaSuccess("alice", at: Self.later + 61 + 30, id: "late", session: "s2"))
        #expect(!floored(61 + 31, "s2", "x3"))
        // Closed, not verified: Milton is still new.
        #expect(h.engine.state.users.values.first?.seen.count(.device) == 1)
        #expect(floored(60 + 12 * 60 - 1, "s1", "x1"))
        #expect(!floored(60 + 12 * 60 + 1, "s1", "x2"))
    }

    /// Sessions held past the window never crowd out a fresh login, even riskier ones: beyond the cap
    /// one of them goes, and the fresh login is still verified by its MFA success.
    @Test func heldSessionsLeaveRoomForAFreshLogin() {
        var h = EngineHarness()
        h.establish("alice")
        for index in 0..<4 {
            let login = Self.login(
                "alice", at: Self.later + Double(index), id: "old-\(index)", session: "s\(index)", compromised: true)
            #expect(h.send(login).decision.map { $0.score > 55 && $0.action != .deny } == true)
        }
        h.send(Self.login("alice", at: Self.later + 60, id: "fresh", session: "fresh"))
        #expect(h.engine.state.users.values.first?.pendingLogins.map(\.score).sorted().first == 55)
        h.send(Self.mfaSuccess("alice", at: Self.later + 61, id: "fresh.mfa", session: "fresh"))
        #expect(h.send(Self.login("alice", at: Self.later + 90, id: "again")).signals.isEmpty)
    }
}
