import Logging

/// Topic administration for Vigil's internal topics (changelog, repartition and source-risk topics):
/// read a topic's partition count, create a topic, read a topic's configuration (`cleanup.policy`).
///
/// Every call is bounded by its `timeout` and fails with a ``KafkaError`` naming the request and the
/// topic, never hangs: a cluster that does not answer an admin request (librdkafka 2.0.2's mock
/// cluster answers neither `CreateTopics` nor `DescribeConfigs`) gives
/// ``KafkaError/topicRequestTimedOut(request:topic:timeout:)``, which the daemon can report as is.
///
/// Threading: not thread-safe, and every call blocks for up to its timeout: call it from one thread,
/// off Swift's cooperative pool (``onDedicatedThread(name:_:)``).
public final class KafkaAdmin {
    private let client: RdKafkaClient

    /// Only the connection properties matter (`bootstrap.servers`, security); the client never
    /// produces. `allow.auto.create.topics=false` is forced so no request of this client creates a
    /// topic as a side effect.
    public init(
        configuration: KafkaConfiguration, logger: Logger, onWarning: @escaping (KafkaWarning) -> Void = { _ in }
    ) throws(KafkaError) {
        var configuration = configuration.only(for: .producer)
        configuration["allow.auto.create.topics"] = "false"
        client = try RdKafkaClient(
            kind: .producer, configuration: configuration,
            context: CallbackContext(logger: logger, onWarning: onWarning))
    }

    /// The number of partitions of `topic`, nil when the cluster has no such topic. Never creates
    /// it: the metadata request asks for all topics, since brokers (and the mock cluster) may create
    /// a topic that a metadata request names.
    public func partitionCount(of topic: String, timeout: Duration) throws(KafkaError) -> Int? {
        try client.partitionCount(of: topic, timeout: timeout)
    }

    /// Creates `topic`. Fails with `topicRequestFailed` and ``KafkaErrorCode/topicAlreadyExists`` when it exists
    /// (check with `partitionCount` first), and with `topicRequestTimedOut` when the brokers do not
    /// answer within `timeout`.
    public func createTopic(_ topic: KafkaTopicSpecification, timeout: Duration) throws(KafkaError) {
        try client.createTopic(
            topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor,
            properties: topic.properties, timeout: timeout)
    }

    /// Every configuration value of `topic` as the brokers report it, defaults included, e.g.
    /// `["cleanup.policy": "compact", ...]`: what validating an existing internal topic needs.
    public func topicConfiguration(of topic: String, timeout: Duration) throws(KafkaError) -> [String: String] {
        try client.topicConfiguration(of: topic, timeout: timeout)
    }
}

/// What `KafkaAdmin.createTopic` creates: a name, a partition count, a replication factor and topic
/// properties.
public struct KafkaTopicSpecification: Sendable {
    /// The topic name.
    public var name: String
    /// Partitions; a changelog has as many as the stages' repartition topics, so stage partition p's
    /// state lives in p.
    public var partitions: Int
    /// Copies of each partition; at most the number of brokers.
    public var replicationFactor: Int
    /// Topic-level properties in the order they are sent (e.g. `cleanup.policy`).
    public var properties: [(String, String)]

    /// A topic with the given properties (none: the brokers' defaults).
    public init(name: String, partitions: Int, replicationFactor: Int, properties: [(String, String)] = []) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.properties = properties
    }

    /// A log-compacted topic (`cleanup.policy=compact`): Kafka keeps the latest record of each key
    /// and drops a key after its tombstone, which is what makes a changelog a restorable copy of a
    /// state store rather than a growing history.
    public static func compacted(name: String, partitions: Int, replicationFactor: Int) -> Self {
        Self(
            name: name, partitions: partitions, replicationFactor: replicationFactor,
            properties: [("cleanup.policy", "compact")])
    }
}
