import VigilCore
import VigilKafka

/// One assigned topic-partition: its own pipeline (state is sharded by partition, so it can move on
/// rebalance) and the at-least-once bookkeeping for its input offsets.
final class PartitionShard {
    /// A revoked and re-assigned partition gets a new shard object: delivery reports for outputs of
    /// the old one are recognised by identity and ignored.
    let topicPartition: KafkaTopicPartition
    var pipeline: Pipeline

    /// Input offsets in arrival order from `head` on, each with its count of unacknowledged outputs.
    private var offsets: [Int64] = []
    private var head = 0
    private var remaining: [Int64: Int] = [:]
    private var receivedAt: [Int64: ContinuousClock.Instant] = [:]
    /// Highest offset whose input and every earlier one are done; stored with `storeOffset`.
    private(set) var doneThrough: Int64?
    private(set) var storedThrough: Int64?

    init(topicPartition: KafkaTopicPartition, pipeline: Pipeline) {
        self.topicPartition = topicPartition
        self.pipeline = pipeline
    }

    /// Registers an input with `outputs` outputs to acknowledge; one with none is done at once.
    func track(offset: Int64, outputs: Int, receivedAt instant: ContinuousClock.Instant) {
        offsets.append(offset)
        remaining[offset] = outputs
        receivedAt[offset] = instant
    }

    /// Records one delivered output of the input at `offset`.
    func acknowledge(offset: Int64) {
        if let count = remaining[offset], count > 0 { remaining[offset] = count - 1 }
    }

    /// Advances the contiguous watermark; returns the receive instants of the inputs that finished,
    /// for the latency histogram.
    func advance() -> [ContinuousClock.Instant] {
        var finished: [ContinuousClock.Instant] = []
        while head < offsets.count, remaining[offsets[head]] == 0 {
            let offset = offsets[head]
            remaining[offset] = nil
            if let instant = receivedAt.removeValue(forKey: offset) { finished.append(instant) }
            doneThrough = offset
            head += 1
        }
        if head > 4096, head * 2 > offsets.count {
            offsets.removeFirst(head)
            head = 0
        }
        return finished
    }

    /// Stores the done watermark with the consumer when it moved since the last store.
    func storeDone(in consumer: KafkaConsumer) throws(KafkaError) {
        guard let done = doneThrough, done != storedThrough else { return }
        try consumer.storeOffset(topic: topicPartition.topic, partition: topicPartition.partition, offset: done)
        storedThrough = done
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
