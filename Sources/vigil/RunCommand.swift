import ArgumentParser
import Foundation
import Logging
import Metrics
import VigilDaemon

/// `vigil run`: the daemon. Exit 0 after SIGTERM/SIGINT, 1 on a fatal error (bad config, missing
/// device key, fatal Kafka error), so a supervisor restarts it, and 3 when a shutdown left processed
/// inputs uncommitted (`Daemon.shutdownIncompleteStatus`).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Consume IdP events from Kafka and produce decisions, alerts and dead letters."
    )

    @Option(name: .long, help: "The YAML config file.")
    var config: String

    func run() async throws {
        // Read once: the logging settings come from it, then the daemon runs with it.
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: config)
        } catch {
            for problem in error.problems { FileHandle.standardError.write(Data("\(config): \(problem)\n".utf8)) }
            throw ExitCode.failure
        }
        LoggingSystem.bootstrap(VigilLogging.makeFactory(settings: loaded.config.logging))
        let logger = Logger(label: "vigil")
        // Metrics that libraries record through the global system land on /metrics beside the daemon's.
        let options = Daemon.Options()
        MetricsSystem.bootstrap(MetricsServer.metricsFactory(registry: options.metricsRegistry))
        do {
            try await Daemon.run(
                loaded: loaded, environment: ProcessInfo.processInfo.environment, logger: logger, options: options)
        } catch {
            let status = Daemon.exitStatus(for: error)
            if status == Daemon.shutdownIncompleteStatus {
                logger.error("vigil stopped; processed inputs stay uncommitted", metadata: ["error": "\(error)"])
            } else {
                logger.critical("vigil stopped on a fatal error", metadata: ["error": "\(error)"])
            }
            throw ExitCode(status)
        }
    }
}
