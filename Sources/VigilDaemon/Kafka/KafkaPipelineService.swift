import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilKafka
import _VigilMachinery

/// `vigil run`'s Kafka side as a ServiceLifecycle service. The loop blocks in librdkafka calls, so it
/// runs on a dedicated thread rather than the cooperative pool; `run()` awaits that thread. Graceful
/// shutdown (or cancellation) asks the loop to stop: it drains outputs, commits finished offsets and
/// leaves the group, all within `kafka.shutdown_timeout` (a `ShutdownWatchdog` ends the process
/// `shutdownMargin` later as a last resort). A fatal Kafka error, or a shutdown that left processed
/// inputs uncommitted, ends the loop and `run()` throws, which ends the service group with a failure.
public struct KafkaPipelineService: Service {
    private let loop: KafkaLoop
    private let config: DaemonConfig
    /// The connection properties, for the admin client that sets up the internal topics.
    private let connection: KafkaConfiguration
    /// This instance's `group.instance.id`, nil with dynamic membership: named when another instance fences it.
    private let groupInstanceID: String?
    private let logger: Logger
    private let metrics: DaemonMetrics
    private let watchdog: ShutdownWatchdog

    /// `properties` are the librdkafka properties with secrets already resolved
    /// (`KafkaSettings.resolveSecrets`); `bootstrapServers` overrides the config's when set.
    public init(
        config: LoadedConfig, properties: [String: String], bootstrapServers: String? = nil, enricher: Enricher?,
        deviceKey: SipHashKey, signer: SecurityEventSigner? = nil, mailbox: ConfigMailbox, status: DaemonStatus,
        metrics: DaemonMetrics, logger: Logger
    ) {
        let kafka = config.config.kafka
        let common = Self.connection(
            properties: properties, bootstrapServers: bootstrapServers ?? kafka.bootstrapServers)
        let producer = Self.producerConfiguration(common)
        let groupInstanceID = config.config.groupInstanceID(hostName: DaemonConfig.hostName)
        let consumer = Self.consumerConfiguration(common, groupID: kafka.groupID, groupInstanceID: groupInstanceID)
        logger.info(
            "consumer group membership",
            metadata: [
                "group_id": "\(kafka.groupID)",
                "group_instance_id": "\(groupInstanceID ?? "none (dynamic membership)")",
                "session_timeout_ms": "\(consumer["session.timeout.ms"] ?? "librdkafka's default")",
            ])
        var settings = KafkaLoop.Settings(
            config: config, consumer: consumer, producer: producer, enricher: enricher, deviceKey: deviceKey)
        settings.signer = signer
        settings.threads = config.config.resolvedEngineThreads
        settings.maxProducerStall = Self.maxProducerStall(producer)
        settings.deliveryStallLimit = Self.deliveryStallLimit(producer)
        loop = KafkaLoop(settings: settings, mailbox: mailbox, status: status, metrics: metrics, logger: logger)
        self.config = config.config
        connection = common
        self.groupInstanceID = groupInstanceID
        self.logger = logger
        self.metrics = metrics
        watchdog = ShutdownWatchdog(logger: logger)
    }

    /// The properties every client of this daemon shares: `properties` (secrets resolved) and the brokers.
    static func connection(properties: [String: String], bootstrapServers: String) -> KafkaConfiguration {
        var common = KafkaConfiguration()
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) { common[name] = value }
        common["bootstrap.servers"] = bootstrapServers
        return common
    }

    /// Before any partition is consumed: with `state.changelog` on, locks `state.dir`; then creates or
    /// validates every internal topic (`InternalTopics.setUp`). Blocking (admin requests bounded by
    /// `state.admin_timeout`): call it on the loop's thread. Throws `StateDirectoryError` or
    /// `InternalTopicError`, which stop the start.
    static func prepareStart(
        config: DaemonConfig, connection: KafkaConfiguration, logger: Logger
    ) throws -> (topics: InternalTopics.Prepared, durableState: KafkaLoop.DurableState?) {
        let state = config.state
        let directory =
            state.changelog ? try StateDirectory(path: state.directory, maxSnapshotAge: state.snapshotMaxAge) : nil
        let topics = try InternalTopics.setUp(
            admin: KafkaAdmin(configuration: connection, logger: logger), config: config)
        var metadata: Logger.Metadata = ["partitions": "\(topics.partitions)"]
        for (role, topic) in topics.topics {
            metadata[role.rawValue] = "\(topic.name) (\(topic.partitions) partitions, \(topic.outcome))"
        }
        logger.info("internal topics ready", metadata: metadata)
        guard let directory, let changelog = topics.changelog else { return (topics, nil) }
        logger.info(
            "durable state ready",
            metadata: [
                "changelog": "\(changelog.name)", "partitions": "\(changelog.partitions)",
                "changelog_topic": "\(changelog.outcome)", "state_dir": "\(state.directory)",
            ])
        return (
            topics,
            KafkaLoop.DurableState(
                directory: directory, changelogTopic: changelog.name, changelogPartitions: changelog.partitions)
        )
    }

    /// A full producer queue pauses consumption (backpressure) instead of failing. The loop fails only
    /// when nothing was delivered or enqueued for `message.timeout.ms` (librdkafka's delivery deadline,
    /// default 5 minutes, set in `kafka.properties`) plus a minute: by then every queued output should
    /// have been delivered or reported as failed. `message.timeout.ms: 0` (no deadline) waits forever.
    static func maxProducerStall(_ producer: KafkaConfiguration) -> Duration? {
        let text = producer["message.timeout.ms"] ?? producer["delivery.timeout.ms"] ?? "300000"
        guard let milliseconds = Int(text), milliseconds > 0 else { return nil }
        return .milliseconds(milliseconds) + .seconds(60)
    }

    /// Outputs outstanding with none acknowledged for a whole producer request timeout
    /// (`request.timeout.ms`, librdkafka's default 30 s) make the daemon not ready: by then some
    /// produce request went unanswered, whatever the broker connections say. Nil only for a value
    /// that is not a positive number, which librdkafka refuses when the producer is created.
    static func deliveryStallLimit(_ producer: KafkaConfiguration) -> Duration? {
        guard let milliseconds = Int(producer["request.timeout.ms"] ?? "30000"), milliseconds > 0 else { return nil }
        return .milliseconds(milliseconds)
    }

    /// Defaults for an online decision service, each overridable in `kafka.properties`.
    public static let consumerDefaults: KeyValuePairs<String, String> = [
        "auto.offset.reset": "earliest",
        // librdkafka's 500 ms default lets a fetch sit on the broker that long when a partition is idle.
        "fetch.wait.max.ms": "10",
        // Broker health for readiness (`KafkaBrokerHealth`) comes from librdkafka's statistics, every
        // second; a connection to every broker, not only to those with requests pending, lets an
        // idle client notice an outage, and the broker's return, within seconds.
        "statistics.interval.ms": "1000",
        "enable.sparse.connections": "false",
    ]
    /// Defaults for the producer, each overridable in `kafka.properties`.
    public static let producerDefaults: KeyValuePairs<String, String> = [
        // librdkafka's 5 ms default would be most of a 10 ms decision budget; under load batches still
        // form while earlier requests are in flight.
        "linger.ms": "1",
        // As for the consumer: broker health for readiness.
        "statistics.interval.ms": "1000",
        "enable.sparse.connections": "false",
    ]

    /// Defaults for a static member (`kafka.static_membership`), each overridable in `kafka.properties`.
    public static let staticMemberDefaults: KeyValuePairs<String, String> = [
        // A static member keeps its partitions while it is away for less than the session timeout, and a
        // graceful restart is away for up to kafka.shutdown_timeout (30 s) plus its start: librdkafka's 45 s
        // would leave a slow restart little margin. A member that does not come back is replaced after it.
        "session.timeout.ms": "60000"
    ]

    /// The shared properties minus the producer-only ones, plus the group (and the static member's
    /// `group.instance.id` unless nil) and the consumer defaults.
    static func consumerConfiguration(
        _ common: KafkaConfiguration, groupID: String, groupInstanceID: String?
    ) -> KafkaConfiguration {
        var consumer = common.only(for: .consumer)
        consumer["group.id"] = groupID
        consumer["group.instance.id"] = groupInstanceID
        for (name, value) in consumerDefaults where consumer[name] == nil { consumer[name] = value }
        if groupInstanceID != nil {
            for (name, value) in staticMemberDefaults where consumer[name] == nil { consumer[name] = value }
        }
        return consumer
    }

    /// The shared properties minus the consumer-only ones, plus the producer defaults.
    static func producerConfiguration(_ common: KafkaConfiguration) -> KafkaConfiguration {
        var producer = common.only(for: .producer)
        for (name, value) in producerDefaults where producer[name] == nil { producer[name] = value }
        return producer
    }

    /// Consumes, decides and produces until cancelled or shut down gracefully (drain, flush, commit).
    /// Throws `MembershipError.fenced` when another instance took this one's `group.instance.id`.
    public func run() async throws {
        let (loop, config, connection, logger, metrics, watchdog) = (
            self.loop, self.config, self.connection, self.logger, self.metrics, self.watchdog
        )
        defer { watchdog.disarm() }
        do {
            try await withTaskCancellationHandler {
                try await withGracefulShutdownHandler {
                    try await onDedicatedThread(name: "vigil-kafka") {
                        let prepared = try Self.prepareStart(config: config, connection: connection, logger: logger)
                        let globalFacts = try GlobalFactTables(
                            prepared: prepared.topics, connection: connection, config: config, metrics: metrics,
                            logger: logger)
                        try loop.run(
                            topics: prepared.topics, globalFacts: globalFacts, durableState: prepared.durableState)
                    }
                } onGracefulShutdown: {
                    loop.requestStop()
                    watchdog.arm(after: loop.shutdownTimeout + Self.shutdownMargin)
                }
            } onCancel: {
                loop.requestStop()
                watchdog.arm(after: loop.shutdownTimeout + Self.shutdownMargin)
            }
        } catch KafkaError.fatal(let code, _) where code == .fencedInstanceID {
            throw MembershipError.fenced(groupID: config.kafka.groupID, groupInstanceID: groupInstanceID ?? "")
        }
    }

    /// How long after `kafka.shutdown_timeout` the process is ended, whatever it is waiting for: the
    /// drain, commit and group leave share the timeout with explicit librdkafka timeouts, and the
    /// clients' destruction (which takes none) is waited for `KafkaLoop.releaseBudget` at most, so
    /// only a thread starved of CPU for seconds should reach this.
    static let shutdownMargin = Duration.seconds(5)
}

/// The shutdown's last resort: once armed, it ends the process with `Daemon.shutdownIncompleteStatus`
/// when the deadline passes before `disarm`, logging why.
final class ShutdownWatchdog: Sendable {
    private let logger: Logger
    private let armed = Atomic<Bool>(false)
    private let disarmed = Atomic<Bool>(false)

    init(logger: Logger) { self.logger = logger }

    /// Ends the process after `delay` unless disarmed first; a second call keeps the first deadline.
    func arm(after delay: Duration) {
        guard !armed.exchange(true, ordering: .relaxed) else { return }
        let (seconds, attoseconds) = delay.components
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18) {
            guard !self.disarmed.load(ordering: .relaxed) else { return }
            self.logger.critical(
                "shutdown still not finished after kafka.shutdown_timeout plus the margin: exiting now",
                metadata: ["after": "\(delay)", "exit_status": "\(Daemon.shutdownIncompleteStatus)"])
            // Not exit(): its handlers could wait on the very threads that overran.
            _exit(Daemon.shutdownIncompleteStatus)
        }
    }

    /// The shutdown finished: the process is not ended.
    func disarm() { disarmed.store(true, ordering: .relaxed) }
}

/// The consumer group refused this instance's membership for good.
public enum MembershipError: Error, Equatable, CustomStringConvertible {
    /// Another consumer joined `groupID` with this instance's `group.instance.id` and replaced it
    /// (`FENCED_INSTANCE_ID`): two instances were given one id.
    case fenced(groupID: String, groupInstanceID: String)

    /// What happened and what to change.
    public var description: String {
        switch self {
        case let .fenced(groupID, groupInstanceID):
            """
            another consumer joined group '\(groupID)' with this instance's group.instance.id '\(groupInstanceID)' \
            and replaced it (FENCED_INSTANCE_ID): give every instance its own kafka.group_instance_id (a derived \
            one differs by host name and state.dir)
            """
        }
    }
}
