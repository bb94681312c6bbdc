import Logging
import VigilCore
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

/// The user stage's view of the source-risk topic in `vigil run`: the global table of every fact the
/// source stages published, on every instance. A fact arrives here a propagation delay after its source
/// crossed the threshold (`vigil_global_table_propagation_delay_seconds`), so `source_ip_spraying` may lag
/// by that much; replay, with no delay, gives the figure a cluster reaches once the fact arrived.
final class SourceRiskFacts: SourceRiskLookup, Sendable {
    let table: KafkaGlobalTable<UInt64, SourceRiskFact>

    /// The reader of the source-risk topic `prepared` names, not started yet
    /// (`InternalTopics.sourceRiskTable`).
    init(
        prepared: InternalTopics.Prepared, connection: KafkaConfiguration, config: DaemonConfig,
        metrics: DaemonMetrics, logger: Logger
    ) throws(KafkaError) {
        table = try InternalTopics.sourceRiskTable(
            prepared: prepared, connection: connection, config: config, metrics: metrics, logger: logger,
            decodeKey: { key in try key.withUnsafeBytes { try SourceRiskFact.source(ofRecordKey: $0) } },
            decodeValue: { value in
                // The source is the key's: the value is read with a placeholder key, and the lookup
                // names the source.
                try Self.placeholderKey.withUnsafeBytes { key in
                    try Array(value).withUnsafeBytes { try SourceRiskFact(recordKey: key, value: $0) }
                }
            })
    }

    private static let placeholderKey = [UInt8](repeating: 0, count: 8)

    func sourceRisk(_ source: UInt64) -> SourceRiskFact? {
        guard var fact = table.value(forKey: source) else { return nil }
        fact.source = source
        return fact
    }
}
