import ArgumentParser
import Foundation
import Logging
import VigilCore
import VigilDaemon

/// `vigil demo`: the daemon end to end on generated traffic, without Kafka or any setup.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the daemon against an in-process Kafka with generated traffic and print its outputs."
    )

    @Option(name: .long, help: "The YAML config file.")
    var config = "Examples/vigil.yaml"

    @Option(name: .long, help: "Simulated users.")
    var users = 200

    @Option(name: .long, help: "Events to generate (attacks are injected among them).")
    var events = 3000

    @Option(
        name: .long,
        help:
            """
            Partitions per topic, the input's and the stages' alike. The verdicts do not depend on it: the stages \
            re-key every event by user, source and email domain.
            """
    )
    var partitions = 2

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The traffic's format: \(InputFormat.trafficFormats.map(\.rawValue).joined(separator: ", ")). keycloak sends "
                + "Keycloak user events (no MFA events: push bombing "
                + "cannot show), auth0 Auth0 log stream records, okta Okta System Log events.",
            valueName: "format"),
        transform: DemoCommand.trafficFormat)
    var format = InputFormat.vigil

    /// `--format`'s value: a format login traffic comes in.
    static func trafficFormat(_ text: String) throws -> InputFormat {
        let format = try ReplayCommand.format(text)
        guard InputFormat.trafficFormats.contains(format) else {
            throw ValidationError(
                "--format \(text) is no traffic format: Security Event Tokens only add to an IdP's login events")
        }
        return format
    }

    @Option(name: .long, help: "Log level for the daemon's own logs (stderr).")
    var logLevel = "warning"

    func run() async throws {
        var settings = LoggingSettings()
        settings.level = logLevel
        LoggingSystem.bootstrap(VigilLogging.makeFactory(settings: settings))
        var options = DemoRunner.Options()
        options.configPath = config
        options.users = users
        options.events = events
        options.partitions = partitions
        options.format = format
        do {
            let summary = try await DemoRunner.run(
                options: options, environment: ProcessInfo.processInfo.environment, logger: Logger(label: "vigil.demo"),
                output: { print($0) })
            print("\n" + summary.text)
        } catch {
            FileHandle.standardError.write(Data("vigil demo: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}
