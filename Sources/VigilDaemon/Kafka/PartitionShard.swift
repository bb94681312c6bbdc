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
