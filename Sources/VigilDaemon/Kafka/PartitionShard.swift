import VigilCore

/// The pipeline of one assigned topic-partition: state is sharded by partition, so it can move on
/// rebalance. A class, so that the driver runs the pipeline in place through the shard table.
final class PartitionShard {
    var pipeline: Pipeline
    /// Tags its changelog records, so shards of input topics sharing a partition number keep apart.
    let scope: ChangelogScope

    init(pipeline: Pipeline, scope: ChangelogScope) {
        self.pipeline = pipeline
        self.scope = scope
    }
}

extension PipelineStats {
    /// Adds another shard's counts, for daemon-wide totals.
    mutating func add(_ other: PipelineStats) {
        eventsRead += other.eventsRead
        lateEvents += other.lateEvents
        for index in eventsByType.indices { eventsByType[index] += other.eventsByType[index] }
        for index in decisions.indices { decisions[index] += other.decisions[index] }
        for index in alerts.indices { alerts[index] += other.alerts[index] }
        deadLetters.merge(other.deadLetters, uniquingKeysWith: +)
    }
}
