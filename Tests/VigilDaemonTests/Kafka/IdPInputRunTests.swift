import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// `vigil run` reading an identity provider's records from a topic of their own (`input.formats`) next to
/// a topic of Vigil's contract: the Keycloak credential-stuffing scenario raises its alert, a broken
/// Keycloak record is dead-lettered naming the format and field, and the types Vigil does not read are
/// counted, not dead-lettered.
@Suite(.serialized) struct IdPInputRunTests {
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
}
