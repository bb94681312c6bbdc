import Foundation
import VigilCore
import VigilGeo

/// The whole configuration file: the engine's sections (`VigilConfig`: input, engine, policy) and the
/// daemon's own (geo, reputation, kafka, http, logging, security), which the engine never reads. Every key is
/// optional with a documented default; each setting is declared once in `DaemonConfig.settings`.
/// `config.engine` reads through to the engine's part, so call sites need not say `core`.
@dynamicMemberLookup
public struct DaemonConfig: Sendable, Equatable {
    /// What the engine reads; handed to the pipeline as is.
    public var core = VigilConfig()
    /// The `geo` section: which MaxMind databases to open.
    public var geo = GeoSettings()
    /// The `reputation` section: the operator's ASN and CIDR lists.
    public var reputation = ReputationSettings()
    /// The `kafka` section.
    public var kafka = KafkaSettings()
    /// `input.formats`: the record format of each input topic not in Vigil's own contract.
    public var inputFormats: [String: InputFormat] = [:]
    /// `engine.threads`: threads a poll batch's partitions run on; 0: one per core.
    public var engineThreads = 0
    /// The `topology` section, and `input.keyed_by_user`: the internal topics between the stages.
    public var topology = TopologySettings()
    /// The `state` section: the changelog topic and the local snapshots that make state durable.
    public var state = StateSettings()
    /// The `http` section.
    public var http = HTTPSettings()
    /// The `logging` section.
    public var logging = LoggingSettings()
    /// The `security` section.
    public var security = SecuritySettings()
    /// The daemon's part of the `ssf` section: signing keys, receivers, delivery, stream management.
    public var signals = SignalTransmitterSettings()

    /// Every setting at its documented default.
    public init() {}

    /// `engine.threads` resolved: the configured count, or one per core the process may use.
    public var resolvedEngineThreads: Int {
        engineThreads > 0 ? engineThreads : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The engine's sections read and written as if they were the daemon's own (`config.engine`).
    public subscript<Value>(dynamicMember keyPath: WritableKeyPath<VigilConfig, Value>) -> Value {
        get { core[keyPath: keyPath] }
        set { core[keyPath: keyPath] = newValue }
    }
}

/// Kafka connection and topics. `properties` pass through to librdkafka verbatim; a value of the form
/// `${env:NAME}` stays a reference here and is read from the environment only by `resolveSecrets`, so
/// secrets stay out of the file, the config and the logs.
public struct KafkaSettings: Sendable, Equatable {
    /// Empty: `vigil demo` starts an in-process mock cluster.
    public var bootstrapServers = ""
    var groupID = "vigil"
    /// Join as a static member (`group.instance.id`), keeping partitions across a quick restart.
    var staticMembership = true
    /// The configured `group.instance.id`; empty: derived (`groupInstanceID(hostName:stateDirectory:)`).
    var groupInstanceID = ""
    /// Topics consumed; each partition is one shard with its own engine state.
    public var inputTopics = ["auth.events"]
    var decisionsTopic = "auth.decisions"
    var alertsTopic = "auth.alerts"
    var deadLetterTopic = "auth.events.dlq"
    /// Where signed Security Event Tokens go (compact JWS, keyed by user), and where the push transmitter
    /// reads them.
    var signalsTopic = "auth.signals"
    /// librdkafka properties by name, applied to consumer and producer alike (each gets only the ones that
    /// concern it); values may be `${env:NAME}` references.
    public var properties: [String: String] = [:]
    /// Upper bound for a graceful shutdown (drain, flush, commit).
    public var shutdownTimeout = EventDuration.seconds(30)

    /// The documented defaults.
    public init() {}
}

/// The stages' internal topics (`InternalTopics`): the repartition topics that re-key events by user,
/// source and email domain, and the compacted source-risk topic every instance reads whole. Their names
/// derive from `kafka.group_id` unless set, so two deployments (groups) on one cluster never share one.
public struct TopologySettings: Sendable, Equatable {
    /// Partitions of every repartition topic and of the changelog; 0: the largest input topic's count,
    /// read at start.
    public var partitions = 0
    /// Events keyed by user; empty: `<kafka.group_id>-by-user`.
    public var byUserTopic = ""
    /// Failed logins and reset requests keyed by source address; empty: `<kafka.group_id>-by-source`.
    public var bySourceTopic = ""
    /// Reset requests keyed by email domain; empty: `<kafka.group_id>-by-domain`.
    public var byDomainTopic = ""
    /// Failed logins and reset requests keyed by autonomous system and tenant; empty:
    /// `<kafka.group_id>-by-campaign`.
    public var byCampaignTopic = ""
    /// The compacted global source-risk table; empty: `<kafka.group_id>-source-risk`.
    public var sourceRiskTopic = ""
    /// The compacted global campaigns table; empty: `<kafka.group_id>-campaigns`.
    public var campaignsTopic = ""
    /// How long a repartition topic Vigil creates keeps a record (its `retention.ms`).
    public var repartitionRetention = EventDuration.days(7)
    /// `input.keyed_by_user`: the producer keys input records by user id already, so input partitions
    /// are processed by the user stage directly (no by-user hop).
    public var inputKeyedByUser = false

    /// The documented defaults.
    public init() {}
}

/// Durable state: every change of a shard's state goes to a compacted changelog topic (the source of truth
/// after a restart), and a local snapshot per partition in `directory` makes a restart read only the
/// changelog's tail instead of all of it.
public struct StateSettings: Sendable, Equatable {
    /// Off: state lives only in memory and a restart or rebalance starts every moved shard empty.
    public var changelog = true
    /// The changelog topic; empty: `<kafka.group_id>-state-changelog` (`ChangelogTopics.name`).
    public var changelogTopic = ""
    /// How often changed state is written to the changelog (also at each poll batch's end, at most this often).
    public var flushInterval = EventDuration.seconds(1)
    /// How often a local snapshot of each partition is written (and at graceful shutdown); zero: never, so
    /// every restore reads the whole changelog.
    public var snapshotInterval = EventDuration.minutes(5)
    /// The oldest local snapshot a restore still starts from. Below the changelog's `delete.retention.ms`
    /// (Kafka's default 24 h): compaction may since have removed the tombstone of an entry the snapshot
    /// still holds, which would bring an evicted user back.
    public var snapshotMaxAge = EventDuration.hours(12)
    /// The local snapshot directory, created when missing and locked by one instance at a time.
    public var directory = "/var/lib/vigil/state"
    /// Replication factor of a changelog topic Vigil creates; -1: the brokers' `default.replication.factor`.
    public var replicationFactor = -1
    /// Check an existing changelog topic's `cleanup.policy` (needs DescribeConfigs on the topic).
    public var verifyTopicConfig = true
    /// Upper bound of each admin request at startup (metadata, CreateTopics, DescribeConfigs).
    public var adminTimeout = EventDuration.seconds(30)
    /// Changelog records a restore reads and applies per step; progress is reported and shutdown checked
    /// between steps.
    public var restoreBatch = 10_000

    /// The documented defaults.
    public init() {}
}

/// The metrics and health endpoint, for probes and Prometheus.
public struct HTTPSettings: Sendable, Equatable {
    /// Metrics and health endpoints; loopback unless the operator opts out.
    public var listen = "127.0.0.1:9464"
    /// Off: no listener at all (readiness can then only be seen in the logs).
    public var enabled = true
    /// The documented defaults.
    public init() {}
}

/// Log output: text for people at a terminal, json for log pipelines.
public struct LoggingSettings: Sendable, Equatable {
    /// The two log encodings.
    public enum Format: String, Sendable, CaseIterable { case text, json }
    /// `text` for terminals, `json` (one object per line) for log pipelines.
    public var format = Format.text
    /// One of swift-log's level names (`ConfigValues.logLevels`).
    public var level = "info"
    /// The documented defaults.
    public init() {}
}

/// Secrets are never in the file: only the names of the environment variables that hold them.
public struct SecuritySettings: Sendable, Equatable {
    /// Environment variable holding the key for hashing device ids (at least 16 bytes).
    public var deviceHashKeyEnv = "VIGIL_DEVICE_HASH_KEY"
    /// `vigil run` refuses to start without the key unless this is true (replay and demo fall back to
    /// a fixed, public key so their output is reproducible).
    public var allowDefaultDeviceKey = false
    /// The documented defaults.
    public init() {}
}

extension DaemonConfig {
    /// Settings that are valid together but work against each other: `vigil run` logs each as a
    /// warning at start, `vigil check-config` prints them.
    public var advisories: [String] {
        var notes: [String] = []
        let keycloakTopics = inputFormats.filter { $0.value == .keycloak }.keys.sorted()
        if core.engine.verification.required, !keycloakTopics.isEmpty {
            notes.append(
                "input \(keycloakTopics.joined(separator: ",")) reads Keycloak events, which carry no MFA results: with "
                    + "engine.verification.required its users' stepped-up logins are never learned unless another input "
                    + "brings their MFA successes; set engine.verification.required: false for a Keycloak-only feed")
        }
        return notes
    }
}
