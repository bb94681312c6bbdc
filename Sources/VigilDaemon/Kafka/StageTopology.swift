import VigilCore
import VigilKafka
import _VigilMachinery

/// Where `vigil run`'s stages read and write, once the internal topics are set up: each keyed stage's
/// repartition topic (none for the user stage with `input.keyed_by_user`), their partition count N, and
/// the source-risk and campaigns topics the source and campaign stages publish to.
struct StageTopology: Equatable, Sendable {
    /// The repartition topic of each stage that reads one.
    private(set) var stageTopics: [StageKind: String] = [:]
    /// N: the partition count of every repartition topic.
    let partitions: Int
    /// The compacted topic of the source-risk facts.
    let sourceRiskTopic: String
    /// Its partition count (1 unless an existing topic had more).
    let sourceRiskPartitions: Int
    /// The compacted topic of the campaign facts; empty without campaign detection.
    let campaignsTopic: String
    /// Its partition count.
    let campaignsPartitions: Int

    /// The topology of the topics `prepared` set up.
    init(_ prepared: InternalTopics.Prepared) {
        if let byUser = prepared.byUser { stageTopics[.user] = byUser.name }
        if let bySource = prepared.bySource { stageTopics[.source] = bySource.name }
        if let byDomain = prepared.byDomain { stageTopics[.domain] = byDomain.name }
        if let byCampaign = prepared.byCampaign { stageTopics[.campaign] = byCampaign.name }
        partitions = prepared.partitions
        sourceRiskTopic = prepared.sourceRisk?.name ?? ""
        sourceRiskPartitions = max(1, prepared.sourceRisk?.partitions ?? 1)
        campaignsTopic = prepared.campaigns?.name ?? ""
        campaignsPartitions = max(1, prepared.campaigns?.partitions ?? 1)
    }

    /// The stage reading `topic`; nil for an input topic.
    func stage(ofTopic topic: String) -> StageKind? {
        stageTopics.first { $0.value == topic }?.key
    }

    /// The topics the consumer subscribes to: the input topics, then the repartition topics.
    func subscription(inputTopics: [String]) -> [String] {
        inputTopics + StageKind.allCases.compactMap { stageTopics[$0] }
    }

    /// `record` bound for its stage's topic, at the partition Kafka's default partitioner gives its key
    /// among N. No headers: the value is Vigil's binary stage record (`schemas/stage-records.md`).
    func output(_ record: StageRecord) -> KafkaLoopStateMachine.Output {
        guard let topic = stageTopics[record.stage] else {
            preconditionFailure("the \(record.stage) stage runs on the input partitions: its records stay in process")
        }
        return KafkaLoopStateMachine.Output(
            topic: topic, partition: Int32(record.partition(count: partitions)), key: nil, binaryKey: record.key,
            payload: record.value, headers: [], kind: nil)
    }

    /// `fact` bound for the source-risk topic, keyed by its source, at the partition Kafka's default
    /// partitioner gives that key.
    func output(_ fact: SourceRiskFact) -> KafkaLoopStateMachine.Output {
        sourceRiskRecord(key: fact.recordKey, value: fact.recordValue)
    }

    /// The tombstone withdrawing `source`'s fact from the source-risk topic (compaction then drops both).
    func retirement(of source: UInt64) -> KafkaLoopStateMachine.Output {
        sourceRiskRecord(key: SourceRiskFact.recordKey(of: source), value: nil)
    }

    /// `fact` bound for the campaigns topic, keyed by its entity.
    func output(_ fact: CampaignFact) -> KafkaLoopStateMachine.Output {
        campaignsRecord(key: fact.recordKey, value: fact.recordValue)
    }

    /// The tombstone withdrawing the campaign entity `key`'s fact from the campaigns topic.
    func retirement(ofCampaign key: UInt64) -> KafkaLoopStateMachine.Output {
        campaignsRecord(key: CampaignFact.recordKey(of: key), value: nil)
    }

    private func campaignsRecord(key: [UInt8], value: [UInt8]?) -> KafkaLoopStateMachine.Output {
        precondition(!campaignsTopic.isEmpty, "campaign facts without a campaigns topic")
        return KafkaLoopStateMachine.Output(
            topic: campaignsTopic,
            partition: Int32(Murmur2.partition(forKey: key, partitionCount: campaignsPartitions)),
            key: nil, binaryKey: key, payload: value, headers: [], kind: nil)
    }

    private func sourceRiskRecord(key: [UInt8], value: [UInt8]?) -> KafkaLoopStateMachine.Output {
        KafkaLoopStateMachine.Output(
            topic: sourceRiskTopic,
            partition: Int32(Murmur2.partition(forKey: key, partitionCount: sourceRiskPartitions)),
            key: nil, binaryKey: key, payload: value, headers: [], kind: nil)
    }
}
