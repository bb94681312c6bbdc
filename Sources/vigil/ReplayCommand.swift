import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilDaemon

/// `vigil replay`: the engine on recorded traffic, for trying a config change before reloading it.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract:
            "Run recorded events (JSONL) through the engine and write decisions, alerts, dead letters and signals."
    )

    @Option(name: .long, help: "The YAML config file.")
    var config: String

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Output directory for decisions.jsonl, alerts.jsonl, dead-letter.jsonl and signals.jsonl (empty "
                + "without ssf.enabled)."))
    var out = "replay-out"

    @Option(
        name: .long,
        help: "Start from the state in this snapshot (written by --state-out under the same device hash key).")
    var stateIn: String?

    @Option(name: .long, help: "Write the state at the end to this snapshot file (atomically).")
    var stateOut: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Take this RFC 3339 time as now instead of the wall clock at the start: events more than "
                + "input.max_future_skew after it are dead-lettered as future_time.",
            discussion: "For files dated in the future, and for outputs that must not depend on the day of the replay.",
            valueName: "time"),
        transform: Self.time)
    var now: Timestamp?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Run each keyed stage (user, source, domain, campaign) as this many partitions, routed as Kafka's default "
                + "partitioner would: what a deployment with that many partitions per repartition topic decides.",
            discussion: """
                The outputs are the same for every count; the summary's state figures (entries held, bytes) \
                are not: each shard forgets idle entries on its own event time. --state-in and --state-out need 1.
                """,
            valueName: "count"))
    var partitions = 1

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The records' format: \(InputFormat.names); without it, the first record's shape tells.",
            discussion: "vigil is Vigil's own contract (schemas/event.schema.json); the others are identity providers' "
                + "records as they reach Kafka (docs/input-formats.md). A file whose first record has no one "
                + "format's shape, and standard input, are read as vigil.",
            valueName: "format"),
        transform: Self.format)
    var format: InputFormat?

    @Argument(help: "Events, one JSON object per line; '-' reads standard input.")
    var events: String

    /// The exit status when the `--state-in` snapshot is refused (corrupt, unknown version, other key).
    static let stateRefusedStatus: Int32 = 3

    /// `--format`'s value, or a message listing the formats.
    static func format(_ text: String) throws -> InputFormat {
        guard let format = InputFormat(rawValue: text) else {
            throw ValidationError("--format takes one of \(InputFormat.names), not '\(text)'")
        }
        return format
    }

    /// `--now`'s value, or a message saying what it takes.
    static func time(_ text: String) throws -> Timestamp {
        guard let time = Timestamp(rfc3339: text) else {
            throw ValidationError("--now takes an RFC 3339 time such as 2026-03-02T09:00:00Z, not '\(text)'")
        }
        return time
    }

    func run() throws {
        let logger = Logger(label: "vigil.replay")
        let runner = ReplayRunner(
            options: .init(
                configPath: config, inputPath: events, outputDirectory: out, stateIn: stateIn, stateOut: stateOut,
                now: now, partitions: partitions, format: format),
            logger: logger,
            environment: ProcessInfo.processInfo.environment)
        do {
            let report = try runner.run()
            print(report.summary)
        } catch {
            FileHandle.standardError.write(Data("vigil replay: \(error)\n".utf8))
            if case ReplayRunner.ReplayError.stateRefused = error { throw ExitCode(Self.stateRefusedStatus) }
            throw ExitCode.failure
        }
    }
}
