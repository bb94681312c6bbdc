import Logging
import Synchronization
import VigilCore
import VigilGeo

/// The reload logic behind `ConfigReloadService`, apart from its triggers so tests can drive it
/// without signals or timers.
///
/// Which settings change live is declared with each setting (`SettingReload`, in `DaemonConfig.settings`):
/// the engine's (`input`, `engine`, `policy`) do; the daemon's are fixed by what was built at startup (the
/// consumer, the listener, the log handlers, the device-hash key, the open databases and reputation
/// table), so a change there is logged as needing a restart and left out. What goes to the mailbox is
/// the *effective* config: the new file's live settings on top of the running config's others.
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
        /// The config last posted, or the one the daemon started with.
        var running: LoadedConfig
    }

    private let path: String
    private let mailbox: ConfigMailbox
    private let status: DaemonStatus
    private let metrics: DaemonMetrics
    private let logger: Logger
    private let state: Mutex<State>

    /// `initial` is the config the daemon started with, loaded once from `path` at startup. A poll rereads
    /// the file once its identity differs from the one `initial` was read with.
    init(
        initial: LoadedConfig, path: String, mailbox: ConfigMailbox, status: DaemonStatus, metrics: DaemonMetrics,
        logger: Logger
    ) {
        self.state = Mutex(State(identity: initial.fileIdentity, running: initial))
        self.path = path
        self.mailbox = mailbox
        self.status = status
        self.metrics = metrics
        self.logger = logger
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
            let running = state.running
            let restartOnly = DaemonConfig.settings.restartOnlyChanges(from: running.config, to: loaded.config)
            if !restartOnly.isEmpty {
                logger.warning(
                    "config reload: these settings only take effect on restart and were not applied",
                    metadata: ["file": "\(path)", "settings": "\(restartOnly.joined(separator: ", "))"])
            }
            // The reputation table is not reloaded, so neither is its content's part of the version; the
            // geo data's is the running databases' (a replaced file is the geo reload's to report).
            let effective = LoadedConfig(
                config: DaemonConfig.settings.adoptingLiveSettings(of: loaded.config, into: running.config),
                sourcePath: loaded.sourcePath, reputationContent: running.reputationContent,
                geoIdentity: running.geoIdentity, fileIdentity: loaded.fileIdentity)
            guard effective.policyVersion != running.policyVersion else {
                logger.debug(
                    "config reload: nothing that applies live changed",
                    metadata: [
                        "file": "\(path)", "trigger": "\(trigger.rawValue)",
                        "policy_version": "\(running.policyVersion)",
                    ])
                status.update { $0.lastReloadError = nil }
                return .unchanged
            }
            mailbox.post(effective)
            status.update { $0.lastReloadError = nil }
            metrics.recordConfigReload(succeeded: true)
            logger.notice(
                "config reloaded",
                metadata: [
                    "file": "\(path)", "trigger": "\(trigger.rawValue)",
                    "old_policy_version": "\(running.policyVersion)",
                    "new_policy_version": "\(effective.policyVersion)",
                ])
            state.running = effective
            return .posted(policyVersion: effective.policyVersion)
        }
    }

    /// A geo database was hot-swapped and the data in force is now `geoIdentity`: decisions from here on
    /// carry the policy version that names it. Posted like a reload, under the same lock, so a reload and
    /// a swap at the same moment both end up in the version.
    @discardableResult
    func geoDataReplaced(geoIdentity: String) -> Outcome {
        state.withLock { state in
            let running = state.running
            guard geoIdentity != running.geoIdentity else { return .unchanged }
            let effective = running.with(geoIdentity: geoIdentity)
            mailbox.post(effective)
            logger.notice(
                "geo data replaced: new policy version",
                metadata: [
                    "old_policy_version": "\(running.policyVersion)",
                    "new_policy_version": "\(effective.policyVersion)", "geo": "\(geoIdentity)",
                ])
            state.running = effective
            return .posted(policyVersion: effective.policyVersion)
        }
    }

    /// One log line per problem, with the setting and line an operator needs to fix it.
    private func reportFailure(_ error: ConfigError, trigger: String, running: LoadedConfig) {
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
                "policy_version": "\(running.policyVersion)",
            ])
        status.update { $0.lastReloadError = summary }
        metrics.recordConfigReload(succeeded: false)
    }
}
