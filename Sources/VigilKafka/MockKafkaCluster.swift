import CRdKafka
import Logging

/// An in-process Kafka cluster (librdkafka's mock brokers) listening on loopback TCP, so tests,
/// `vigil demo` and external tools such as `kcat` can use it without a real Kafka.
/// Its methods are thread-safe: they only post requests to the mock cluster's own thread.
public final class MockKafkaCluster: @unchecked Sendable {
    private let handle: RdKafkaHandle
    private let cluster: OpaquePointer
    /// Comma-separated `host:port` list for `bootstrap.servers`.
    public let bootstrapServers: String

    /// Brokers get ids 1...brokers.
    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        // The mock cluster needs an rd_kafka_t of its own for bookkeeping; this one never connects.
        handle = try RdKafkaHandle(
            type: RD_KAFKA_PRODUCER, configuration: KafkaConfiguration(),
            context: CallbackContext(logger: logger, onWarning: { _ in }))
        guard let cluster = rd_kafka_mock_cluster_new(handle.pointer, Int32(brokers)) else {
            throw .clientCreationFailed(reason: "rd_kafka_mock_cluster_new failed")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// Creates `name` up front. Without it the mock brokers create a topic on first use with their
    /// default partition count, which a test of partitioning or rebalancing should not depend on.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try check(
            "create topic", rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor)))
    }

    /// Disconnects the broker and refuses new connections (no leader change).
    public func setBrokerDown(id: Int32) throws(KafkaError) {
        try check("broker down", rd_kafka_mock_broker_set_down(cluster, id))
    }

    /// Lets the broker accept connections again after `setBrokerDown`; clients reconnect by themselves.
    public func setBrokerUp(id: Int32) throws(KafkaError) {
        try check("broker up", rd_kafka_mock_broker_set_up(cluster, id))
    }

    private func check(_ operation: String, _ code: rd_kafka_resp_err_t) throws(KafkaError) {
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: operation, code: KafkaErrorCode(code))
        }
    }
}
