import Foundation
import Testing
import VigilTestSupport

/// Identifiers consumers store and deduplicate on, pinned as literals: a fixed input under a fixed
/// config and device key must give these exact `decision_id`s, alert `finding_info.uid` and
/// `policy_version` in every release. A change of derivation fails here; if it is meant, it is a
/// contract change for every consumer (note it in the changelog) and the literals are updated with it.
/// Changed on purpose: `mfa_fatigue_accepted`'s uid (2 December 2026), when the user's failed pushes began
/// to be kept for every horizon (15, not 5): its window now starts at the first of all six denials.
/// `policy_version` (2 December 2026), when `engine.verification` (window, session hold) and
/// `engine.signals.device_browser_changed` joined the settings it digests; again (2 December 2026, later) when
/// `engine.signals.unusual_login` did.
@Suite struct PinnedIdentifiersTests {
    /// A login, a push-bombing burst (six denied pushes, then one approved) and a login after it: two
    /// decisions (MFA events get none) and two alerts.
    static let events: [String] = {
        func line(_ id: String, _ type: String, _ time: String, _ extra: String) -> String {
            #"{"event_id":"\#(id)","type":"\#(type)","time":"2026-03-02T\#(time)Z","tenant":"acme","#
                + #""user":{"id":"pinned"},"ip":"216.160.83.58",\#(extra)}"#
        }
        var lines = [line("pin-login", "login", "09:00:00", #""outcome":"success","device":{"id":"pin-phone"}"#)]
        for index in 0..<6 {
            lines.append(
                line(
                    "pin-push-\(index)", "mfa_challenge", "09:1\(index):00",
                    #""mfa":{"factor":"push","challenge_id":"c\#(index)"}"#))
            lines.append(
                line(
                    "pin-deny-\(index)", "mfa_result", "09:1\(index):30",
                    #""mfa":{"factor":"push","result":"denied","challenge_id":"c\#(index)"}"#))
        }
        lines.append(
            line(
                "pin-approved", "mfa_result", "09:16:24",
                #""mfa":{"factor":"push","result":"approved","challenge_id":"c5"}"#))
        lines.append(line("pin-login-after", "login", "09:17:00", #""outcome":"success","device":{"id":"pin-phone"}"#))
        return lines
    }()

    /// A config without geo databases (their identity, a build epoch MaxMind's test data may renew, is part
    /// of `policy_version`), one threshold changed from its default.
    static let config = "policy:\n  medium_from: 35\n"

    static let expectedPolicyVersion = "3ea20ec490364426"
    static let expectedDecisionIDs = [
        "pin-login": "7723cf89-bafd-8c43-90ce-409231199f98",
        "pin-login-after": "ddc4a5c9-de8f-82e6-8763-4998d4741cde",
    ]
    static let expectedAlertUIDs = [
        "push_bombing": "020b4e08-8e31-81e0-b78b-153769e7fcb0",
        "mfa_fatigue_accepted": "0399274c-c238-8cd5-9c4e-b1c9675bf5fb",
    ]

    @Test func decisionIDsAlertUIDsAndPolicyVersionAreThePinnedOnes() throws {
        let directory = try TestPaths.temporaryDirectory("pinned")
        let config = directory.appendingPathComponent("vigil.yaml")
        try Self.config.write(to: config, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("out")
        let result = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", config.path, "--out", out.path, "-"],
            environment: ["VIGIL_DEVICE_HASH_KEY": DaemonProcess.testDeviceKey],
            stdin: Data((Self.events.joined(separator: "\n") + "\n").utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let decisions = try readJSONLines(out.appendingPathComponent("decisions.jsonl"))
        let alerts = try readJSONLines(out.appendingPathComponent("alerts.jsonl"))
        #expect(decisions.count == Self.expectedDecisionIDs.count)
        #expect(Set(decisions.compactMap { $0["policy_version"] as? String }) == [Self.expectedPolicyVersion])
        let decisionIDs = Dictionary(
            uniqueKeysWithValues: decisions.map {
                ($0["event_id"] as? String ?? "", $0["decision_id"] as? String ?? "")
            })
        #expect(decisionIDs == Self.expectedDecisionIDs)
        let alertUIDs = alerts.map { alert -> (String, String) in
            let finding = alert["finding_info"] as? [String: Any]
            let kind = (finding?["analytic"] as? [String: Any])?["name"] as? String ?? ""
            return (kind, finding?["uid"] as? String ?? "")
        }
        #expect(Dictionary(alertUIDs) { $1 } == Self.expectedAlertUIDs, "\(alertUIDs)")
    }
}
