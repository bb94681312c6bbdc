import VigilCore
import VigilKafka

/// One partition's messages of a poll batch and what its shard made of them: the unit a worker thread
/// takes (`PartitionWorkers`), so that one partition's messages run in order on one thread.
struct PartitionBatch {
    /// What every partition of a batch reads, built once per batch on the loop thread.
    struct Context: Sendable {
        var topology: StageTopology
        var kafka: KafkaSettings
        var signer: SecurityEventSigner?
        var commonHeaders: [KafkaHeader]
    }

    let partition: KafkaTopicPartition
    let shard: PartitionShard
    /// The admitted messages in offset order, each with its receive time.
    var messages: [(message: KafkaMessage, receivedAt: Timestamp)] = []
    /// Every message's outputs one after the other, in the machine's form: message i's are
    /// `outputs[outputEnds[i - 1]..<outputEnds[i]]` (from 0 for the first). One array per partition
    /// rather than one per message.
    private(set) var outputs: [KafkaLoopStateMachine.Output] = []
    private(set) var outputEnds: [Int] = []

    init(partition: KafkaTopicPartition, shard: PartitionShard) {
        self.partition = partition
        self.shard = shard
    }

    /// Runs the messages through the shard, in order. Touches only this batch and its shard, plus the
    /// shared `Sendable` state every shard reads (the enricher, the global tables).
    mutating func process(_ context: Context) {
        var produced = PartitionShard.Produced()
        outputEnds.reserveCapacity(messages.count)
        for (message, receivedAt) in messages {
            produced.removeAll()
            message.value.withUnsafeBytes {
                shard.process(
                    $0, origin: .kafka(topic: message.topic, partition: message.partition, offset: message.offset),
                    offset: message.offset, receivedAt: receivedAt, into: &produced)
            }
            for record in produced.records { outputs.append(context.topology.output(record)) }
            // Withdrawals first: an entity forgotten and counted anew by one record is withdrawn, then published.
            for source in produced.retiredSources { outputs.append(context.topology.retirement(of: source)) }
            for entity in produced.retiredCampaigns {
                outputs.append(context.topology.retirement(ofCampaign: entity))
            }
            if let fact = produced.published.sourceRisk { outputs.append(context.topology.output(fact)) }
            for fact in produced.published.campaigns { outputs.append(context.topology.output(fact)) }
            for output in produced.outputs {
                outputs.append(
                    KafkaLoop.output(
                        output, from: partition, offset: message.offset, kafka: context.kafka,
                        signer: context.signer, commonHeaders: context.commonHeaders))
            }
            outputEnds.append(outputs.count)
        }
    }
}
