import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// The evaluation's arithmetic on a handful of decisions and alerts whose figures are counted by hand,
/// and its labels as users write them.
@Suite struct EvaluationTests {
    static func decision(
        _ id: String, _ action: String, level: String = "low", score: Int = 0, type: String = "login",
        signals: [String] = []
    ) -> Evaluation.DecisionLine {
        Evaluation.DecisionLine(
            eventID: id, eventType: type, action: action, level: level, score: score, signals: signals)
    }

    static func labels(_ json: String) throws -> EvaluationLabels {
        let directory = try TestPaths.temporaryDirectory("labels")
        let file = directory.appendingPathComponent("labels.json")
        try json.write(to: file, atomically: true, encoding: .utf8)
        var labels = EvaluationLabels()
        try labels.read(file: file.path)
        return labels
    }

    /// Two campaigns of one kind (one alerted, one only challenged), a legitimate user's learning and
    /// established logins, a noisy login, a sensitive action, and an alert that names only legitimate events.
    @Test func figuresAreCountedPerLabelCampaignAndAlert() throws {
        let labels = try Self.labels(
            """
            {"a1": {"label": "attack:stealth", "campaign": 1}, "a2": {"label": "attack:stealth", "campaign": 1},
             "b1": {"label": "attack:stealth", "campaign": "2"}, "n1": "noise:new_phone", "l0": "legit"}
            """)
        let decisions = [
            Self.decision("a1", "step_up_soft", level: "medium", score: 45),
            Self.decision("a2", "allow", score: 20),
            Self.decision("b1", "deny", level: "high", score: 90),
            Self.decision("n1", "step_up_soft", level: "medium", score: 35),
            Self.decision("l0", "step_up_soft", level: "medium", score: 40, signals: ["first_login"]),
            Self.decision("l1", "allow", score: 0), Self.decision("l2", "step_up_soft", score: 10),
            Self.decision("s1", "step_up_hard", score: 0, type: "sensitive_action"),
        ]
        let alerts = [
            Evaluation.AlertLine(kind: "impossible_travel", eventIDs: ["l1", "a2"]),
            Evaluation.AlertLine(kind: "impossible_travel", eventIDs: ["l1", "l2"]),
        ]
        var evaluation = Evaluation()
        evaluation.add(
            eventIDs: ["a1", "a2", "b1", "n1", "l0", "l1", "l2", "s1"], decisions: decisions, alerts: alerts,
            labels: labels)

        let attack = try #require(evaluation.labels["attack:stealth"])
        #expect(attack.events == 3 && attack.decisions == 3 && attack.risky == 2 && attack.challenged == 2)
        #expect(attack.denied == 1 && attack.alerted == 1)
        let established = try #require(evaluation.labels[Evaluation.established])
        // l1 and l2: l2 stepped up by policy at low risk, both named in an alert.
        #expect(established.decisions == 2 && established.risky == 0 && established.challenged == 1)
        #expect(established.alerted == 2)
        #expect(evaluation.labels[Evaluation.learning]?.decisions == 1)
        #expect(evaluation.labels[Evaluation.sensitiveActions]?.challenged == 1)
        #expect(evaluation.labels["noise:new_phone"]?.risky == 1)

        let campaigns = try #require(evaluation.campaigns["stealth"])
        #expect(campaigns == Evaluation.CampaignFigures(campaigns: 2, alerted: 1, challenged: 2, caught: 2))
        #expect(evaluation.alerts["impossible_travel"] == Evaluation.AlertFigures(alerts: 2, aboutAttacks: 1))

        #expect(evaluation.attackScores.sorted() == [20, 45, 90] && evaluation.establishedScores.sorted() == [0, 10])
        let table = evaluation.markdown(thresholds: [10, 50])
        #expect(
            table.contains("| attack:stealth | 3 | 3 | 66.7% (2) | 66.7% (2) | 33.3% (1) | 33.3% (1) |"), "\(table)")
        #expect(table.contains("| stealth | 2 | 50.0% (1) | 100.0% (2) | 100.0% (2) |"), "\(table)")
        #expect(table.contains("| impossible_travel | 2 | 50.0% (1) |"), "\(table)")
        #expect(table.contains("| 10 | 100.0% | 50.0% |") && table.contains("| 50 | 33.3% | 0.0% |"), "\(table)")
    }

    @Test(arguments: [
        (#"[1, 2]"#, "is not one JSON object"), (#"{"e1": "attacker"}"#, "e1 is labelled 'attacker'"),
        (#"{"e1": 7}"#, "neither a string nor"), (#"{"e1": "attack:"}"#, "expected legit, attack:<kind>"),
        // A kind becomes a table row: nothing in it may shape the table.
        (#"{"e1": "attack:a|b"}"#, "expected legit, attack:<kind>"), (#"{"e1": "noise:New"}"#, "a kind is lower-case"),
    ])
    func badLabelsAreRefusedWithTheirReason(json: String, reason: String) {
        #expect {
            _ = try Self.labels(json)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }

    @Test func labelsInsideTheEventsAreRead() throws {
        var labels = EvaluationLabels()
        try labels.read(eventLine: Data(#"{"event_id":"x1","type":"login","label":"attack:repeat","campaign":3}"#.utf8))
        try labels.read(eventLine: Data(#"{"event_id":"x2","type":"login"}"#.utf8))
        try labels.read(eventLine: Data("not json".utf8))
        #expect(labels["x1"] == LabelledEvent(label: .attack("repeat"), campaign: "3"))
        #expect(labels["x2"].label == .legitimate && labels.byEventID.count == 1)
        #expect(throws: EvaluationLabels.LabelError.self) {
            try labels.read(eventLine: Data(#"{"event_id":"x3","label":"bad"}"#.utf8))
        }
    }
}

/// `vigil generate` then `vigil evaluate` as a user runs them: the binaries, a small seeded workload,
/// the tables on standard output.
@Suite struct EvaluateCommandTests {
    @Test func aGeneratedWorkloadIsEvaluated() throws {
        let directory = try TestPaths.temporaryDirectory("evaluate")
        let events = directory.appendingPathComponent("events.jsonl").path
        let labels = directory.appendingPathComponent("labels.json").path
        let generated = try ChildProcess.run(
            TestPaths.vigilBinary,
            ["generate", "--users", "60", "--days", "3", "--attack-rate", "0.004", "--out", events, "--labels", labels])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(generated.stdout.contains(" events of 60 users over 3 days"))
        // The same seed gives the same bytes.
        let again = directory.appendingPathComponent("again.jsonl").path
        let repeated = try ChildProcess.run(
            TestPaths.vigilBinary,
            [
                "generate", "--users", "60", "--days", "3", "--attack-rate", "0.004", "--out", again, "--labels",
                labels + ".again",
            ])
        #expect(repeated.status == 0)
        #expect(FileManager.default.contents(atPath: events) == FileManager.default.contents(atPath: again))
        #expect(FileManager.default.contents(atPath: labels) == FileManager.default.contents(atPath: labels + ".again"))

        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: true)
        let result = try ChildProcess.run(
            TestPaths.vigilBinary,
            [
                "evaluate", "--config", config.path, "--labels", labels, "--out",
                directory.appendingPathComponent("out").path, events,
            ])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("| label | events | decisions | medium or high | challenged |"))
        #expect(result.stdout.contains("| legit (established) |") && result.stdout.contains("| attack:"))
        #expect(result.stdout.contains("| challenged from score |"))
        // Three days of attacks raise alerts: the alert table has rows, each with its precision.
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let header = try #require(lines.firstIndex(of: "| alert | alerts | about an attack (precision) |"))
        #expect(lines[header + 2].hasPrefix("| ") && lines[header + 2].hasSuffix(") |"), "\(result.stdout)")

        // Labels inside the events need a regular file that has some.
        let unlabelled = try ChildProcess.run(TestPaths.vigilBinary, ["evaluate", "--config", config.path, events])
        #expect(unlabelled.status == 1 && unlabelled.stderr.contains("has no event with a top-level"))

        let missing = try ChildProcess.run(
            TestPaths.vigilBinary, ["evaluate", "--config", config.path, "--labels", labels + ".none", events])
        #expect(missing.status == 1 && missing.stderr.contains("cannot read the labels file"))
    }
}
