import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// `Examples/events.jsonl` through `Examples/vigil.yaml`, as the README's replay command runs it: every
/// scenario the file was written for shows (a newcomer's first look at what Vigil decides), and the
/// outputs the README prints as real ones are.
@Suite struct ExampleTrafficTests {
    struct Outputs {
        var decisions: [[String: Any]]
        var alerts: [[String: Any]]
        var lines: [String: [String]]

        func decision(_ eventID: String) -> [String: Any]? {
            decisions.first { $0["event_id"] as? String == eventID }
        }

        func reasons(_ decision: [String: Any]) -> [String] {
            ((decision["risk"] as? [String: Any])?["reasons"] as? [[String: Any]] ?? []).compactMap {
                $0["signal"] as? String
            }
        }

        func alertKinds(subjectUser user: String? = nil) -> Set<String> {
            Set(
                alerts.compactMap { alert -> String? in
                    let info = alert["finding_info"] as? [String: Any]
                    if let user, !(alert["message"] as? String ?? "").hasPrefix(user + " ") { return nil }
                    return (info?["types"] as? [String])?.first
                })
        }
    }

    static func replayExample() throws -> Outputs {
        let directory = try TestPaths.temporaryDirectory("example-traffic")
        let out = directory.appendingPathComponent("out")
        let root = TestPaths.packageRoot
        let runner = ReplayRunner(
            options: .init(
                configPath: root.appendingPathComponent("Examples/vigil.yaml").path,
                inputPath: root.appendingPathComponent("Examples/events.jsonl").path, outputDirectory: out.path),
            logger: testLogger, environment: [:])
        _ = try runner.run()
        var lines: [String: [String]] = [:]
        for name in ["decisions", "alerts", "dead-letter"] {
            let text = try String(contentsOf: out.appendingPathComponent("\(name).jsonl"), encoding: .utf8)
            lines[name] = text.split(separator: "\n").map(String.init)
        }
        func objects(_ name: String) throws -> [[String: Any]] {
            try lines[name, default: []].map {
                try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
            }
        }
        return Outputs(decisions: try objects("decisions"), alerts: try objects("alerts"), lines: lines)
    }

    @Test func everyScenarioShows() throws {
        let outputs = try Self.replayExample()
        // Travel: a trip by road is allowed once the baseline is learned; Milton to Changchun in 30 minutes is not.
        #expect(outputs.decision("tr-alice-inland")?["action"] as? String == "allow")
        #expect(outputs.alertKinds(subjectUser: "bob").contains("impossible_travel"))
        // Push bombing, then the approval it was after.
        #expect(outputs.alertKinds(subjectUser: "carol") == ["push_bombing", "mfa_fatigue_accepted"])
        // A reset wave from one address, and the takeover of an account it reset.
        #expect(outputs.alertKinds().isSuperset(of: ["reset_abuse", "credential_stuffing"]))
        #expect(outputs.alertKinds(subjectUser: "dave") == ["takeover_after_reset"])
        // Roles: an admin from Tor is denied, a finance user's payment change steps up by rule alone.
        #expect(outputs.decision("ro-admin-tor")?["action"] as? String == "deny")
        let payment = try #require(outputs.decision("ro-fin-export"))
        #expect(payment["rules"] as? [String] == ["sensitive_action_minimum_for_role"])
        #expect(outputs.reasons(payment).isEmpty)
        #expect(outputs.alertKinds(subjectUser: "service account svc-backup") == ["service_account_high_risk"])
        // The baseline logins are learned (each verified by its user's MFA success), and none of them
        // comes from an address the example's Anonymous-IP test database lists.
        let baseline = outputs.decisions.filter {
            ($0["event_id"] as? String ?? "").range(of: #"^(tr|pb|rw|ro)-[a-z]+-[0-9]$"#, options: .regularExpression)
                != nil
        }
        #expect(baseline.count == 24)
        #expect(baseline.allSatisfy { outputs.reasons($0).allSatisfy { $0 == "first_login" } })
        #expect(outputs.lines["dead-letter"]?.count == 3)
    }

    /// The README prints a decision, a dead letter and a push-bombing alert as real output of its replay
    /// command: they are, byte for byte (the alert as JSON, the README indents it).
    @Test func theREADMEsExamplesAreRealOutput() throws {
        let outputs = try Self.replayExample()
        let readme = try String(
            contentsOf: TestPaths.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let readmeLines = readme.split(separator: "\n").map(String.init)
        let decision = try #require(readmeLines.first { $0.hasPrefix(#"{"schema":"vigil.decision/1""#) })
        #expect(outputs.lines["decisions"]?.contains(decision) == true, "\(decision)")
        // The README's command names the file relative to the checkout; this run, by its absolute path.
        let deadLetter = try #require(readmeLines.first { $0.hasPrefix(#"{"schema":"vigil.dead_letter/1""#) })
            .replacingOccurrences(
                of: #""file":"Examples/events.jsonl""#,
                with: #""file":"\#(TestPaths.packageRoot.appendingPathComponent("Examples/events.jsonl").path)""#)
        #expect(outputs.lines["dead-letter"]?.contains(deadLetter) == true, "\(deadLetter)")

        let marker = "<summary>A push-bombing alert from the README's replay command</summary>"
        let afterMarker = try #require(readme.range(of: marker)).upperBound
        let open = try #require(readme.range(of: "```json\n", range: afterMarker..<readme.endIndex)).upperBound
        let close = try #require(readme.range(of: "\n```", range: open..<readme.endIndex)).lowerBound
        let printed = try #require(
            JSONSerialization.jsonObject(with: Data(readme[open..<close].utf8)) as? NSDictionary)
        let pushBombing = try #require(
            outputs.alerts.first {
                ((($0["finding_info"] as? [String: Any])?["types"] as? [String])?.first) == "push_bombing"
            })
        #expect(printed == NSDictionary(dictionary: pushBombing))
    }
}
