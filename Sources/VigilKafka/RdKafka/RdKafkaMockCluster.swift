import CRdKafka
import Logging

/// librdkafka's mock brokers (`rd_kafka_mock_*`). Its calls only post requests to the mock cluster's
/// own thread, so they are safe from any thread.
final class RdKafkaMockCluster: @unchecked Sendable {
    /// The mock cluster needs an rd_kafka_t of its own for bookkeeping; this one never connects.
    private let client: RdKafkaClient
    private let cluster: OpaquePointer

    init(brokers: Int, logger: Logger) throws(KafkaError) {
        client = try RdKafkaClient(
            kind: .producer, configuration: KafkaConfiguration(),
            context: CallbackContext(logger: logger, onWarning: { _ in }))
        guard let cluster = rd_kafka_mock_cluster_new(client.pointer, Int32(brokers)) else {
            throw .clientCreationFailed(reason: "rd_kafka_mock_cluster_new failed")
        }
        self.cluster = cluster
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// Comma-separated `host:port` list for `bootstrap.servers`.
    var bootstrapServers: String { String(cString: rd_kafka_mock_cluster_bootstraps(cluster)) }

    func createTopic(_ name: String, partitions: Int, replicationFactor: Int) -> KafkaErrorCode? {
        failure(rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(replicationFactor)))
    }

    func setBrokerDown(id: Int32) -> KafkaErrorCode? {
        failure(rd_kafka_mock_broker_set_down(cluster, id))
    }

    func setBrokerUp(id: Int32) -> KafkaErrorCode? {
        failure(rd_kafka_mock_broker_set_up(cluster, id))
    }

    func pushRequestErrors(apiKey: Int16, _ codes: [KafkaErrorCode]) {
        let errors = codes.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        rd_kafka_mock_push_request_errors_array(cluster, apiKey, errors.count, errors)
    }

    func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(cluster, apiKey)
    }

    func setPartitionLeader(topic: String, partition: Int32, broker: Int32) -> KafkaErrorCode? {
        failure(rd_kafka_mock_partition_set_leader(cluster, topic, partition, broker))
    }

    func setGroupCoordinator(group: String, broker: Int32) -> KafkaErrorCode? {
        failure(rd_kafka_mock_coordinator_set(cluster, "group", group, broker))
    }
}
