import Foundation

/// How well a configuration separates attacks from legitimate traffic on labelled, recorded events:
/// per label the share of decisions challenged and of events in an alert, per attack kind the share of
/// campaigns alerted, per alert kind its precision (the share of its alerts about an attack), and a
/// sweep of the score from which a decision would be challenged. Built from a replay's outputs, so it
/// measures exactly what `vigil replay` decides.
public struct Evaluation: Sendable {
    /// Counts of one label's decisions and events.
    struct LabelFigures: Sendable, Equatable {
        var decisions = 0
        /// Decisions at medium or high risk: what the score says, whatever the role's policy does with it
        /// (a service account is allowed at medium, a contractor stepped up at low).
        var risky = 0
        var challenged = 0
        var denied = 0
        /// Events of the label (with a decision or not) named in an alert's related events.
        var alerted = 0
        var events = 0
    }

    /// One attack kind's campaigns: how many, how many had an event in an alert, how many had a
    /// decision challenged.
    struct CampaignFigures: Sendable, Equatable {
        var campaigns = 0
        var alerted = 0
        var challenged = 0
        /// Alerted, or a decision challenged: caught one way or the other.
        var caught = 0
    }

    /// One alert kind's alerts and how many of them name an attack event.
    struct AlertFigures: Sendable, Equatable {
        var alerts = 0
        var aboutAttacks = 0
    }

    /// Rows are keyed by label text; legitimate decisions are split into `legit (learning)` (the
    /// user's first logins, `first_login`), `legit (established)` (the logins of users past it) and
    /// `legit (sensitive actions)`, which roles may step up whatever the score (`sensitive_action_minimum`).
    private(set) var labels: [String: LabelFigures] = [:]
    private(set) var campaigns: [String: CampaignFigures] = [:]
    private(set) var alerts: [String: AlertFigures] = [:]
    /// Scores of attack decisions and of established legitimate logins, for the sweep.
    private(set) var attackScores: [Int] = []
    /// Labelled events the replay dead-lettered: never decided, so not counted anywhere else.
    var deadLetteredLabels = 0
    private(set) var establishedScores: [Int] = []

    static let established = "legit (established)"
    static let learning = "legit (learning)"
    static let sensitiveActions = "legit (sensitive actions)"

    init() {}

    /// One decision as `vigil replay` wrote it (`decisions.jsonl`).
    struct DecisionLine: Sendable, Equatable {
        var eventID: String
        /// `login` or `sensitive_action`.
        var eventType: String
        var action: String
        /// `low`, `medium` or `high`.
        var level: String
        var score: Int
        var signals: [String]

        init(
            eventID: String, eventType: String, action: String, level: String, score: Int, signals: [String]
        ) {
            (self.eventID, self.eventType, self.action, self.level, self.score, self.signals) =
                (eventID, eventType, action, level, score, signals)
        }

        /// Any step-up or a deny.
        var isChallenged: Bool { action != "allow" }
    }

    /// One alert: its kind (`finding_info.types` first entry, the Vigil kind) and related event ids.
    struct AlertLine: Sendable, Equatable {
        var kind: String
        var eventIDs: [String]

        init(kind: String, eventIDs: [String]) {
            (self.kind, self.eventIDs) = (kind, eventIDs)
        }
    }

    /// Adds every event, decision and alert of one replay.
    mutating func add(
        eventIDs: [String], decisions: [DecisionLine], alerts alertLines: [AlertLine], labels: EvaluationLabels
    ) {
        var inAlert = Set<String>()
        for alert in alertLines {
            inAlert.formUnion(alert.eventIDs)
            alerts[alert.kind, default: AlertFigures()].alerts += 1
            if alert.eventIDs.contains(where: { labels[$0].label.isAttack }) {
                alerts[alert.kind, default: AlertFigures()].aboutAttacks += 1
            }
        }
        let decided = Dictionary(decisions.map { ($0.eventID, $0) }, uniquingKeysWith: { first, _ in first })
        var campaignState: [String: (kind: String, alerted: Bool, challenged: Bool)] = [:]
        for eventID in eventIDs {
            let labelled = labels[eventID]
            let decision = decided[eventID]
            var row = labelled.label.description
            if labelled.label == .legitimate, let decision {
                row =
                    decision.eventType != "login"
                    ? Self.sensitiveActions
                    : decision.signals.contains("first_login") ? Self.learning : Self.established
            }
            addRow(row, decision: decision, alerted: inAlert.contains(eventID))
            if case .attack(let kind) = labelled.label {
                if let decision { attackScores.append(decision.score) }
                let campaign = labelled.campaign ?? eventID
                var state = campaignState["\(kind)/\(campaign)"] ?? (kind, false, false)
                state.alerted = state.alerted || inAlert.contains(eventID)
                state.challenged = state.challenged || decision?.isChallenged == true
                campaignState["\(kind)/\(campaign)"] = state
            } else if row == Self.established, let decision {
                establishedScores.append(decision.score)
            }
        }
        for state in campaignState.values {
            campaigns[state.kind, default: CampaignFigures()].campaigns += 1
            if state.alerted { campaigns[state.kind, default: CampaignFigures()].alerted += 1 }
            if state.challenged { campaigns[state.kind, default: CampaignFigures()].challenged += 1 }
            if state.alerted || state.challenged { campaigns[state.kind, default: CampaignFigures()].caught += 1 }
        }
    }

    private mutating func addRow(_ row: String, decision: DecisionLine?, alerted: Bool) {
        var figures = labels[row] ?? LabelFigures()
        figures.events += 1
        if alerted { figures.alerted += 1 }
        if let decision {
            figures.decisions += 1
            if decision.level != "low" { figures.risky += 1 }
            if decision.isChallenged { figures.challenged += 1 }
            if decision.action == "deny" { figures.denied += 1 }
        }
        labels[row] = figures
    }

    /// The share of `scores` at or above `threshold`.
    static func share(_ scores: [Int], atLeast threshold: Int) -> Double? {
        scores.isEmpty ? nil : Double(scores.filter { $0 >= threshold }.count) / Double(scores.count)
    }

    // MARK: - Report

    /// The tables as Markdown, for a terminal, README or BENCHMARKS.md.
    public func markdown(thresholds: [Int] = Array(stride(from: 10, through: 100, by: 10))) -> String {
        var out = ""
        func percent(_ part: Int, _ whole: Int) -> String {
            whole == 0 ? "–" : String(format: "%.1f%% (%d)", 100 * Double(part) / Double(whole), part)
        }
        out += "| label | events | decisions | medium or high | challenged | denied | events in an alert |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|\n"
        for (row, figures) in labels.sorted(by: { Self.rowOrder($0.key) < Self.rowOrder($1.key) }) {
            out +=
                "| \(row) | \(figures.events) | \(figures.decisions) | \(percent(figures.risky, figures.decisions)) | "
            out +=
                "\(percent(figures.challenged, figures.decisions)) | \(percent(figures.denied, figures.decisions)) | "
            out += "\(percent(figures.alerted, figures.events)) |\n"
        }
        out += "\n| attack | campaigns | alerted | any decision challenged | alerted or challenged |\n"
        out += "|---|---:|---:|---:|---:|\n"
        for (kind, figures) in campaigns.sorted(by: { $0.key < $1.key }) {
            out += "| \(kind) | \(figures.campaigns) | \(percent(figures.alerted, figures.campaigns)) | "
            out +=
                "\(percent(figures.challenged, figures.campaigns)) | \(percent(figures.caught, figures.campaigns)) |\n"
        }
        out += "\n| alert | alerts | about an attack (precision) |\n|---|---:|---:|\n"
        for (kind, figures) in alerts.sorted(by: { $0.key < $1.key }) {
            out += "| \(kind) | \(figures.alerts) | \(percent(figures.aboutAttacks, figures.alerts)) |\n"
        }
        out += "\n| challenged from score | attack decisions challenged | established legit challenged |\n"
        out += "|---:|---:|---:|\n"
        for threshold in thresholds {
            let attack = Self.share(attackScores, atLeast: threshold).map { String(format: "%.1f%%", 100 * $0) } ?? "–"
            let legit =
                Self.share(establishedScores, atLeast: threshold).map { String(format: "%.1f%%", 100 * $0) } ?? "–"
            out += "| \(threshold) | \(attack) | \(legit) |\n"
        }
        if deadLetteredLabels > 0 {
            out +=
                "\n\(deadLetteredLabels) labelled events were dead-lettered (see dead-letter.jsonl) and are not counted.\n"
        }
        return out
    }

    /// Attacks first, then noise, then legitimate traffic; alphabetical within each.
    private static func rowOrder(_ row: String) -> (Int, String) {
        if row.hasPrefix("attack:") { return (0, row) }
        if row.hasPrefix("noise:") { return (1, row) }
        return (2, row)
    }
}
