import Foundation
import Logging
import VigilCore

/// `vigil evaluate`: replays labelled events under a config (exactly as `vigil replay` would) and
/// measures the outputs against the labels (`Evaluation`).
public struct EvaluateRunner {
    /// The replay the evaluation measures (one partition, no state files).
    let replay: ReplayRunner
    /// The labels file; without it, labels are read from the events (`label`, `campaign`).
    let labelsPath: String?

    /// An evaluation of what `replay` decides against the labels in `labelsPath` (or in the events).
    public init(replay: ReplayRunner, labelsPath: String?) {
        self.replay = replay
        self.labelsPath = labelsPath
    }

    /// Why the outputs could not be read back (never expected of a replay that succeeded).
    struct OutputError: Error, CustomStringConvertible {
        var description: String
    }

    /// The evaluation and the replay's own report.
    public func run() throws -> (Evaluation, ReplayRunner.Report) {
        var labels = EvaluationLabels()
        if let path = labelsPath {
            try labels.read(file: path)
        } else {
            try readInlineLabels(into: &labels)
        }
        let report = try replay.run()
        let directory = replay.options.outputDirectory
        let decisions = try Self.lines(directory + "/decisions.jsonl").map(Self.decision)
        let alerts = try Self.lines(directory + "/alerts.jsonl").map(Self.alert)
        // The events measured: the labelled ones, and the unlabelled ones with a decision (the others,
        // MFA steps and resets of ordinary users, have nothing to measure). Dead-lettered events were
        // never decided: they are left out, and counted.
        let deadLettered = Set(
            try Self.lines(directory + "/dead-letter.jsonl").compactMap { $0["event_id"] as? String })
        var eventIDs = Set(labels.byEventID.keys).subtracting(deadLettered)
        eventIDs.formUnion(decisions.map(\.eventID))
        var evaluation = Evaluation()
        evaluation.deadLetteredLabels = labels.byEventID.keys.filter(deadLettered.contains).count
        evaluation.add(eventIDs: eventIDs.sorted(), decisions: decisions, alerts: alerts, labels: labels)
        return (evaluation, report)
    }

    private func readInlineLabels(into labels: inout EvaluationLabels) throws {
        let path = replay.options.inputPath
        // Read twice (here, then by the replay): a pipe or standard input would be empty the second time.
        let type = (try? FileManager.default.attributesOfItem(atPath: path))?[.type] as? FileAttributeType
        guard path != "-", type == .typeRegular else {
            throw EvaluationLabels.LabelError(
                description: "labels inside the events need a regular file, not standard input or a pipe: pass --labels"
            )
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationLabels.LabelError(description: "cannot read \(path)")
        }
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            try labels.read(eventLine: Data(line))
        }
        guard !labels.byEventID.isEmpty else {
            throw EvaluationLabels.LabelError(
                description:
                    "\(path) has no event with a top-level \"label\" (an identity provider's records carry none): "
                    + "pass --labels")
        }
    }

    private static func lines(_ path: String) throws -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OutputError(description: "cannot read the replay's output \(path)")
        }
        return try data.split(separator: UInt8(ascii: "\n")).map { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw OutputError(description: "\(path) holds a line that is not a JSON object")
            }
            return object
        }
    }

    private static func decision(_ object: [String: Any]) throws -> Evaluation.DecisionLine {
        guard let eventID = object["event_id"] as? String, let eventType = object["event_type"] as? String,
            let action = object["action"] as? String,
            let risk = object["risk"] as? [String: Any], let score = risk["score"] as? Int,
            let level = risk["level"] as? String,
            let reasons = risk["reasons"] as? [[String: Any]]
        else { throw OutputError(description: "a decision without event_id, event_type, action or risk") }
        return Evaluation.DecisionLine(
            eventID: eventID, eventType: eventType, action: action, level: level, score: score,
            signals: reasons.compactMap { $0["signal"] as? String })
    }

    private static func alert(_ object: [String: Any]) throws -> Evaluation.AlertLine {
        guard let unmapped = object["unmapped"] as? [String: Any], let kind = unmapped["vigil_kind"] as? String,
            let finding = object["finding_info"] as? [String: Any],
            let related = finding["related_events"] as? [[String: Any]]
        else { throw OutputError(description: "an alert without unmapped.vigil_kind or finding_info.related_events") }
        return Evaluation.AlertLine(kind: kind, eventIDs: related.compactMap { $0["uid"] as? String })
    }
}
