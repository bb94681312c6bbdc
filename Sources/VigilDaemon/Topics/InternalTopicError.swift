import VigilCore
import VigilKafka

/// Why an internal topic cannot be used; each one stops the start, since running on it would lose events
/// or state silently. Every message names the topic and what to do.
enum InternalTopicError: Error, CustomStringConvertible {
    /// An input topic does not exist, so N cannot be chosen (nor the input consumed).
    case inputTopicMissing(topic: String)
    /// Reading a topic's metadata failed (unreachable brokers, authorization).
    case metadataFailed(topic: String, cause: KafkaError)
    /// The topic was missing and creating it as `specification` says failed (the brokers refused or never
    /// answered).
    case creationFailed(role: InternalTopics.Role, specification: KafkaTopicSpecification, cause: KafkaError)
    /// A repartition topic or the changelog exists with another partition count than N.
    case partitionCountMismatch(
        role: InternalTopics.Role, topic: String, found: Int, expected: Int, origin: InternalTopics.PartitionCountOrigin
    )
    /// With `input.keyed_by_user`, an input topic's partition p must be user stage partition p, so every
    /// input topic needs N partitions.
    case keyedInputNotCoPartitioned(
        topic: String, partitions: Int, expected: Int, origin: InternalTopics.PartitionCountOrigin)
    /// The changelog's or the source-risk table's `cleanup.policy` does not compact, so the brokers will
    /// delete entries that are still meant.
    case notCompacted(role: InternalTopics.Role, topic: String, cleanupPolicy: String)
    /// A repartition topic compacts: records of one key waiting to be processed would be dropped.
    case repartitionCompacted(topic: String, cleanupPolicy: String)
    /// The topic's configuration could not be read (DescribeConfigs failed or was not answered).
    case configurationUnverifiable(role: InternalTopics.Role, topic: String, cause: KafkaError)
    /// `cleanup.policy=compact,delete` with a finite `retention.ms`: entries are deleted by time.
    case deletesByTime(role: InternalTopics.Role, topic: String, retentionMilliseconds: String)
    /// Compaction may drop a changelog tombstone sooner than `state.snapshot_max_age`: an older snapshot
    /// still holding the evicted entry would bring it back.
    case tombstonesOutliveNoSnapshot(topic: String, deleteRetentionMilliseconds: Int64, snapshotMaxAge: EventDuration)

    /// One line: what is wrong with which topic, and what to do.
    var description: String {
        switch self {
        case .inputTopicMissing(let topic):
            "input topic '\(topic)' does not exist: create it before starting Vigil (the internal topics are "
                + "partitioned like the largest input topic unless topology.partitions is set)"
        case .metadataFailed(let topic, let cause):
            "cannot read the metadata of topic '\(topic)': \(cause)"
        case .creationFailed(let role, let specification, let cause):
            "cannot create \(role) '\(specification.name)': \(cause). Create it by hand with "
                + "\(specification.partitions) partition\(specification.partitions == 1 ? "" : "s") and "
                + specification.properties.map { "\($0.0)=\($0.1)" }.joined(separator: ", ")
                + (role == .changelog ? ", or set state.changelog: false" : "")
        case .partitionCountMismatch(let role, let topic, let found, let expected, let origin):
            role == .changelog
                ? Self.changelogMismatch(topic: topic, found: found, expected: expected, origin: origin)
                : Self.repartitionMismatch(topic: topic, found: found, expected: expected, origin: origin)
        case .keyedInputNotCoPartitioned(let topic, let partitions, let expected, let origin):
            "input topic '\(topic)' has \(partitions) partitions but \(Self.nText(expected, origin)): with "
                + "input.keyed_by_user: true, input partition p is user stage partition p and keeps its state in "
                + "changelog partition p, so every input topic needs exactly \(expected). Give the input topics "
                + "one partition count (and set topology.partitions to it), or set input.keyed_by_user: false "
                + "so that Vigil re-keys the input itself"
        case .notCompacted(let role, let topic, let cleanupPolicy):
            "\(role) '\(topic)' has cleanup.policy=\(cleanupPolicy.isEmpty ? "(none)" : cleanupPolicy), which "
                + "deletes old records and with them "
                + (role == .changelog ? "the state of users not seen lately" : "facts still in force")
                + ": set cleanup.policy=compact on the topic"
        case .repartitionCompacted(let topic, let cleanupPolicy):
            "repartition topic '\(topic)' has cleanup.policy=\(cleanupPolicy), which keeps only the latest record "
                + "of each key: events of one user, source or domain not yet processed would be dropped. Set "
                + "cleanup.policy=delete on the topic"
        case .deletesByTime(let role, let topic, let retention):
            "\(role) '\(topic)' has cleanup.policy compact,delete with retention.ms=\(retention), which deletes "
                + (role == .changelog ? "the state of users not seen within it" : "facts not renewed within it")
                + ": set cleanup.policy=compact, or retention.ms=-1"
        case .tombstonesOutliveNoSnapshot(let topic, let retention, let maxAge):
            "changelog topic '\(topic)' keeps tombstones for delete.retention.ms=\(retention), not longer than "
                + "state.snapshot_max_age (\(maxAge.configString)): a local snapshot older than the tombstones "
                + "would bring evicted entries back. Lower state.snapshot_max_age or raise delete.retention.ms"
        case .configurationUnverifiable(let role, let topic, let cause):
            "cannot check that \(role) '\(topic)' "
                + (role.isRepartition ? "does not compact" : "is compacted") + ": \(cause). Check cleanup.policy="
                + (role.isRepartition ? "delete" : "compact")
                + " by hand and set state.verify_topic_config: false to skip this check"
        }
    }

    /// "the input topics have N" or "topology.partitions is N".
    private static func nText(_ expected: Int, _ origin: InternalTopics.PartitionCountOrigin) -> String {
        origin == .configured ? "topology.partitions is \(expected)" : "the input topics have \(expected)"
    }

    private static func changelogMismatch(
        topic: String, found: Int, expected: Int, origin: InternalTopics.PartitionCountOrigin
    ) -> String {
        "changelog topic '\(topic)' has \(found) partitions but \(nText(expected, origin)): "
            + (origin == .configured ? "stage" : "input")
            + " partition p keeps its state in changelog partition p, so this changelog cannot be restored as it "
            + "is. "
            + (found < expected
                ? "Add partitions to '\(topic)' until it has \(expected) (the input grew: users whose "
                    + "keys moved to other partitions are learned again), or start"
                : "Kafka cannot take partitions away from the input topics: start")
            + " with a new changelog (set state.changelog_topic to a new name, or delete the topic) and "
            + "accept that the state is learned anew"
    }

    private static func repartitionMismatch(
        topic: String, found: Int, expected: Int, origin: InternalTopics.PartitionCountOrigin
    ) -> String {
        "repartition topic '\(topic)' has \(found) partitions but \(nText(expected, origin)): records are routed "
            + "to partition murmur2(key) % \(expected) and stage partition p keeps its state in changelog partition "
            + "p. Set topology.partitions: \(found) if the changelog has \(found) partitions too, or, once the group "
            + "has consumed it, delete '\(topic)' (Vigil creates it again with \(expected))"
    }
}
