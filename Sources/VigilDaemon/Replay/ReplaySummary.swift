import VigilCore

extension ReplayRunner.Report {
    /// The table `vigil replay` prints: what went in, what came out, and how fast.
    public var summary: String {
        var rows: [(String, String)] = []
        if formatDetected || format != .vigil {
            rows.append(("format", format.rawValue + (formatDetected ? " (detected from the first record)" : "")))
        }
        rows.append(("events read", "\(stats.eventsRead)"))
        for type in EventType.allCases where stats.count(type) > 0 {
            rows.append(("  \(type.rawValue)", "\(stats.count(type))"))
        }
        rows.append(("late events", "\(stats.lateEvents)"))
        rows.append(("duplicates dropped", "\(stats.duplicateEvents)"))
        rows.append(("decisions", "\(stats.decisions.reduce(0, +))"))
        for action in DecisionAction.allCases {
            rows.append(("  \(action.rawValue)", "\(stats.count(action))"))
        }
        if stats.baselineLogins.contains(where: { $0 > 0 }) {
            rows.append(
                (
                    "baseline logins",
                    BaselineLearning.allCases.map { "\($0.rawValue) \(stats.count($0))" }.joined(separator: ", ")
                ))
        }
        rows.append(("alerts", "\(stats.alerts.reduce(0, +))"))
        for kind in AlertKind.allCases where stats.count(kind) > 0 {
            rows.append(("  \(kind.rawValue)", "\(stats.count(kind))"))
        }
        let signals = stats.signals.reduce(0, +)
        if signals > 0 {
            rows.append(("security event tokens", "\(signals)"))
            for type in SecurityEventType.allCases where stats.count(type) > 0 {
                rows.append(("  \(type.rawValue)", "\(stats.count(type))"))
            }
        }
        rows.append(("dead letters", "\(stats.deadLetterTotal)"))
        for (reason, count) in stats.deadLetters.sorted(by: { $0.key < $1.key }) {
            rows.append(("  \(reason)", "\(count)"))
        }
        if !stats.skippedRecords.isEmpty {
            rows.append(("skipped (event types Vigil does not read)", "\(stats.skippedTotal)"))
            for (type, count) in stats.skippedRecords.sorted(by: { $0.key < $1.key }) {
                rows.append(("  \(type)", "\(count)"))
            }
        }
        rows.append(("users in state", "\(state.users)"))
        rows.append(("sources / email domains", "\(state.sources) / \(state.domains)"))
        rows.append(("state bytes (approximate)", "\(state.approximateBytes)"))
        rows.append(("last \(globalWindow.configString): failed logins", "\(state.global.failures)"))
        rows.append(("  failing users (estimate)", "\(state.global.failingUsers)"))
        rows.append(("  reset requests", "\(state.global.resetRequests)"))
        rows.append(("events per second", "\(Int(eventsPerSecond.rounded()))"))
        rows.append(("policy version", policyVersion))
        let width = rows.map(\.0.count).max() ?? 0
        var text = rows.map { $0.0.padding(to: width) + "  " + $0.1 }.joined(separator: "\n")
        text += "\noutput: " + outputFiles.joined(separator: ", ")
        if let stateIn { text += "\nstate in: " + stateIn.summary }
        if let stateOut { text += "\nstate out: " + stateOut.summary }
        if usedPublicDeviceKey {
            text += "\nnote: no device hash key in the environment; used the public replay key"
        }
        return text
    }
}

extension ReplayRunner.SnapshotTransfer {
    var summary: String {
        let milliseconds = Int((seconds * 1000).rounded())
        return "\(entries) entries, \(bytes) bytes, \(milliseconds) ms"
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
