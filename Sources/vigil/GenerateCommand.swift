import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon
import VigilWorkload

/// `vigil generate`: seeded, labelled synthetic traffic, for trying `vigil evaluate` and for our own
/// detection figures.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write seeded synthetic traffic (JSONL, Vigil's format) and its labels for vigil evaluate.",
        discussion: """
            Users live in the cities of MaxMind's test City database (the example config's), log in on a working-day \
            rhythm, travel, use VPNs, mistype passwords and replace phones. Every attack kind is mixed in: push \
            bombing, impossible travel, reset waves, credential stuffing, and attackers who adapt (a password used \
            again and again without MFA, a login new in small ways at night, slow push fatigue, a replayed device \
            cookie, a hijacked password reset). The same seed gives the same bytes.
            """)

    @Option(name: .long, help: "Simulated users.")
    var users = 400

    @Option(name: .long, help: "Days of traffic.")
    var days = 30

    @Option(name: .long, help: "Events per user and day (on average).")
    var eventsPerUserDay = 12.0

    @Option(name: .long, help: "Share of steps that start an attack sequence.")
    var attackRate = 0.0005

    @Option(name: .long, help: "Share of successful logins from a user's new phone.")
    var newPhoneRate = 0.003

    @Option(name: .long, help: "Seed: the same seed, the same traffic.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Events file (JSONL).")
    var out = "events.jsonl"

    @Option(name: .long, help: "Labels file (JSON: event id to label and campaign) for vigil evaluate --labels.")
    var labels = "labels.json"

    func validate() throws {
        guard (1...10_000_000).contains(users), (1...3_650).contains(days), (0.01...10_000).contains(eventsPerUserDay)
        else {
            throw ValidationError(
                "--users takes 1 to 10,000,000, --days 1 to 3,650, --events-per-user-day 0.01 to 10,000")
        }
        for (option, path) in [("--out", out), ("--labels", labels)] where OutputPaths.canonical(path) == nil {
            throw ValidationError("\(option) \(path): its folder does not exist")
        }
        // Compared resolved: `x.json` and `./x.json` are one file, and the labels would replace the events.
        guard OutputPaths.canonical(out) != OutputPaths.canonical(labels) else {
            throw ValidationError("--out and --labels must be different files")
        }
        guard (0...1).contains(attackRate), (0...1).contains(newPhoneRate) else {
            throw ValidationError("--attack-rate and --new-phone-rate are shares between 0 and 1")
        }
    }

    func run() throws {
        var configuration = WorkloadConfiguration()
        configuration.seed = seed
        configuration.users = users
        configuration.meanGap = EventDuration(microseconds: Int64(86_400_000_000 / (Double(users) * eventsPerUserDay)))
        configuration.attackRate = attackRate
        // A person resets their password every few months, not every few days (the demo's mix stresses
        // the reset detectors): 0.3% of events, so the post-reset step-up does not dominate the figures.
        configuration.mix = EventMix(login: 0.72, mfa: 0.2, passwordReset: 0.003, sensitiveAction: 0.05)
        configuration.newPhoneRate = newPhoneRate
        configuration.attackWeights = Dictionary(uniqueKeysWithValues: AttackKind.allCases.map { ($0, 1.0) })
        let end = configuration.start + .days(Int64(days))
        var traffic = TrafficGenerator(configuration: configuration, pool: .maxMindTestCity)
        var events: [UInt8] = []
        var labelled: [String: Any] = [:]
        var counts: [String: Int] = [:]
        while true {
            let event = traffic.nextEvent()
            guard event.time < end else { break }
            events += event.bytes
            events.append(UInt8(ascii: "\n"))
            counts[event.label, default: 0] += 1
            if let campaign = event.campaign {
                labelled[event.eventID] = ["label": event.label, "campaign": campaign]
            } else if event.label != "legit" {
                labelled[event.eventID] = event.label
            }
        }
        do {
            try OutputPaths.write(events, to: out)
            let labelBytes = try JSONSerialization.data(withJSONObject: labelled, options: [.sortedKeys])
            try OutputPaths.write(Array(labelBytes), to: labels)
        } catch {
            FileHandle.standardError.write(Data("vigil generate: \(error)\n".utf8))
            throw ExitCode.failure
        }
        // Beside an output on standard output, the summary goes to standard error.
        let streamed = [out, labels].contains { OutputPaths.standardStream($0) == 1 }
        var summary =
            "\(counts.values.reduce(0, +)) events of \(users) users over \(days) days to \(out), labels to \(labels)\n"
        for (label, count) in counts.sorted(by: { $0.key < $1.key }) { summary += "  \(label): \(count)\n" }
        if streamed {
            FileHandle.standardError.write(Data(summary.utf8))
        } else {
            print(summary, terminator: "")
        }
    }
}
