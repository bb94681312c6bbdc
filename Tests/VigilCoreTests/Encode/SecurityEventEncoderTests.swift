import Foundation
import Testing
import _VigilMachinery

@testable import VigilCore

/// The Security Event Tokens' claims a verdict calls for (SSF 1.0, CAEP, RISC): which, with what subject,
/// and that the same events give the same bytes. Signing and verification by an independent JOSE library
/// are the daemon's tests (`SecurityEventSignerTests`).
@Suite struct SecurityEventEncoderTests {
    static func config(_ change: (inout SharedSignalSettings) -> Void = { _ in }) -> VigilConfig {
        var config = VigilConfig()
        config.ssf.enabled = true
        config.ssf.issuer = "https://vigil.test"
        config.ssf.audience = ["https://acme.okta.test"]
        change(&config.ssf)
        return config
    }

    /// The signals of one verdict, as claims objects.
    static func signals(_ verdict: RiskEngine.Verdict, config: VigilConfig) -> [OutputMessage] {
        var verdict = verdict
        var stats = PipelineStats()
        var output: [OutputMessage] = []
        [UInt8]().withUnsafeBytes { empty in
            VerdictOutput(config: config).append(&verdict, message: empty, stats: &stats, into: &output)
        }
        let signals = output.filter { $0.stream == .signals }
        #expect(stats.signals.reduce(0, +) == signals.count)
        return signals
    }

    static func claims(_ message: OutputMessage) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(message.payload)) as? [String: Any])
    }

    /// The one event of a SET: its type URI and its members.
    static func event(_ claims: [String: Any]) throws -> (String, [String: Any]) {
        let events = try #require(claims["events"] as? [String: Any])
        #expect(events.count == 1, "exactly one event per token")
        let (uri, body) = try #require(events.first)
        return (uri, try #require(body as? [String: Any]))
    }

    /// An admin's login from a Tor exit (denied by a hard rule), in a fresh engine; `session` names its session.
    static func torAdminLogin(_ user: User, config: VigilConfig, session: InputText? = nil) -> RiskEngine.Verdict {
        var h = EngineHarness(config: config)
        return h.send(
            AuthEvent(
                eventID: "tor-admin", type: .login, time: EngineHarness.at(0), user: user,
                ip: IPAddress(Places.torExit), device: Device(id: "d9"), outcome: .success, sessionID: session))
    }

    static func fatigue(_ h: inout EngineHarness, user: String = "carol@acme.test") -> RiskEngine.Verdict {
        for i in 0..<3 { h.push(user, at: Double(i), result: .denied) }
        return h.push(user, at: 3, result: .approved)
    }

    @Test func offByDefaultNothingIsBuilt() {
        var h = EngineHarness()
        let verdict = Self.fatigue(&h)
        #expect(verdict.alertKinds == [.mfaFatigueAccepted])
        #expect(verdict.subject == nil && verdict.riskLevelChange == nil)
        #expect(Self.signals(verdict, config: VigilConfig()).isEmpty)
    }

    /// An approval after push bombing ends the session and raises the user's risk: two tokens sharing the
    /// alert's uid as txn, each with SSF 1.0's claims and no `sub` or `exp`.
    @Test func anAcceptedPushAfterBombingRevokesTheSessionAndRaisesTheRisk() throws {
        let config = Self.config()
        var h = EngineHarness(config: config)
        let verdict = Self.fatigue(&h)
        let signals = Self.signals(verdict, config: config)
        #expect(signals.map(\.label) == ["session-revoked", "risk-level-change"])
        #expect(signals.allSatisfy { $0.key == "carol@acme.test" })
        let uid = AlertEncoder().findingUID(verdict.alerts[0])
        let seconds = EngineHarness.at(3).microseconds / 1_000_000
        var jtis: Set<String> = []
        for signal in signals {
            let claims = try Self.claims(signal)
            #expect(Set(claims.keys) == ["iss", "jti", "iat", "aud", "txn", "sub_id", "events"])
            #expect(claims["iss"] as? String == "https://vigil.test")
            #expect(claims["aud"] as? String == "https://acme.okta.test")
            #expect(claims["iat"] as? Int64 == seconds)
            #expect(claims["txn"] as? String == uid)
            let jti = try #require(claims["jti"] as? String)
            #expect(UUID(uuidString: jti) != nil)
            jtis.insert(jti)
            let subject = try #require(claims["sub_id"] as? [String: String])
            #expect(subject == ["format": "email", "email": "carol@acme.test"])
            #expect(try Self.event(claims).1["event_timestamp"] as? Int64 == seconds)
        }
        #expect(jtis.count == 2)
        let (revokedURI, revoked) = try Self.event(try Self.claims(signals[0]))
        #expect(revokedURI == "https://schemas.openid.net/secevent/caep/event-type/session-revoked")
        #expect(revoked["initiating_entity"] as? String == "policy")
        #expect((revoked["reason_admin"] as? [String: String])?["en"]?.isEmpty == false)
        let (changeURI, change) = try Self.event(try Self.claims(signals[1]))
        #expect(changeURI == "https://schemas.openid.net/secevent/caep/event-type/risk-level-change")
        #expect(change["principal"] as? String == "USER")
        #expect(change["previous_level"] as? String == "LOW" && change["current_level"] as? String == "HIGH")
        #expect(change["risk_reason"] as? String == "mfa_fatigue_accepted")
    }

    /// The same events give the same bytes (a replay and a restart give the same `jti`); other events of
    /// the same kind give another `jti`.
    @Test func theSameEventsGiveTheSameTokens() {
        let config = Self.config()
        var first = EngineHarness(config: config)
        var second = EngineHarness(config: config)
        let once = Self.signals(Self.fatigue(&first), config: config)
        let again = Self.signals(Self.fatigue(&second), config: config)
        #expect(!once.isEmpty && once == again)
        var other = EngineHarness(config: config)
        let elsewhere = Self.signals(Self.fatigue(&other, user: "dan@acme.test"), config: config)
        #expect(Set(once.map(\.payload)).isDisjoint(with: elsewhere.map(\.payload)))
    }

    /// A raised level holds for `hold`: quiet logins inside it change nothing; the first verdict after it
    /// signals the calmer level, once.
    @Test func aRaisedLevelHoldsThenFallsOnce() throws {
        let config = Self.config { $0.riskLevelHold = .hours(1) }
        var h = EngineHarness(config: config)
        h.establish("carol@acme.test", at: -10)
        #expect(Self.fatigue(&h).riskLevelChange?.current == .high)
        let quiet = h.login("carol@acme.test", at: 30)
        #expect(quiet.decision?.level == .low)
        #expect(quiet.riskLevelChange == nil && Self.signals(quiet, config: config).isEmpty)
        let after = h.login("carol@acme.test", at: 64)
        let change = try #require(after.riskLevelChange)
        #expect(change.previous == .high && change.current == .low)
        #expect(change.reason == "no verdict at high risk for 1h")
        #expect(Self.signals(after, config: config).map(\.label) == ["risk-level-change"])
        #expect(h.login("carol@acme.test", at: 65).riskLevelChange == nil)
    }

    /// Down from high to medium is signalled (it crosses `from`); medium to low is not, but remembered: the
    /// next raise names low as the previous level.
    @Test func movesBelowTheThresholdAreRememberedNotSignalled() throws {
        var config = Self.config { $0.riskLevelHold = .minutes(10) }
        config.engine.signals.newDevice.points = 40  // a new device alone is medium
        var h = EngineHarness(config: config)
        h.establish("carol@acme.test", at: -10)
        #expect(Self.fatigue(&h).riskLevelChange?.current == .high)
        // After the hold, a new device: a medium verdict.
        let medium = h.login("carol@acme.test", at: 20, device: "tablet")
        #expect(medium.decision?.level == .medium)
        #expect(
            medium.riskLevelChange
                == RiskLevelChange(previous: .high, current: .medium, reason: medium.riskLevelChange?.reason ?? ""))
        #expect(h.login("carol@acme.test", at: 21).riskLevelChange == nil)
        for i in 0..<3 { h.push("carol@acme.test", at: 30 + Double(i), result: .denied) }
        let raised = try #require(h.push("carol@acme.test", at: 33, result: .approved).riskLevelChange)
        #expect(raised.previous == .low && raised.current == .high)
    }

    /// `from: high` keeps medium verdicts (a first login) quiet; `from: medium` signals them.
    @Test func theThresholdDecidesWhichMovesAreSignalled() throws {
        let high = Self.config()
        var quiet = EngineHarness(config: high)
        let first = quiet.login("newbie@acme.test", at: 0)
        #expect(first.decision?.level == .medium)
        #expect(first.riskLevelChange == nil)
        let medium = Self.config { $0.riskLevelChangeFrom = .medium }
        var told = EngineHarness(config: medium)
        let change = try #require(told.login("newbie@acme.test", at: 0).riskLevelChange)
        #expect(change.previous == .low && change.current == .medium)
        #expect(change.reason.contains("first_login"))
        let off = Self.config { $0.riskLevelChange = false }
        var silent = EngineHarness(config: off)
        #expect(Self.signals(Self.fatigue(&silent), config: off).map(\.label) == ["session-revoked"])
    }

    @Test func aCompromisedCredentialIsReportedToTheIdP() throws {
        let config = Self.config()
        var h = EngineHarness(config: config)
        h.establish("erin@acme.test")
        let verdict = h.login("erin@acme.test", at: 10, compromised: true)
        let signals = Self.signals(verdict, config: config)
        #expect(signals.map(\.label).contains("credential-compromise"))
        let signal = try #require(signals.first { $0.label == "credential-compromise" })
        let (uri, body) = try Self.event(try Self.claims(signal))
        #expect(uri == "https://schemas.openid.net/secevent/risc/event-type/credential-compromise")
        #expect(body["credential_type"] as? String == "password")
        #expect(try Self.claims(signal)["txn"] as? String == verdict.decision?.decisionID)
        let off = Self.config { $0.credentialCompromise = false }
        var quiet = EngineHarness(config: off)
        quiet.establish("erin@acme.test")
        #expect(
            !Self.signals(quiet.login("erin@acme.test", at: 10, compromised: true), config: off).contains {
                $0.label == "credential-compromise"
            })
    }

    /// Off by default (anyone can request resets); turned on, the alert asks for a new credential.
    @Test func resetAbuseAgainstAnAccountRequiresACredentialChangeOnlyWhenTurnedOn() throws {
        let byDefault = Self.config()
        var quiet = EngineHarness(config: byDefault)
        for i in 0..<4 { _ = quiet.resetRequest("dave", at: Double(i) * 10) }
        let alerted = quiet.resetRequest("dave", at: 45)
        #expect(alerted.alertKinds == [.resetAbuse])
        #expect(Self.signals(alerted, config: byDefault).isEmpty)

        let config = Self.config { $0.credentialChangeRequired = true }
        var h = EngineHarness(config: config)
        for i in 0..<4 { #expect(Self.signals(h.resetRequest("dave", at: Double(i) * 10), config: config).isEmpty) }
        let verdict = h.resetRequest("dave", at: 45)
        let signals = Self.signals(verdict, config: config)
        #expect(signals.map(\.label) == ["account-credential-change-required"])
        let claims = try Self.claims(signals[0])
        #expect(
            try Self.event(claims).0
                == "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required")
        // Not an email address, no subject issuer: an opaque subject.
        #expect(claims["sub_id"] as? [String: String] == ["format": "opaque", "id": "dave"])
    }

    /// A deny revokes the session; with the IdP's session id the subject is complex (user + session).
    @Test func aDenyRevokesTheNamedSession() throws {
        let config = Self.config { $0.subjectIssuer = "https://acme.okta.test" }
        let verdict = Self.torAdminLogin(User(id: "00u1admin", role: .admin), config: config, session: "102sess")
        #expect(verdict.decision?.action == .deny)
        let signals = Self.signals(verdict, config: config)
        #expect(signals.first?.label == "session-revoked")
        let claims = try Self.claims(try #require(signals.first))
        let subject = try #require(claims["sub_id"] as? [String: Any])
        #expect(subject["format"] as? String == "complex")
        #expect(
            subject["user"] as? [String: String] == [
                "format": "iss_sub", "iss": "https://acme.okta.test", "sub": "00u1admin",
            ])
        #expect(subject["session"] as? [String: String] == ["format": "opaque", "id": "102sess"])
        #expect(claims["txn"] as? String == verdict.decision?.decisionID)
    }

    /// An IdP that keys users by an opaque id and gives their address beside it (Okta, Entra): the address
    /// names the user, since that is what such a receiver matches.
    @Test func theIdPsAddressBesideAnOpaqueIDNamesTheUser() throws {
        let config = Self.config()
        let admin = User(id: "00u1admin", role: .admin, email: "root@acme.test")
        let verdict = Self.torAdminLogin(admin, config: config)
        let claims = try Self.claims(try #require(Self.signals(verdict, config: config).first))
        #expect(claims["sub_id"] as? [String: String] == ["format": "email", "email": "root@acme.test"])
        let opaque = Self.config { $0.subjectFormat = .opaque }
        let same = Self.torAdminLogin(admin, config: opaque)
        let forced = try Self.claims(try #require(Self.signals(same, config: opaque).first))
        #expect(forced["sub_id"] as? [String: String] == ["format": "opaque", "id": "00u1admin"])
    }

    @Test func severalAudiencesAreAListNoneLeavesItOut() throws {
        let two = Self.config { $0.audience = ["https://a.test", "https://b.test"] }
        var h = EngineHarness(config: two)
        let claims = try Self.claims(try #require(Self.signals(Self.fatigue(&h), config: two).first))
        #expect(claims["aud"] as? [String] == ["https://a.test", "https://b.test"])
        let none = Self.config { $0.audience = [] }
        var other = EngineHarness(config: none)
        #expect(try Self.claims(try #require(Self.signals(Self.fatigue(&other), config: none).first))["aud"] == nil)
    }

    /// For receivers on earlier drafts (Okta): the subject inside the event too, the same object.
    @Test func theSubjectCanAlsoGoInsideTheEvent() throws {
        let config = Self.config { $0.subjectInEvent = true }
        var h = EngineHarness(config: config)
        let claims = try Self.claims(try #require(Self.signals(Self.fatigue(&h), config: config).first))
        let body = try Self.event(claims).1
        #expect(body["subject"] as? [String: String] == ["format": "email", "email": "carol@acme.test"])
        #expect(claims["sub_id"] as? [String: String] == ["format": "email", "email": "carol@acme.test"])
        var plain = EngineHarness(config: Self.config())
        let without = try Self.claims(try #require(Self.signals(Self.fatigue(&plain), config: Self.config()).first))
        #expect(try Self.event(without).1["subject"] == nil)
    }

    @Test func emailAddressesAndSeconds() {
        #expect(User.isEmailAddress("a@b.c"))
        #expect(!User.isEmailAddress("a@b"))
        #expect(!User.isEmailAddress("a@@b.c") && !User.isEmailAddress("@b.c"))
        #expect(!User.isEmailAddress("a b@c.d") && !User.isEmailAddress("a@.c"))
        #expect(SecurityEventEncoder.seconds(Timestamp(microseconds: 1_999_999)) == 1)
        #expect(SecurityEventEncoder.seconds(Timestamp(microseconds: -1)) == -1)
    }
}
