import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// `vigil run` reading an identity provider's records from a topic of their own (`input.formats`) next to
/// a topic of Vigil's contract: the Keycloak credential-stuffing scenario raises its alert, a broken
/// Keycloak record is dead-lettered naming the format and field, and the types Vigil does not read are
/// counted, not dead-lettered. Entra's batches (`{"records": [...]}`) are read record by record: a broken
/// record in a batch is dead-lettered alone while the batch's other records are decided. An IdP's Security
/// Event Tokens on a topic of their own (`ssf`) add to its logins: a password change arms the post-reset window.
@Suite(.serialized) struct IdPInputRunTests {
    @Test func anIdPsPasswordChangeTokenArmsThePostResetWindow() async throws {
        let fixture = try KafkaFixture(
            name: "ssf-input",
            extra: KafkaFixture.exactVerdicts + "\ninput:\n  formats: {idp.signals: ssf}",
            inputTopics: ["auth.events", "idp.signals"])
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let baseline = (0..<3).map {
            EventLines.login(id: "frank-\($0)", time: "2026-03-02T09:0\($0):00Z", user: "frank", device: "laptop")
        }
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: baseline) }
        try await fixture.waitForDecisions(3, from: daemon, "frank's baseline")
        let claims =
            #"{"iss":"https://idp.example.org","jti":"pw-1","iat":1772442600,"sub_id":{"format":"opaque","id":"frank"},"events":{"https://schemas.openid.net/secevent/caep/event-type/credential-change":{"credential_type":"password","change_type":"update","event_timestamp":1772442600}}}"#
        let token = SecurityEventTokens.compact(claims)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "idp.signals", lines: [token]) }
        try await waitUntil("the password change read", timeout: .seconds(60)) {
            try daemon.requireRunning()
            let metrics = try LoopbackHTTP(port: fixture.metricsPort).get("/metrics").body
            return MetricsText.series("vigil_events_total", in: metrics)[#"type="password_reset_complete""#] == 1
        }
        // 09:15, five minutes after the change at 09:10: from the known laptop, yet within the window.
        let after = EventLines.login(id: "frank-after", time: "2026-03-02T09:15:00Z", user: "frank", device: "laptop")
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: [after]) }
        try await fixture.waitForDecisions(4, from: daemon, "the login after the change")
        let decision = try #require(
            try fixture.decisions().first { $0.payload["event_id"] as? String == "frank-after" })
        let reasons = ((decision.payload["risk"] as? [String: Any])?["reasons"] as? [[String: Any]] ?? []).compactMap {
            $0["signal"] as? String
        }
        #expect(reasons.contains("recent_password_reset"), "\(decision.payload)")
        #expect(decision.payload["action"] as? String != "allow")
        #expect(try fixture.deadLetters().isEmpty)
        #expect(try daemon.stop() == 0, "\(daemon.log)")
    }

    @Test func keycloakRecordsOnTheirOwnTopicAreDecidedAndAlerted() async throws {
        let fixture = try KafkaFixture(
            name: "keycloak-run",
            extra: KafkaFixture.exactVerdicts + "\ninput:\n  formats: {keycloak.events: keycloak}",
            inputTopics: ["auth.events", "keycloak.events"])
        let scenario = try String(
            contentsOf: TestPaths.scenarios.appendingPathComponent("keycloak/credential-stuffing.jsonl"),
            encoding: .utf8
        )
        .split(separator: "\n").map(String.init)
        let broken = #"{"id":"kc-broken","time":1772442000000,"type":"LOGIN","realmId":"acme","userId":"u-9"}"#
        let canonical = EventLines.login(id: "canonical-1", time: "2026-03-02T09:00:00Z", user: "erin")
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "keycloak.events", lines: scenario + [broken])
            try Kcat.produce(fixture.brokers, topic: "auth.events", lines: [canonical])
        }
        let failures = scenario.filter { $0.contains("LOGIN_ERROR") }.count
        var alerts: [Kcat.Record] = []
        var decisions: [Kcat.Record] = []
        var deadLetters: [Kcat.Record] = []
        try await waitUntil("the stuffing alert, the canonical decision and the dead letter", timeout: .seconds(90)) {
            try daemon.requireRunning()
            alerts = try fixture.alerts()
            decisions = try fixture.decisions()
            deadLetters = try fixture.deadLetters()
            return !alerts.isEmpty && decisions.contains { $0.payload["event_id"] as? String == "canonical-1" }
                && !deadLetters.isEmpty
        }
        #expect(try daemon.stop() == 0, "\(daemon.log)")
        let kinds = alerts.map { (($0.payload["finding_info"] as? [String: Any])?["types"] as? [String])?.first }
        #expect(kinds == ["credential_stuffing"])
        #expect(deadLetters.count == 1)
        #expect(deadLetters.first?.payload["reason"] as? String == "missing_field:keycloak.ipAddress")
        #expect(deadLetters.first?.headers["vigil-source-topic"] == "keycloak.events")
        // Only logins that succeeded are decided: the Keycloak scenario has failures only.
        #expect(decisions.count == 1 + scenario.filter { $0.contains(#""type":"LOGIN""#) }.count)
        #expect(failures > 0)
    }

    @Test func entraBatchesAreReadRecordByRecordAndABrokenRecordIsDeadLetteredAlone() async throws {
        let fixture = try KafkaFixture(
            name: "entra-run",
            extra: KafkaFixture.exactVerdicts + "\ninput:\n  formats: {entra.signins: entra}",
            inputTopics: ["entra.signins"])
        let scenario = try String(
            contentsOf: TestPaths.scenarios.appendingPathComponent("entra/push-bombing.jsonl"), encoding: .utf8
        )
        .split(separator: "\n").map(String.init)
        // A later batch: a sign-in, a record without its user, another sign-in.
        let login = { (id: String, minute: Int) in
            #"{"time":"2026-03-02T10:0\#(minute):00.0000000Z","category":"SignInLogs","tenantId":"acme","#
                + #""properties":{"id":"\#(id)","createdDateTime":"2026-03-02T10:0\#(minute):00.0000000Z","#
                + #""userId":"erin","userPrincipalName":"erin@example.org","ipAddress":"81.2.69.142","#
                + #""status":{"errorCode":0},"authenticationDetails":[{"authenticationMethod":"Password","succeeded":true}]}}"#
        }
        let broken =
            #"{"time":"2026-03-02T10:01:00.0000000Z","category":"SignInLogs","properties":{"id":"entra-broken","#
            + #""createdDateTime":"2026-03-02T10:01:00.0000000Z","ipAddress":"81.2.69.142","status":{"errorCode":0}}}"#
        let batch =
            #"{"records":["# + [login("entra-before", 0), broken, login("entra-after", 2)].joined(separator: ",") + "]}"
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        // One partition, in order (an Event Hub partition keeps its order): the approval after the denials
        // (mfa_fatigue_accepted) needs the user's order, which records spread over partitions would not keep.
        try await blocking {
            try Kcat.produce(
                fixture.brokers, topic: "entra.signins", partition: 0,
                values: (scenario + [batch]).map { Array($0.utf8) })
        }
        var alerts: [Kcat.Record] = []
        var decisions: [Kcat.Record] = []
        var deadLetters: [Kcat.Record] = []
        try await waitUntil("both alerts, both decisions of the last batch and its dead letter", timeout: .seconds(90))
        {
            try daemon.requireRunning()
            alerts = try fixture.alerts()
            decisions = try fixture.decisions()
            deadLetters = try fixture.deadLetters()
            let decided = Set(decisions.compactMap { $0.payload["event_id"] as? String })
            return alerts.count >= 2 && decided.isSuperset(of: ["entra-before", "entra-after"]) && !deadLetters.isEmpty
        }
        #expect(try daemon.stop() == 0, "\(daemon.log)")
        let kinds = alerts.compactMap { (($0.payload["finding_info"] as? [String: Any])?["types"] as? [String])?.first }
        #expect(kinds.sorted() == ["mfa_fatigue_accepted", "push_bombing"])
        #expect(deadLetters.count == 1)
        let letter = try #require(deadLetters.first)
        #expect(letter.payload["reason"] as? String == "missing_field:entra.properties.userId")
        #expect(letter.payload["payload"] as? String == broken)
        #expect((letter.payload["origin"] as? [String: Any])?["record"] as? Int == 1)
        #expect(letter.payload["event_id"] as? String == "entra-broken")
        #expect(letter.headers["vigil-source-topic"] == "entra.signins")
        // The scenario's four logins and the batch's two: no event decided twice, none lost.
        let decided = decisions.compactMap { $0.payload["event_id"] as? String }
        #expect(decided.count == Set(decided).count)
        #expect(
            Set(decided) == ["pb-base-0", "pb-base-1", "pb-base-2", "pb-login-after", "entra-before", "entra-after"])
    }
}
