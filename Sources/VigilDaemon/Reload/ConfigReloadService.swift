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
    private let initial: LoadedConfig
    private let path: String
    private let mailbox: ConfigMailbox
    private let status: DaemonStatus
    private let metrics: DaemonMetrics
    private let checkInterval: Duration
    private let logger: Logger

    /// `initial` is the config the daemon started with; later versions of `path` are compared against it.
    public init(
        initial: LoadedConfig, path: String, mailbox: ConfigMailbox, status: DaemonStatus, metrics: DaemonMetrics,
        checkInterval: Duration, logger: Logger
    ) {
        self.initial = initial
        self.path = path
        self.mailbox = mailbox
        self.status = status
        self.metrics = metrics
        self.checkInterval = checkInterval
        self.logger = logger
    }

    /// Watches for SIGHUP and file changes until cancelled or shut down gracefully.
    public func run() async throws {
        let reloader = ConfigReloader(
            initial: initial, path: path, mailbox: mailbox, status: status, metrics: metrics, logger: logger)
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
