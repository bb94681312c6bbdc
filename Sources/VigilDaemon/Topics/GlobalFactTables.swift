import Logging
import VigilCore
import VigilKafka

extension InternalTopics {
    /// The reader of the global table `role` names in `prepared`, not started yet: every instance reads the
    /// whole topic into memory (`KafkaGlobalTable`). Its client takes the connection properties and
    /// `kafka.group_id` (for ACLs; the group is never joined and nothing is committed), bounds its metadata
    /// and offset requests by `state.admin_timeout`, and reports to `metrics`. The record formats are the
    /// engine's: `decodeKey` and `decodeValue`. Start it before the first poll, judge readiness with
    /// `GlobalTableMetrics.loadingReason(table:_:)`, stop it when the loop ends (it blocks briefly: off
    /// the cooperative pool).
    static func globalTable<Key: Hashable & Sendable, Value: Sendable>(
        _ role: Role, prepared: Prepared, connection: KafkaConfiguration, config: DaemonConfig,
        metrics: GlobalTableMetrics, logger: Logger, decodeKey: @escaping @Sendable ([UInt8]) throws -> Key,
        decodeValue: @escaping @Sendable (ArraySlice<UInt8>) throws -> Value
    ) throws(KafkaError) -> KafkaGlobalTable<Key, Value> {
        precondition(role.isGlobalTable, "\(role) is no global table")
        var configuration = connection
        configuration["group.id"] = config.kafka.groupID
        return try KafkaGlobalTable(
            configuration: configuration, topic: prepared.topics[role]?.name ?? Names(config)[role],
            decodeKey: decodeKey, decodeValue: decodeValue,
            requestTimeout: .microseconds(config.state.adminTimeout.microseconds), logger: logger,
            onUpdate: metrics.record)
    }
}

/// The user stage's view of the global tables in `vigil run`: every fact the source stages published to
/// the source-risk topic and the campaign stages to the campaigns topic, on every instance. A fact arrives
/// here a propagation delay after its stage published it (`vigil_global_table_propagation_delay_seconds`),
/// so `source_ip_spraying` and `campaign_active` may lag by that much; replay, with no delay, gives the
/// figure a cluster reaches once the fact arrived.
final class GlobalFactTables: GlobalFactLookup, Sendable {
    let sourceRisk: KafkaGlobalTable<UInt64, SourceRiskFact>
    /// Nil without campaign detection (`engine.campaigns.enabled` off: no campaigns topic).
    let campaigns: KafkaGlobalTable<UInt64, CampaignFact>?

    /// The readers of the global tables `prepared` names, not started yet (`InternalTopics.globalTable`).
    init(
        prepared: InternalTopics.Prepared, connection: KafkaConfiguration, config: DaemonConfig,
        metrics: DaemonMetrics, logger: Logger
    ) throws(KafkaError) {
        sourceRisk = try InternalTopics.globalTable(
            .sourceRisk, prepared: prepared, connection: connection, config: config, metrics: metrics.sourceRiskTable,
            logger: logger,
            decodeKey: { key in try key.withUnsafeBytes { try SourceRiskFact.source(ofRecordKey: $0) } },
            decodeValue: { value in
                // The source is the key's: the value is read with a placeholder key, and the lookup
                // names the source.
                try Self.placeholderKey.withUnsafeBytes { key in
                    try Array(value).withUnsafeBytes { try SourceRiskFact(recordKey: key, value: $0) }
                }
            })
        guard prepared.campaigns != nil else {
            campaigns = nil
            return
        }
        campaigns = try InternalTopics.globalTable(
            .campaigns, prepared: prepared, connection: connection, config: config, metrics: metrics.campaignsTable,
            logger: logger,
            decodeKey: { key in try key.withUnsafeBytes { try CampaignFact.entity(ofRecordKey: $0) } },
            decodeValue: { value in
                try Self.placeholderKey.withUnsafeBytes { key in
                    try Array(value).withUnsafeBytes { try CampaignFact(recordKey: key, value: $0) }
                }
            })
    }

    private static let placeholderKey = [UInt8](repeating: 0, count: 8)

    /// Starts every reader.
    func start() {
        sourceRisk.start()
        campaigns?.start()
    }

    /// Stops every reader (blocks briefly: off the cooperative pool).
    func stop() {
        sourceRisk.stop()
        campaigns?.stop()
    }

    /// Why the tables are not loaded yet, for the readiness reason; nil once every one has read its
    /// whole topic.
    var loadingReason: String? {
        GlobalTableMetrics.loadingReason(table: "source-risk", sourceRisk.status)
            ?? campaigns.flatMap { GlobalTableMetrics.loadingReason(table: "campaigns", $0.status) }
    }

    func sourceRisk(_ source: UInt64) -> SourceRiskFact? {
        guard var fact = sourceRisk.value(forKey: source) else { return nil }
        fact.source = source
        return fact
    }

    func campaign(_ key: UInt64) -> CampaignFact? {
        guard var fact = campaigns?.value(forKey: key) else { return nil }
        fact.key = key
        return fact
    }
}
