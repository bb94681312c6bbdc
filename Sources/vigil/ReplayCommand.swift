import ArgumentParser
import Foundation
import Logging
import VigilDaemon

/// `vigil replay`: the engine on recorded traffic, for trying a config change before reloading it.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Run recorded events (JSONL) through the engine and write decisions, alerts and dead letters."
    )

    @Option(name: .long, help: "The YAML config file.")
    var config: String

    @Option(name: .long, help: "Output directory for decisions.jsonl, alerts.jsonl and dead-letter.jsonl.")
    var out = "replay-out"

    @Argument(help: "Events, one JSON object per line; '-' reads standard input.")
    var events: String

    func run() throws {
        let logger = Logger(label: "vigil.replay")
        let runner = ReplayRunner(
            options: .init(configPath: config, inputPath: events, outputDirectory: out), logger: logger,
            environment: ProcessInfo.processInfo.environment)
        do {
            let report = try runner.run()
            print(report.summary)
        } catch {
            FileHandle.standardError.write(Data("vigil replay: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
