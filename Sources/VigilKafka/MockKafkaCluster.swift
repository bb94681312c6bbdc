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

    /// Answers the next `count` Produce requests, from any client, with `code` instead of storing their
    /// messages: a producer sees the failure it would see from a real broker refusing its writes (a
    /// permanent code such as `TOPIC_AUTHORIZATION_FAILED` fails the messages of each request at once).
    public func failProduceRequests(count: Int, with code: KafkaErrorCode) {
        cluster.pushRequestErrors(apiKey: RdKafkaMockCluster.produceAPIKey, Array(repeating: code, count: count))
    }

    /// Forgets the Produce failures `failProduceRequests` queued that no request has met yet.
    public func clearProduceRequestFailures() {
        cluster.clearRequestErrors(apiKey: RdKafkaMockCluster.produceAPIKey)
    }

    /// Answers the next `count` InitProducerId requests (the first request of an idempotent producer)
    /// with `code`; `CLUSTER_AUTHORIZATION_FAILED` there is a fatal error of the producer.
    public func failProducerIDRequests(count: Int, with code: KafkaErrorCode) {
        cluster.pushRequestErrors(apiKey: RdKafkaMockCluster.initProducerIDAPIKey, Array(repeating: code, count: count))
    }

    private func check(_ operation: String, _ code: KafkaErrorCode?) throws(KafkaError) {
        if let code { throw .operationFailed(operation: operation, code: code) }
    }
}
