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
        OpenFileLimit.raiseToHardLimit(logger: logger)
        let config = startup.config
        let key = try DeviceKey.resolve(
            config.security, environment: environment, allowPublicDefault: options.allowPublicDeviceKey)
        if key.isPublicDefault {
            logger.warning("using the public default device hash key: device ids are hashed with a known key")
        }
        for advisory in config.advisories { logger.warning("\(advisory)") }
        let properties = try config.kafka.resolveSecrets(environment: environment)
        let enrichment = try EnrichmentLoader.open(config, logger: logger)
        // The version names the databases actually opened (a file replaced since the load is newer).
        let loaded = startup.with(geoIdentity: enrichment.databases.dataIdentity)
        let mailbox = ConfigMailbox()
        let status = options.status
        let metrics = DaemonMetrics(factory: MetricsServer.metricsFactory(registry: options.metricsRegistry))

        let signer = try await loadSigner(config, logger: logger)
        let streams = SignalStreams(receivers: config.signals.receivers)
        let signalEndpoints = try signer.map { signer in
            SignalEndpoints(
                config: config, signer: signer, streams: streams,
                managementToken: try managementToken(config.signals, environment: environment))
        }

        let kafka = KafkaPipelineService(
            config: loaded, properties: properties, bootstrapServers: options.bootstrapServers,
            enricher: enrichment.enricher, deviceKey: key.key, signer: signer, mailbox: mailbox, status: status,
            metrics: metrics, logger: Logger(label: "vigil.kafka"))
        let http = MetricsServer(
            settings: config.http, status: status, registry: options.metricsRegistry,
            logger: Logger(label: "vigil.http"), signals: signalEndpoints)
        let reload = ConfigReloadService(
            initial: loaded, path: loaded.sourcePath, mailbox: mailbox, status: status, metrics: metrics,
            checkInterval: configCheckInterval,
            logger: Logger(label: "vigil.reload"))
        let geo = GeoReloadService(
            databases: enrichment.databases, interval: .microseconds(config.geo.reloadCheckInterval.microseconds),
            metrics: metrics, onDataReplaced: { reload.geoDataReplaced(geoIdentity: $0) },
            logger: Logger(label: "vigil.geo"))

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: http), .init(service: reload), .init(service: geo),
        ]
        if let signer, !config.signals.receivers.isEmpty {
            let push = SignalPushService(
                config: config,
                connection: KafkaPipelineService.connection(
                    properties: properties, bootstrapServers: options.bootstrapServers ?? config.kafka.bootstrapServers),
                streams: streams, signer: signer, environment: environment,
                metrics: MetricsServer.metricsFactory(registry: options.metricsRegistry),
                logger: Logger(label: "vigil.ssf"))
            services.append(.init(service: push))
        }
        services.append(.init(service: kafka, successTerminationBehavior: .gracefullyShutdownGroup))
        // Graceful shutdown runs in reverse order: the Kafka loop drains first (then the push transmitter
        // stops after the token in hand), metrics stay up longest.
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        logger.info(
            "vigil starting",
            metadata: ["version": "\(VigilVersion.current)", "policy_version": "\(loaded.policyVersion)"])
        try await group.run()
        logger.info("vigil stopped")
    }

    /// The stream management's bearer token from `ssf.management_token_env`; nil when none is configured.
    /// A configured variable that is not set (or is shorter than 16 bytes) stops the start: the endpoints
    /// would otherwise be open, or closed, against the operator's intent.
    static func managementToken(
        _ settings: SignalTransmitterSettings, environment: [String: String]
    ) throws(SignalConfigError) -> String? {
        let name = settings.managementTokenEnv
        guard !name.isEmpty else { return nil }
        guard let token = environment[name], token.utf8.count >= 16 else {
            throw .managementTokenMissing(variable: name)
        }
        return token
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

/// A Shared Signals setting that the environment does not satisfy.
public enum SignalConfigError: Error, Equatable, CustomStringConvertible {
    /// `ssf.management_token_env` names a variable that is unset or too short.
    case managementTokenMissing(variable: String)

    /// What to do.
    public var description: String {
        switch self {
        case .managementTokenMissing(let variable):
            "ssf.management_token_env names \(variable), which is not set to a token of at least 16 bytes: set it, "
                + "or set ssf.management_token_env to \"\" to turn stream management off"
        }
    }
}
