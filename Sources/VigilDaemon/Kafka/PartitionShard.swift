import VigilCore
import VigilKafka
import _VigilMachinery

/// What `vigil run` does with one assigned topic-partition: a partition is the unit of state, placement
/// and parallelism, and the loop knows it only through this class (a class, so that the driver runs the
/// stages in place through its shard table, without copying their state).
///
/// - An input partition runs the decode stage (`DecodeStage`): dead letters, and the stage records it
///   routes to the repartition topics. With `input.keyed_by_user` it also runs the user stage itself on
///   the by-user record (the input partition is user stage partition p) and keeps that stage's state.
/// - A repartition topic's partition runs its stage's shard (`StageProcessor`): decisions and alerts, and
///   for the source and campaign stages the source-risk and campaign facts to publish.
///
/// Only a stage shard keeps durable state (changelog records scoped by its topic, in changelog partition
/// p). A decode stage alone keeps only its watermark, in memory: its input partitions are stateless for
/// the loop (`KafkaLoopStateMachine.Changelog.statelessTopics`), so an input topic may have more
/// partitions than the stages.
final class PartitionShard {
    /// The decode stage, on an input partition.
    private(set) var decode: DecodeStage?
    /// The stage shard: the repartition topic's stage, or the user stage on a keyed input partition.
    private(set) var stage: StageProcessor?
    /// Tags its changelog records, so shards of topics sharing a partition number keep apart.
    let scope: ChangelogScope
    /// Where the user stage reads source-risk and campaign facts.
    private let globalFacts: (any GlobalFactLookup)?
    /// The decode stage's routed records, kept between messages for their capacity.
    private var records: [StageRecord] = []

    /// The shard of input partition `partition`, whose records are in `format`: the decode stage, plus the
    /// user stage when `userStage`.
    init(
        decoding partition: KafkaTopicPartition, format: InputFormat, config: VigilConfig, policyVersion: String,
        enricher: Enricher?, deviceKey: SipHashKey, userStage: Bool, globalFacts: (any GlobalFactLookup)?,
        recordsChanges: Bool
    ) {
        decode = DecodeStage(config: config, deviceKey: deviceKey, format: format, enricher: enricher)
        if userStage {
            var user = StageProcessor(
                stage: .user, config: config, policyVersion: policyVersion, enricher: enricher, deviceKey: deviceKey)
            user.engine.recordsChanges = recordsChanges
            stage = user
        }
        scope = ChangelogScope(inputTopic: partition.topic)
        self.globalFacts = globalFacts
    }

    /// The shard of `kind`'s repartition topic partition `partition`.
    init(
        stage kind: StageKind, partition: KafkaTopicPartition, config: VigilConfig, policyVersion: String,
        enricher: Enricher?, deviceKey: SipHashKey, globalFacts: (any GlobalFactLookup)?, recordsChanges: Bool
    ) {
        var processor = StageProcessor(
            stage: kind, config: config, policyVersion: policyVersion, enricher: enricher, deviceKey: deviceKey)
        processor.engine.recordsChanges = recordsChanges
        stage = processor
        scope = ChangelogScope(inputTopic: partition.topic)
        self.globalFacts = globalFacts
    }

    /// What one message produced: outputs for the output topics, records for the repartition topics, the
    /// source-risk and campaign facts to publish and the sources and campaign entities whose facts are
    /// withdrawn.
    struct Produced {
        var outputs: [OutputMessage] = []
        var records: [StageRecord] = []
        var published = StagePublications()
        var retiredSources: [UInt64] = []
        var retiredCampaigns: [UInt64] = []

        mutating func removeAll() {
            outputs.removeAll(keepingCapacity: true)
            records.removeAll(keepingCapacity: true)
            published = StagePublications()
            retiredSources.removeAll(keepingCapacity: true)
            retiredCampaigns.removeAll(keepingCapacity: true)
        }
    }

    /// Runs one message of the partition through its stages. `receivedAt` bounds a decoded event's time
    /// (see `DecodeStage.accept`). A repartition record its stage refuses becomes a dead letter.
    func process(
        _ bytes: UnsafeRawBufferPointer, origin: MessageOrigin, offset: Int64, receivedAt: Timestamp,
        into produced: inout Produced
    ) {
        if decode != nil {
            records.removeAll(keepingCapacity: true)
            decode!.process(bytes, origin: origin, receivedAt: receivedAt, into: &produced.outputs, records: &records)
            for record in records {
                guard record.stage == .user, stage != nil else {
                    produced.records.append(record)
                    continue
                }
                do {
                    try stage!.process(record.value, offset: offset, globalFacts: globalFacts, into: &produced.outputs)
                } catch {
                    preconditionFailure("the decode stage wrote a record the user stage refuses: \(error)")
                }
            }
            return
        }
        do {
            produced.published = try stage!.process(
                bytes, offset: offset, globalFacts: globalFacts, into: &produced.outputs)
            produced.retiredSources = stage!.takeRetiredSources()
            produced.retiredCampaigns = stage!.takeRetiredCampaigns()
        } catch {
            produced.outputs.append(stage!.deadLetter(error, record: bytes, origin: origin))
        }
    }

    /// Adopts a new configuration between two messages.
    func reconfigure(_ config: VigilConfig, policyVersion: String) {
        decode?.reconfigure(config)
        stage?.reconfigure(config, policyVersion: policyVersion)
    }

    /// Counts of both stages.
    var stats: PipelineStats {
        var total = decode?.stats ?? PipelineStats()
        // Through the optional, not `if let stage`: that would copy the whole stage (its engine's
        // state), retaining everything it holds, for every shard at every batch's status.
        if let stats = stage?.stats { total.add(stats) }
        return total
    }

    /// The state's figures (none for a decode stage alone), the global windows ending at `newest`
    /// when it is later than the shard's own newest event (`RiskEngine.figures(globalWindowsAsOf:)`).
    func figures(globalWindowsAsOf newest: Timestamp?) -> StateFigures {
        stage?.engine.figures(globalWindowsAsOf: newest) ?? StateFigures()
    }

    /// The newest event time the shard's state saw on time (nil for a decode stage alone).
    var newestEventTime: Timestamp? { stage?.engine.newestEventTime }

    /// Evictions so far, kept in the totals when the shard goes.
    var counters: StateCounters? { stage?.engine.state.counters }

    // MARK: Durable state

    /// True when something changed since the last flush.
    var hasUnflushedChanges: Bool { stage?.engine.hasUnflushedChanges ?? false }

    /// The records of one flush at `stamp` (`RiskEngine.takeChangelogFlush(stamp:scope:)`).
    func takeChangelogFlush(stamp: Int64) -> [ChangelogRecord] {
        stage?.engine.takeChangelogFlush(stamp: stamp, scope: scope) ?? []
    }

    /// Applies one record of the changelog partition during a restore; records of other scopes are skipped.
    func applyChangelogRecord(key: [UInt8], value: [UInt8]?) throws(ChangelogRestoreError) {
        try stage?.engine.applyChangelogRecord(key: key, value: value, scope: scope)
    }

    /// The restore is complete: a decode stage on a keyed partition resumes from the user stage's newest
    /// event time, so an event late before the restart is late after it.
    func restoreFinished() {
        guard decode != nil, let stage else { return }
        decode!.resume(newestEventTime: stage.engine.newestEventTime)
    }

    /// Replaces the state with a local snapshot's; on error nothing changes.
    @discardableResult
    func restoreState(snapshot: [UInt8]) throws(StateSnapshotError) -> StateSnapshotHeader? {
        guard stage != nil else { return nil }
        let header = try stage!.engine.restoreState(snapshot: snapshot)
        restoreFinished()
        return header
    }

    /// The whole state as snapshot bytes, every entry stamped `appliedOffset`.
    func stateSnapshot(appliedOffset: Int64) -> [UInt8] {
        stage?.engine.stateSnapshot(appliedOffset: appliedOffset) ?? []
    }

    /// Guards the input through `stamp`, which the state already reflects (`RiskEngine.guardInput(through:)`).
    func guardInput(through stamp: Int64) { stage?.engine.guardInput(through: stamp) }

    /// True until the input passes what a restore restored (`RiskEngine.isReplayGuarded`).
    var isReplayGuarded: Bool { stage?.engine.isReplayGuarded ?? false }

    /// The one input offset the whole restored state reflects, when it does.
    var uniformlyRestoredStamp: Int64? { stage?.engine.uniformlyRestoredStamp }

    /// The last checkpoint a changelog restore applied.
    var restoredCheckpoint: ChangelogCheckpoint? { stage?.engine.restoredCheckpoint }
}
