import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// The attack scenarios with `ssf.enabled`: `vigil replay` writes the claims of the Security Event Tokens
/// each verdict calls for to `signals.jsonl`, as the daemon signs them; the same input gives the same
/// tokens at any partition count.
@Suite struct SignalScenarioTests {
    static let ssf = """
        ssf:
          enabled: true
          issuer: "https://vigil.test"
          audience: ["https://acme.okta.test"]
          signing_keys: [{path: "unused-by-replay.pem", algorithm: RS256}]
        """

    static func signals(_ scenario: String) throws -> [[String: Any]] {
        let outcome = try ScenarioTests.replay(scenario, anonymousDatabase: true, extra: ssf)
        return try readJSONLines(outcome.directory.appendingPathComponent("signals.jsonl"))
    }

    /// The one event of each token: (type, subject id or email, members).
    static func events(_ tokens: [[String: Any]]) -> [(type: String, subject: String, body: [String: Any])] {
        tokens.map { token in
            let (uri, body) = (token["events"] as! [String: Any]).first!
            var subject = token["sub_id"] as! [String: Any]
            if let user = subject["user"] as? [String: Any] { subject = user }
            let name = subject["email"] as? String ?? subject["sub"] as? String ?? subject["id"] as? String ?? "?"
            return (String(uri.split(separator: "/").last!), name, body as! [String: Any])
        }
    }

    /// Push bombing (a high-severity alert) raises carol's risk; the push she then accepts revokes her
    /// session, her risk already high.
    @Test func pushBombingThenAcceptRaisesTheRiskAndRevokesTheSession() throws {
        let events = Self.events(try Self.signals("push-bombing.jsonl"))
        #expect(events.map(\.type) == ["risk-level-change", "session-revoked"])
        #expect(events.allSatisfy { $0.subject == "carol" })
        #expect(events[0].body["previous_level"] as? String == "LOW")
        #expect(events[0].body["current_level"] as? String == "HIGH")
        #expect(events[0].body["risk_reason"] as? String == "push_bombing")
    }

    @Test func aTakeoverAfterAResetRevokesTheSession() throws {
        let tokens = try Self.signals("reset-wave.jsonl")
        let events = Self.events(tokens)
        let revoked = try #require(events.firstIndex { $0.type == "session-revoked" })
        #expect(events[revoked].subject == "dave")
        let outcome = try ScenarioTests.replay("reset-wave.jsonl", anonymousDatabase: true, extra: Self.ssf)
        let index = try #require(outcome.alertKinds.firstIndex(of: "takeover_after_reset"))
        let takeover = outcome.alerts[index]
        let uid = (takeover["finding_info"] as? [String: Any])?["uid"] as? String
        #expect(tokens[revoked]["txn"] as? String == uid, "the token names the finding it comes from")
    }

    @Test func aCompromisedCredentialIsSignalled() throws {
        let events = Self.events(try Self.signals("roles.jsonl"))
        #expect(events.contains { $0.type == "credential-compromise" && $0.subject == "svc-backup" })
        // The Tor admin's deny ends its session.
        #expect(events.contains { $0.type == "session-revoked" })
    }

    /// Replays of the same input in two processes give byte-identical tokens (the same `jti`s).
    @Test func theTokensAreTheSameOnEveryReplay() throws {
        let first = try ScenarioTests.replay("push-bombing.jsonl", anonymousDatabase: true, extra: Self.ssf)
        let second = try ScenarioTests.replay("push-bombing.jsonl", anonymousDatabase: true, extra: Self.ssf)
        let one = try Data(contentsOf: first.directory.appendingPathComponent("signals.jsonl"))
        let two = try Data(contentsOf: second.directory.appendingPathComponent("signals.jsonl"))
        #expect(!one.isEmpty && one == two)
        #expect(first.report.summary.contains("security event tokens"))
    }

    /// A file of an IdP's tokens replays without `--format`: its compact JWS form names it; a password change
    /// is read, a session revocation skipped by type.
    @Test func anIdPsTokensAreReadAsTheSsfFormat() throws {
        let caep = "https://schemas.openid.net/secevent/caep/event-type/"
        let tokens = [
            #"{"jti":"a","iat":1772442000,"sub_id":{"format":"opaque","id":"u1"},"events":{"\#(caep)credential-change":{"credential_type":"password","change_type":"update"}}}"#,
            #"{"jti":"b","iat":1772442060,"sub_id":{"format":"opaque","id":"u1"},"events":{"\#(caep)session-revoked":{}}}"#,
        ].map(SecurityEventTokens.compact)
        let directory = try TestPaths.temporaryDirectory("ssf-replay")
        let file = directory.appendingPathComponent("tokens.jsonl")
        try tokens.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        let outcome = try ScenarioTests.replay(
            file: file, now: Timestamp(rfc3339: "2026-03-03T00:00:00Z"), format: nil)
        #expect(outcome.report.format == .ssf && outcome.report.formatDetected)
        #expect(outcome.report.stats.count(.passwordResetComplete) == 1)
        #expect(outcome.report.stats.skippedRecords == ["ssf:session-revoked": 1])
        #expect(outcome.deadLetters.isEmpty)
    }

    /// Without `ssf.enabled` the file is there and empty.
    @Test func offTheFileIsEmpty() throws {
        let outcome = try ScenarioTests.replay("push-bombing.jsonl", anonymousDatabase: true)
        #expect(try readJSONLines(outcome.directory.appendingPathComponent("signals.jsonl")).isEmpty)
    }
}
