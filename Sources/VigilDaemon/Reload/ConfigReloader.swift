import Logging
import Synchronization
import VigilCore
import VigilGeo

/// The reload logic behind `ConfigReloadService`, apart from its triggers so tests can drive it
/// without signals or timers.
///
/// Only `engine`, `policy` and `input` change live. Everything else (`kafka.*` including the input
/// topics, `http.*`, `logging.*`, `security.*`, `geo.*`, `reputation.*`) is fixed by what was built at
/// startup — the consumer, the listener, the log handlers, the device-hash key, the open databases —
/// so a change there is logged as needing a restart and left out. What goes to the mailbox is the
/// *effective* config: the new file's live sections on top of the running config's other sections.
/// Its `policyVersion` therefore names what actually runs, and an edit that only touches
/// restart-only settings posts nothing.
final class ConfigReloader: Sendable {
    enum Trigger: String, Sendable {
        case signal = "SIGHUP"
        case poll = "file changed"
    }

    enum Outcome: Equatable, Sendable {
        /// A new effective config was posted, with this policy version.
        case posted(policyVersion: String)
        /// The file loaded but nothing that applies live changed.
        case unchanged
        /// The file did not load; the running config stays.
        case failed
        /// A poll found the file as it was: not even read.
        case fileUnchanged
    }

    private struct State {
        var identity: FileIdentity?
        /// The config last posted, or read at start; nil until the file first loads.
        var running: LoadedConfig?
    }

    private let path: String
    private let mailbox: ConfigMailbox
    private let status: DaemonStatus
    private let metrics: DaemonMetrics
    private let logger: Logger
    private let state = Mutex(State())

    init(path: String, mailbox: ConfigMailbox, status: DaemonStatus, metrics: DaemonMetrics, logger: Logger) {
        self.path = path
        self.mailbox = mailbox
        self.status = status
        self.metrics = metrics
        self.logger = logger
    }

    /// Reads the file as the daemon started with it, to compare later versions against. If it no
    /// longer loads, that is reported as a failed reload and the first later good version is posted
    /// whole (the run loop adopts only its live sections either way).
    func establishBaseline() {
        state.withLock { state in
            state.identity = try? FileIdentity(path: path)
            do throws(ConfigError) {
                state.running = try ConfigLoader.load(path: path)
            } catch {
                reportFailure(error, trigger: "startup", running: nil)
            }
        }
    }

    @discardableResult
    func reload(_ trigger: Trigger) -> Outcome {
        state.withLock { state in
            let identity = try? FileIdentity(path: path)
            if trigger == .poll, identity == state.identity { return .fileUnchanged }
            state.identity = identity

            let loaded: LoadedConfig
            do throws(ConfigError) {
                loaded = try ConfigLoader.load(path: path)
            } catch {
                reportFailure(error, trigger: trigger.rawValue, running: state.running)
                return .failed
            }
            let effective: LoadedConfig
            if let running = state.running {
                let restartOnly = Self.restartOnlyChanges(from: running.config, to: loaded.config)
                if !restartOnly.isEmpty {
                    logger.warning(
                        "config reload: these settings only take effect on restart and were not applied",
                        metadata: ["file": "\(path)", "settings": "\(restartOnly.joined(separator: ", "))"])
                }
                var config = running.config
                config.engine = loaded.config.engine
                config.policy = loaded.config.policy
                config.input = loaded.config.input
                effective = LoadedConfig(config: config, sourcePath: loaded.sourcePath)
                guard effective.policyVersion != running.policyVersion else {
                    logger.debug(
                        "config reload: nothing that applies live changed",
                        metadata: ["file": "\(path)", "trigger": "\(trigger.rawValue)", "policy_version": "\(running.policyVersion)"])
                    status.update { $0.lastReloadError = nil }
                    return .unchanged
                }
            } else {
                effective = loaded
            }
            mailbox.post(effective)
            status.update { $0.lastReloadError = nil }
            metrics.recordConfigReload(succeeded: true)
            logger.notice(
                "config reloaded",
                metadata: [
                    "file": "\(path)", "trigger": "\(trigger.rawValue)",
                    "old_policy_version": "\(state.running?.policyVersion ?? "unknown")",
                    "new_policy_version": "\(effective.policyVersion)",
                ])
            state.running = effective
            return .posted(policyVersion: effective.policyVersion)
        }
    }

    /// One log line per problem, with the setting and line an operator needs to fix it.
    private func reportFailure(_ error: ConfigError, trigger: String, running: LoadedConfig?) {
        for problem in error.problems {
            var metadata: Logger.Metadata = ["file": "\(path)", "problem": "\(problem.message)"]
            if !problem.keyPath.isEmpty { metadata["setting"] = "\(problem.keyPath)" }
            if let line = problem.line { metadata["line"] = "\(line)" }
            logger.error("config reload: invalid setting", metadata: metadata)
        }
        let summary = error.problems.map(\.description).joined(separator: "; ")
        logger.error(
            "config reload failed; the running config stays in force",
            metadata: [
                "file": "\(path)", "trigger": "\(trigger)", "problems": "\(error.problems.count)",
                "policy_version": "\(running?.policyVersion ?? "unknown")",
            ])
        status.update { $0.lastReloadError = summary }
        metrics.recordConfigReload(succeeded: false)
    }

    /// The restart-only settings that differ, by their YAML key paths.
    static func restartOnlyChanges(from old: VigilConfig, to new: VigilConfig) -> [String] {
        var changed: [String] = []
        func compare<T: Equatable>(_ key: String, _ value: (VigilConfig) -> T) {
            if value(old) != value(new) { changed.append(key) }
        }
        compare("kafka.bootstrap_servers") { $0.kafka.bootstrapServers }
        compare("kafka.group_id") { $0.kafka.groupID }
        compare("kafka.input_topics") { $0.kafka.inputTopics }
        compare("kafka.decisions_topic") { $0.kafka.decisionsTopic }
        compare("kafka.alerts_topic") { $0.kafka.alertsTopic }
        compare("kafka.dead_letter_topic") { $0.kafka.deadLetterTopic }
        compare("kafka.properties") { $0.kafka.properties }
        compare("kafka.shutdown_timeout") { $0.kafka.shutdownTimeout }
        compare("http.enabled") { $0.http.enabled }
        compare("http.listen") { $0.http.listen }
        compare("logging.format") { $0.logging.format }
        compare("logging.level") { $0.logging.level }
        compare("security.device_hash_key_env") { $0.security.deviceHashKeyEnv }
        compare("security.allow_default_device_key") { $0.security.allowDefaultDeviceKey }
        compare("geo.city_db") { $0.geo.cityDatabase }
        compare("geo.asn_db") { $0.geo.asnDatabase }
        compare("geo.anonymous_db") { $0.geo.anonymousDatabase }
        compare("geo.cache_entries") { $0.geo.cacheEntries }
        compare("geo.reload_check_interval") { $0.geo.reloadCheckInterval }
        compare("reputation.asn") { $0.reputation.asnCategories }
        compare("reputation.cidr_lists") { $0.reputation.cidrLists }
        return changed
    }
}
