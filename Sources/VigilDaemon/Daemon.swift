import Logging
import Prometheus
import ServiceLifecycle
import VigilCore
import VigilKafka

/// The composition root of `vigil run` (and of `vigil demo`, which points it at a mock cluster): one
/// service group with the Kafka loop, the metrics server and the two reload services. SIGTERM and
/// SIGINT shut it down gracefully; a fatal error in any service ends it with that error.
public enum Daemon {
    /// What `vigil demo` changes; `vigil run` uses the defaults.
    public struct Options: Sendable {
        /// Replaces `kafka.bootstrap_servers` (the demo's mock cluster).
        public var bootstrapServers: String?
        /// Lets the daemon fall back to the public device key (reproducible demo output).
        public var allowPublicDeviceKey = false
        /// Shared with the caller, which may watch progress (the demo waits for its events).
        public var status = DaemonStatus()
        /// What `/metrics` exposes; the caller may register its own metrics here too (`vigil run`
        /// bootstraps swift-metrics' global system with it).
        public var metricsRegistry = PrometheusCollectorRegistry()

        /// The options of `vigil run`.
        public init() {}
    }

    /// The exit status of `vigil run` when the shutdown left processed inputs uncommitted (the final
    /// commit or the drain failed, or the shutdown overran its deadline): they will be consumed again.
    public static let shutdownIncompleteStatus: Int32 = 3

    /// The exit status for an error `run` threw: `shutdownIncompleteStatus` for an incomplete
    /// shutdown, 1 for anything else.
    public static func exitStatus(for error: any Error) -> Int32 {
        switch error as? KafkaLoopStateMachine.LoopError {
        case .finalCommitFailed?, .shutdownDrainFailed?: shutdownIncompleteStatus
        default: 1
        }
    }

    /// How often the config file is checked for changes besides SIGHUP: quick enough that an edit
    /// is live within seconds, cheap (one stat call).
    static let configCheckInterval = Duration.seconds(5)

    /// Runs until SIGTERM/SIGINT (returns) or a fatal error (throws). `loaded` is the config file as read
    /// once at startup; the reload service rereads `loaded.sourcePath` on SIGHUP or a change.
    public static func run(
        loaded startup: LoadedConfig, environment: [String: String], logger: Logger, options: Options = Options()
    ) async throws {
        let config = startup.config
        let key = try DeviceKey.resolve(
            config.security, environment: environment, allowPublicDefault: options.allowPublicDeviceKey)
        if key.isPublicDefault {
            logger.warning("using the public default device hash key: device ids are hashed with a known key")
        }
        let properties = try config.kafka.resolveSecrets(environment: environment)
        let enrichment = try EnrichmentLoader.open(config, logger: logger)
        // The version names the databases actually opened (a file replaced since the load is newer).
        let loaded = startup.with(geoIdentity: enrichment.databases.dataIdentity)
        let mailbox = ConfigMailbox()
        let status = options.status
        let metrics = DaemonMetrics(factory: MetricsServer.metricsFactory(registry: options.metricsRegistry))

        let signer = try await loadSigner(config, logger: logger)

        let kafka = KafkaPipelineService(
            config: loaded, properties: properties, bootstrapServers: options.bootstrapServers,
            enricher: enrichment.enricher, deviceKey: key.key, signer: signer, mailbox: mailbox, status: status,
            metrics: metrics, logger: Logger(label: "vigil.kafka"))
        let http = MetricsServer(
            settings: config.http, status: status, registry: options.metricsRegistry,
            logger: Logger(label: "vigil.http"))
        let reload = ConfigReloadService(
            initial: loaded, path: loaded.sourcePath, mailbox: mailbox, status: status, metrics: metrics,
            checkInterval: configCheckInterval,
            logger: Logger(label: "vigil.reload"))
        let geo = GeoReloadService(
            databases: enrichment.databases, interval: .microseconds(config.geo.reloadCheckInterval.microseconds),
            metrics: metrics, onDataReplaced: { reload.geoDataReplaced(geoIdentity: $0) },
            logger: Logger(label: "vigil.geo"))

        // Graceful shutdown runs in reverse order: the Kafka loop drains first, metrics stay up longest.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: http),
                    .init(service: reload),
                    .init(service: geo),
                    .init(service: kafka, successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info(
            "vigil starting",
            metadata: ["version": "\(VigilVersion.current)", "policy_version": "\(loaded.policyVersion)"])
        try await group.run()
        logger.info("vigil stopped")
    }

    /// The signing keys of `ssf.signing_keys`, loaded whenever any are configured (so that turning
    /// `ssf.enabled` on by a reload finds them); nil when none are.
    static func loadSigner(_ config: DaemonConfig, logger: Logger) async throws(SigningKeyError) -> SecurityEventSigner?
    {
        guard !config.signals.signingKeys.isEmpty else { return nil }
        let signer = try await SecurityEventSigner(files: config.signals.signingKeys)
        logger.info(
            "security event signing keys loaded",
            metadata: ["keys": "\(signer.keys.count)", "signing_kid": "\(signer.signingKeyID)"])
        return signer
    }
}
