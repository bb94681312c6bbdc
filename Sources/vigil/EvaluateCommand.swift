import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilDaemon

/// `vigil evaluate`: how a config treats labelled traffic, before it goes live.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Replay labelled events (JSONL) and measure the decisions and alerts against the labels.",
        discussion: """
            Labels are legit, attack:<kind> or noise:<kind> (legitimate traffic that looks unusual: a new phone, \
            business travel). They come from --labels (a JSON object of event ids to a label or to \
            {"label": ..., "campaign": ...}) or, without it, from a top-level "label" (and "campaign") in each \
            event. Unlabelled events are legitimate. Prints per label the share of decisions challenged, per attack \
            kind the share of campaigns alerted, per alert kind its precision, and the shares challenged at each \
            score threshold.
            """)

    @Option(name: .long, help: "The YAML config file.")
    var config: String

    @Option(name: .long, help: "Labels by event id (JSON); without it, labels are read from the events.")
    var labels: String?

    @Option(name: .long, help: "Where the replay's outputs go (decisions.jsonl, alerts.jsonl, ...).")
    var out = "evaluate-out"

    @Option(
        name: .long, help: "Take this RFC 3339 time as now (as vigil replay --now).", transform: ReplayCommand.time)
    var now: Timestamp?

    @Option(
        name: .long, help: "The records' format (as vigil replay --format).", transform: ReplayCommand.format)
    var format: InputFormat?

    @Argument(help: "Events, one JSON object per line.")
    var events: String

    func run() throws {
        let replay = ReplayRunner(
            options: .init(
                configPath: config, inputPath: events, outputDirectory: out, stateIn: nil, stateOut: nil, now: now,
                partitions: 1, format: format),
            logger: Logger(label: "vigil.evaluate"), environment: ProcessInfo.processInfo.environment)
        let runner = EvaluateRunner(replay: replay, labelsPath: labels)
        do {
            let (evaluation, report) = try runner.run()
            print(evaluation.markdown(), terminator: "")
            print("\npolicy version \(report.policyVersion); outputs in \(out)")
        } catch {
            FileHandle.standardError.write(Data("vigil evaluate: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
