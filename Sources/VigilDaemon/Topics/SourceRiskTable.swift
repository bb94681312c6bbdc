import Logging
import VigilKafka

extension InternalTopics {
    /// The reader of the source-risk topic `prepared` names, not started yet: every instance reads the whole
    /// topic into memory (`KafkaGlobalTable`). Its client takes the connection properties and
    /// `kafka.group_id` (for ACLs; the group is never joined and nothing is committed), bounds its metadata
    /// and offset requests by `state.admin_timeout`, and reports to `metrics.sourceRiskTable`. The record
    /// formats are the engine's: `decodeKey` and `decodeValue`. Start it before the first poll, judge
    /// readiness with `GlobalTableMetrics.loadingReason(table: "source-risk", _:)`, stop it when the loop
    /// ends (it blocks briefly: off the cooperative pool).
    static func sourceRiskTable<Key: Hashable & Sendable, Value: Sendable>(
        prepared: Prepared, connection: KafkaConfiguration, config: DaemonConfig, metrics: DaemonMetrics,
        logger: Logger, decodeKey: @escaping @Sendable ([UInt8]) throws -> Key,
        decodeValue: @escaping @Sendable (ArraySlice<UInt8>) throws -> Value
    ) throws(KafkaError) -> KafkaGlobalTable<Key, Value> {
        var configuration = connection
        configuration["group.id"] = config.kafka.groupID
        return try KafkaGlobalTable(
            configuration: configuration, topic: prepared.sourceRisk?.name ?? Names(config).sourceRisk,
            decodeKey: decodeKey, decodeValue: decodeValue,
            requestTimeout: .microseconds(config.state.adminTimeout.microseconds), logger: logger,
            onUpdate: metrics.sourceRiskTable.record)
    }
}
