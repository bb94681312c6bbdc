import VigilCore
import VigilKafka

/// The changelog topic's name, and its setup at start: created when missing, validated when present.
///
/// One compacted topic holds every kind of state record of a deployment, partitioned like the input so
/// that input partition p's state lives in changelog partition p. Its partition count is therefore part of
/// the state's layout: a changelog with another count would put a partition's records where its restore
/// never looks, so a mismatch stops the start instead of silently restoring nothing.
///
/// Every call blocks for up to `state.admin_timeout` per request: run it off Swift's cooperative pool
/// (`onDedicatedThread`), like every `KafkaAdmin` call.
enum ChangelogTopics {
    /// Appended to `kafka.group_id` for the default name, after Kafka Streams' `<application.id>-<store>-changelog`.
    static let defaultSuffix = "-state-changelog"

    /// The changelog topic: `configured` (`state.changelog_topic`) when set, else `<groupID>-state-changelog`.
    static func name(groupID: String, configured: String) -> String {
        configured.isEmpty ? groupID + defaultSuffix : configured
    }

    /// The changelog topic `config` names.
    static func name(for config: DaemonConfig) -> String {
        name(groupID: config.kafka.groupID, configured: config.state.changelogTopic)
    }

    /// The changelog topic in use, once `setUp` has checked or created it.
    struct Prepared: Equatable {
        /// The topic's name.
        var name: String
        /// Its partition count, the input topics' largest.
        var partitions: Int
        /// Whether it existed (and was verified) or was created, for the start-up log.
        var outcome: Outcome
    }

    /// The whole check at start for `config`: reads the input topics' partition count, then `ensure`s the
    /// changelog topic has it.
    static func setUp(admin: KafkaAdmin, config: DaemonConfig) throws(ChangelogTopicError) -> Prepared {
        let topic = name(for: config)
        let partitions = try inputPartitionCount(
            admin: admin, inputTopics: config.kafka.inputTopics,
            timeout: .microseconds(config.state.adminTimeout.microseconds))
        let outcome = try ensure(admin: admin, topic: topic, partitions: partitions, settings: config.state)
        return Prepared(name: topic, partitions: partitions, outcome: outcome)
    }

    /// What `ensure` found or did, for the start-up log.
    enum Outcome: Equatable {
        /// The topic existed with the expected partition count (and, when checked, a compacting policy).
        case existing(verifiedConfiguration: Bool)
        /// The topic was missing and has been created compacted.
        case created
    }

    /// The partition count the changelog needs: the largest of the input topics', since input partition p
    /// of every input topic keeps its state in changelog partition p. An input topic that does not exist
    /// yet fails the start: the changelog's layout cannot be chosen before the input's is known.
    static func inputPartitionCount(
        admin: KafkaAdmin, inputTopics: [String], timeout: Duration
    ) throws(ChangelogTopicError) -> Int {
        var largest = 0
        for topic in inputTopics {
            guard let count = try partitionCount(admin: admin, topic: topic, timeout: timeout) else {
                throw .inputTopicMissing(topic: topic)
            }
            largest = max(largest, count)
        }
        return largest
    }

    /// Makes sure `topic` exists with `partitions` partitions and, when `settings.verifyTopicConfig`, a
    /// compacting `cleanup.policy`; creates it compacted (`settings.replicationFactor`) when missing.
    ///
    /// Each request is bounded by `settings.adminTimeout`. A creation race lost to another instance is
    /// not an error: the topic the other one created is validated instead.
    @discardableResult
    static func ensure(
        admin: KafkaAdmin, topic: String, partitions: Int, settings: StateSettings
    ) throws(ChangelogTopicError) -> Outcome {
        let timeout = Duration.microseconds(settings.adminTimeout.microseconds)
        if let existing = try partitionCount(admin: admin, topic: topic, timeout: timeout) {
            return try validate(
                admin: admin, topic: topic, found: existing, expected: partitions, settings: settings, timeout: timeout)
        }
        let specification = KafkaTopicSpecification.compacted(
            name: topic, partitions: partitions, replicationFactor: settings.replicationFactor)
        do throws(KafkaError) {
            try admin.createTopic(specification, timeout: timeout)
            return .created
        } catch {
            guard case .topicRequestFailed(_, _, let code, _) = error, code == .topicAlreadyExists,
                let existing = try partitionCount(admin: admin, topic: topic, timeout: timeout)
            else { throw .creationFailed(topic: topic, partitions: partitions, cause: error) }
            return try validate(
                admin: admin, topic: topic, found: existing, expected: partitions, settings: settings, timeout: timeout)
        }
    }

    /// Why a librdkafka property would break the changelog's guarantees, or nil. Records of one partition
    /// must arrive in order and stay once acknowledged: a restore trusts a checkpoint only after the records
    /// before it. Without idempotence, retries can reorder them; with `acks` below all, a leader failover
    /// can lose an acknowledged checkpoint after its input offset was committed; `acks=0` reports no offset
    /// at all.
    static func weakenedGuarantee(_ property: String, _ value: String) -> String? {
        let normalized = value.filter { $0 != " " }.lowercased()
        switch property {
        case "enable.idempotence" where normalized != "true":
            return "must stay true while state.changelog is on (changelog records must not be reordered), got \(value)"
        case "acks", "request.required.acks":
            guard normalized != "all", normalized != "-1" else { return nil }
            return "must stay all while state.changelog is on (an acknowledged changelog record must survive a "
                + "leader failover), got \(value)"
        default:
            return nil
        }
    }

    private static func partitionCount(
        admin: KafkaAdmin, topic: String, timeout: Duration
    ) throws(ChangelogTopicError) -> Int? {
        do throws(KafkaError) {
            return try admin.partitionCount(of: topic, timeout: timeout)
        } catch {
            throw .metadataFailed(topic: topic, cause: error)
        }
    }

    private static func validate(
        admin: KafkaAdmin, topic: String, found: Int, expected: Int, settings: StateSettings, timeout: Duration
    ) throws(ChangelogTopicError) -> Outcome {
        guard found == expected else {
            throw .partitionCountMismatch(topic: topic, changelogPartitions: found, inputPartitions: expected)
        }
        guard settings.verifyTopicConfig else { return .existing(verifiedConfiguration: false) }
        let configuration: [String: String]
        do throws(KafkaError) {
            configuration = try admin.topicConfiguration(of: topic, timeout: timeout)
        } catch {
            throw .configurationUnverifiable(topic: topic, cause: error)
        }
        if let problem = configurationProblem(topic: topic, configuration: configuration, settings: settings) {
            throw problem
        }
        return .existing(verifiedConfiguration: true)
    }

    /// What is wrong with an existing changelog's topic configuration, or nil: it must compact, must not
    /// also delete by time, and must keep tombstones longer than a local snapshot may be old.
    static func configurationProblem(
        topic: String, configuration: [String: String], settings: StateSettings
    ) -> ChangelogTopicError? {
        let policy = configuration["cleanup.policy"] ?? ""
        let policies = policy.split(separator: ",").map { $0.filter { $0 != " " } }
        guard policies.contains("compact") else { return .notCompacted(topic: topic, cleanupPolicy: policy) }
        // compact,delete also deletes by time: the state of users not seen within retention.ms would go.
        if policies.contains("delete"), let retention = configuration["retention.ms"], retention != "-1" {
            return .deletesByTime(topic: topic, retentionMilliseconds: retention)
        }
        let maxAge = settings.snapshotMaxAge.microseconds / 1000
        if settings.snapshotInterval != .seconds(0), let text = configuration["delete.retention.ms"],
            let tombstoneRetention = Int64(text), tombstoneRetention <= maxAge
        {
            return .tombstonesOutliveNoSnapshot(
                topic: topic, deleteRetentionMilliseconds: tombstoneRetention, snapshotMaxAge: settings.snapshotMaxAge)
        }
        return nil
    }
}

/// Why the changelog topic cannot be used; each one stops the start, since running without a usable
/// changelog would lose state silently. Every message names the topic and what to do.
enum ChangelogTopicError: Error, CustomStringConvertible {
    /// An input topic does not exist, so the changelog's partition count cannot be chosen.
    case inputTopicMissing(topic: String)
    /// Reading a topic's metadata failed (unreachable brokers, authorization).
    case metadataFailed(topic: String, cause: KafkaError)
    /// The changelog was missing and creating it failed (the brokers refused or never answered).
    case creationFailed(topic: String, partitions: Int, cause: KafkaError)
    /// The changelog exists with another partition count than the input: its partitions no longer line up.
    case partitionCountMismatch(topic: String, changelogPartitions: Int, inputPartitions: Int)
    /// The changelog's `cleanup.policy` does not compact, so the brokers will delete old users' state.
    case notCompacted(topic: String, cleanupPolicy: String)
    /// The changelog's configuration could not be read (DescribeConfigs failed or was not answered).
    case configurationUnverifiable(topic: String, cause: KafkaError)
    /// `cleanup.policy=compact,delete` with a finite `retention.ms`: old users' state is deleted by time.
    case deletesByTime(topic: String, retentionMilliseconds: String)
    /// Compaction may drop a tombstone sooner than `state.snapshot_max_age`: an older snapshot still
    /// holding the evicted entry would bring it back.
    case tombstonesOutliveNoSnapshot(topic: String, deleteRetentionMilliseconds: Int64, snapshotMaxAge: EventDuration)

    /// One line: what is wrong with which topic, and what to do.
    var description: String {
        switch self {
        case .inputTopicMissing(let topic):
            "input topic '\(topic)' does not exist: create it before starting Vigil (the changelog topic is "
                + "partitioned like the input topics), or set state.changelog: false"
        case .metadataFailed(let topic, let cause):
            "cannot read the metadata of topic '\(topic)': \(cause)"
        case .creationFailed(let topic, let partitions, let cause):
            "cannot create changelog topic '\(topic)': \(cause). Create it by hand with \(partitions) partitions "
                + "and cleanup.policy=compact, or set state.changelog: false"
        case .partitionCountMismatch(let topic, let changelogPartitions, let inputPartitions):
            "changelog topic '\(topic)' has \(changelogPartitions) partitions but the input topics have "
                + "\(inputPartitions): input partition p keeps its state in changelog partition p, so this "
                + "changelog cannot be restored as it is. "
                + (changelogPartitions < inputPartitions
                    ? "Add partitions to '\(topic)' until it has \(inputPartitions) (the input grew: users whose "
                        + "keys moved to other partitions are learned again), or start"
                    : "Kafka cannot take partitions away from the input topics: start")
                + " with a new changelog (set state.changelog_topic to a new name, or delete the topic) and "
                + "accept that the state is learned anew"
        case .notCompacted(let topic, let cleanupPolicy):
            "changelog topic '\(topic)' has cleanup.policy=\(cleanupPolicy.isEmpty ? "(none)" : cleanupPolicy), "
                + "which deletes old records and with them the state of users not seen lately: set "
                + "cleanup.policy=compact on the topic"
        case .deletesByTime(let topic, let retention):
            "changelog topic '\(topic)' has cleanup.policy compact,delete with retention.ms=\(retention), which "
                + "deletes the state of users not seen within it: set cleanup.policy=compact, or retention.ms=-1"
        case .tombstonesOutliveNoSnapshot(let topic, let retention, let maxAge):
            "changelog topic '\(topic)' keeps tombstones for delete.retention.ms=\(retention), not longer than "
                + "state.snapshot_max_age (\(maxAge.configString)): a local snapshot older than the tombstones "
                + "would bring evicted entries back. Lower state.snapshot_max_age or raise delete.retention.ms"
        case .configurationUnverifiable(let topic, let cause):
            "cannot check that changelog topic '\(topic)' is compacted: \(cause). Check cleanup.policy=compact "
                + "by hand and set state.verify_topic_config: false to skip this check"
        }
    }
}
