import Logging

/// An in-process Kafka cluster (librdkafka's mock brokers) listening on loopback TCP, so tests,
/// `vigil demo` and external tools such as `kcat` can use it without a real Kafka.
/// Its methods are thread-safe: they only post requests to the mock cluster's own thread.
public final class MockKafkaCluster: Sendable {
    private let cluster: RdKafkaMockCluster
    /// Comma-separated `host:port` list for `bootstrap.servers`.
    public let bootstrapServers: String

    /// Brokers get ids 1...brokers.
    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        cluster = try RdKafkaMockCluster(brokers: brokers, logger: logger)
        bootstrapServers = cluster.bootstrapServers
    }

    /// Creates `name` up front. Without it the mock brokers create a topic on first use with their
    /// default partition count, which a test of partitioning or rebalancing should not depend on.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try check(
            "create topic", cluster.createTopic(name, partitions: partitions, replicationFactor: replicationFactor))
    }

    /// Disconnects the broker and refuses new connections (no leader change).
    public func setBrokerDown(id: Int32) throws(KafkaError) {
        try check("broker down", cluster.setBrokerDown(id: id))
    }

    /// Lets the broker accept connections again after `setBrokerDown`; clients reconnect by themselves.
    public func setBrokerUp(id: Int32) throws(KafkaError) {
        try check("broker up", cluster.setBrokerUp(id: id))
    }

    /// Moves the leadership of `topic`'s `partition` to `broker`, so that one broker's outage can
    /// hit some topics only (clients learn the leader from their next metadata request).
    public func setPartitionLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try check("partition leader", cluster.setPartitionLeader(topic: topic, partition: partition, broker: broker))
    }

    /// Makes `broker` the coordinator of consumer group `group`.
    public func setGroupCoordinator(group: String, broker: Int32) throws(KafkaError) {
        try check("group coordinator", cluster.setGroupCoordinator(group: group, broker: broker))
    }

    private func check(_ operation: String, _ code: KafkaErrorCode?) throws(KafkaError) {
        if let code { throw .operationFailed(operation: operation, code: code) }
    }
}
