import ArgumentParser
import VigilCore
import VigilDaemon

/// `vigil check-config FILE`: validate a config before deploying it, in CI or by hand, without starting
/// anything. Exit status 1 with every problem listed, one per line, when the file is not usable.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract:
            "Validate a config file (and open its MaxMind databases and reputation lists) and print its policy version."
    )

    @Argument(help: "The YAML config file.")
    var file: String

    @Flag(help: "Also print the effective configuration: every setting, defaults included.")
    var printEffective = false

    func run() throws {
        let loaded: LoadedConfig
        do {
            loaded = try ConfigLoader.load(path: file)
        } catch {
            for problem in error.problems { print("\(file): \(problem)") }
            throw ExitCode.failure
        }
        let config = loaded.config
        let fileProblems = EnrichmentLoader.fileProblems(config)
        guard fileProblems.isEmpty else {
            for problem in fileProblems { print("\(file): \(problem)") }
            throw ExitCode.failure
        }
        print("OK \(loaded.sourcePath) policy_version=\(loaded.policyVersion)")
        let databases = [config.geo.cityDatabase, config.geo.asnDatabase, config.geo.anonymousDatabase].compactMap {
            $0
        }
        print(
            """
            geo databases: \(databases.count), reputation: \(config.reputation.asnCategories.count) ASNs, \
            \(config.reputation.cidrLists.count) CIDR lists
            """
        )
        print(
            "  kafka: \(config.kafka.bootstrapServers.isEmpty ? "in-process mock cluster" : config.kafka.bootstrapServers), input \(config.kafka.inputTopics.map { topic in config.inputFormats[topic].map { "\(topic) (\($0.rawValue))" } ?? topic }.joined(separator: ","))"
        )
        print("  levels: low < \(config.policy.mediumFrom) ≤ medium < \(config.policy.highFrom) ≤ high")
        for advisory in config.advisories { print("  warning: \(advisory)") }
        if printEffective { print(config.canonicalYAML, terminator: "") }
    }
}
