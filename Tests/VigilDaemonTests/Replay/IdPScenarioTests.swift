import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// The canonical scenarios written in an identity provider's own records (Scenarios/<format>/) raise the
/// same alerts, with the same uids, as the canonical files: the adapter loses nothing a detection reads.
/// Push bombing has no Keycloak form (Keycloak has no push factor); in Auth0's, which logs no unanswered
/// push, the scenario's unanswered pushes are denials. Entra's files are batches of three records per
/// message, each push and its answer one sign-in record. The learning logins pass their step-up: the
/// canonical files follow each with a TOTP success, Okta's with `user.authentication.auth_via_mfa`,
/// Auth0's with `gd_auth_succeed`, Entra's sign-ins carry an "OATH verification code" step.
@Suite struct IdPScenarioTests {
    /// Kind, subject and (with `uids`) uid of every alert.
    static func identities(_ alerts: [[String: Any]], uids: Bool = true) -> [String] {
        alerts.map { alert in
            let finding = alert["finding_info"] as? [String: Any]
            let subject = (alert["unmapped"] as? [String: Any])?["vigil_subject"] as? String ?? ""
            let uid = uids ? finding?["uid"] as? String ?? "" : ""
            return "\((finding?["types"] as? [String])?.first ?? "") \(subject) \(uid)"
        }.sorted()
    }

    static let verificationOff = "engine:\n  verification:\n    required: false"

    @Test(arguments: [
        (InputFormat.keycloak, "credential-stuffing"), (.keycloak, "reset-wave"), (.keycloak, "travel"),
        (.auth0, "credential-stuffing"), (.auth0, "reset-wave"), (.auth0, "travel"), (.auth0, "push-bombing"),
        (.okta, "credential-stuffing"), (.okta, "reset-wave"), (.okta, "travel"), (.okta, "push-bombing"),
        (.entra, "credential-stuffing"), (.entra, "reset-wave"), (.entra, "travel"), (.entra, "push-bombing"),
    ])
    func anIdPsRecordsRaiseTheCanonicalScenariosAlerts(format: InputFormat, scenario: String) throws {
        // Keycloak logs no MFA step (an OTP is part of its LOGIN): its feed needs verification off, and
        // the canonical run is made under the same settings.
        let extra = format == .keycloak ? Self.verificationOff : ""
        let canonical = try ScenarioTests.replay("\(scenario).jsonl", extra: extra)
        let file = TestPaths.scenarios.appendingPathComponent("\(format.rawValue)/\(scenario).jsonl")
        let converted = try ScenarioTests.replay(file: file, extra: extra, format: format)
        #expect(!canonical.alerts.isEmpty)
        // An Okta LogEvent names no tenant (one org per feed) and the uid includes the tenant, which the
        // canonical scenarios set: for Okta the kinds and subjects are compared.
        let uids = format != .okta
        #expect(Self.identities(converted.alerts, uids: uids) == Self.identities(canonical.alerts, uids: uids))
        #expect(converted.deadLetters.isEmpty, "\(converted.deadLetters)")
        // The same events were scored: one decision per canonical decision's event.
        let decided = Set(converted.decisions.compactMap { $0["event_id"] as? String })
        #expect(decided == Set(canonical.decisions.compactMap { $0["event_id"] as? String }))
        // What the listener also sends is counted by type and skipped.
        let tokens = try String(contentsOf: file, encoding: .utf8).components(separatedBy: "CODE_TO_TOKEN").count - 1
        #expect(converted.report.stats.skippedRecords == (tokens > 0 ? ["keycloak:CODE_TO_TOKEN": tokens] : [:]))
    }

    /// Without `--format` the first record's shape names the format; the canonical file reads as vigil.
    /// (A file of Security Event Tokens: `SignalScenarioTests`.)
    @Test(arguments: InputFormat.trafficFormats)
    func withoutAFormatTheFirstRecordNamesIt(format: InputFormat) throws {
        let name = format == .vigil ? "credential-stuffing.jsonl" : "\(format.rawValue)/credential-stuffing.jsonl"
        let file = TestPaths.scenarios.appendingPathComponent(name)
        let detected = try ScenarioTests.replay(file: file, format: nil)
        #expect(detected.report.format == format)
        #expect(detected.report.formatDetected)
        #expect(detected.report.summary.contains("\(format.rawValue) (detected from the first record)"))
        let named = try ScenarioTests.replay(file: file, format: format)
        #expect(!named.alerts.isEmpty)
        #expect(Self.identities(detected.alerts) == Self.identities(named.alerts))
        #expect(detected.deadLetters.isEmpty)
    }

    @Test func aFileOfNoOneFormatsShapeIsReadAsVigilsContract() throws {
        let directory = try TestPaths.temporaryDirectory("no-format")
        let file = directory.appendingPathComponent("odd.jsonl")
        try Data("\n  \n{\"hello\":\"world\"}\n".utf8).write(to: file)
        let outcome = try ScenarioTests.replay(file: file, format: nil)
        #expect(outcome.report.format == .vigil)
        #expect(!outcome.report.formatDetected)
        #expect(outcome.deadLetters.count == 1)
    }
}
