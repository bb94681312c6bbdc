import Logging
import ServiceLifecycle
import UnixSignals

/// Reloads the config file on SIGHUP and when the file changes on disk (checked every
/// `checkInterval` by inode, size and mtime, so it works where nobody can send a signal, e.g. a
/// mounted ConfigMap). A good file goes to the mailbox for the Kafka thread to adopt between two
/// events; a bad one is reported setting by setting and the running config stays. See
/// `ConfigReloader` for what applies live.
///
/// This service is the only owner of SIGHUP in the process: nothing else may trap it. Until `run`
/// has installed the handler, SIGHUP still has its default action (terminate).
public struct ConfigReloadService: Service {
    private let reloader: ConfigReloader
    private let path: String
    private let checkInterval: Duration
    private let logger: Logger

    /// `initial` is the config the daemon started with; later versions of `path` are compared against it.
    public init(
        initial: LoadedConfig, path: String, mailbox: ConfigMailbox, status: DaemonStatus, metrics: DaemonMetrics,
        checkInterval: Duration, logger: Logger
    ) {
        reloader = ConfigReloader(
            initial: initial, path: path, mailbox: mailbox, status: status, metrics: metrics, logger: logger)
        self.path = path
        self.checkInterval = checkInterval
        self.logger = logger
    }

    /// A hot-swapped geo database changed the data in force to `geoIdentity`: the running config, with
    /// the policy version that names it, goes to the mailbox (`ConfigReloader.geoDataReplaced`).
    public func geoDataReplaced(geoIdentity: String) {
        reloader.geoDataReplaced(geoIdentity: geoIdentity)
    }

    /// Watches for SIGHUP and file changes until cancelled or shut down gracefully.
    public func run() async throws {
        let reloader = self.reloader
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        logger.info(
            "config reload armed: SIGHUP or a change to the file",
            metadata: ["file": "\(path)", "check_interval": "\(checkInterval)"])
        let interval = checkInterval
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in hangups { reloader.reload(.signal) }
                }
                group.addTask {
                    while (try? await Task.sleep(for: interval)) != nil { reloader.reload(.poll) }
                }
            }
        }
    }
}
