import _VigilMachinery

/// Where an input message came from, carried into dead letters and logs so an operator can find it.
public enum MessageOrigin: Sendable, Equatable {
    case file(path: String, line: Int)
    case kafka(topic: String, partition: Int32, offset: Int64)

    /// The input offset of a Kafka message: what the replay guard compares (`RiskEngine.process`).
    var offset: Int64? {
        if case .kafka(_, _, let offset) = self { offset } else { nil }
    }
}

/// Where in the input a stage record's event was read: its input partition, as a public hash of the
/// topic and partition, and its offset there. Each stage shard keeps the highest offset it applied per
/// input partition (`ShardState.inputMarks`): when the decode stage consumes input again after a crash
/// (its offsets are committed only once its records are acknowledged), the records it produces again
/// are recognised and change no state a second time, whatever offsets they got in the stage topic.
public struct InputPosition: Sendable, Equatable {
    /// The input partition's hash (`MessageOrigin.inputPosition`).
    public var partition: UInt64
    /// The event's place in it: the message's offset × `eventsPerMessage` + the event's index within the
    /// message (one Entra message carries a batch of records, one record several events), so every
    /// event of a batch has its own mark and a batch consumed again is recognised event by event.
    public var offset: Int64

    /// A position as given.
    public init(partition: UInt64, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    static let partitionKey = SipHashKey.publicDefault.derived(11)

    /// The most events one message may yield; offsets below 2⁵¹ (far beyond any partition's life) keep
    /// every position within 64 bits.
    public static let eventsPerMessage = 4096
}

extension MessageOrigin {
    /// The input position of the first event of a Kafka message; nil for a file's line (replay reads
    /// each line once).
    public var inputPosition: InputPosition? { inputPosition(event: 0) }

    /// The input position of the message's event number `index` (below `InputPosition.eventsPerMessage`).
    public func inputPosition(event index: Int) -> InputPosition? {
        guard case .kafka(let topic, let partition, let offset) = self else { return nil }
        precondition((0..<InputPosition.eventsPerMessage).contains(index), "an event index beyond a message's")
        return InputPosition(
            partition: InputPosition.partitionKey.hash(topic, tweak: UInt64(UInt32(bitPattern: partition))),
            offset: offset * Int64(InputPosition.eventsPerMessage) + Int64(index))
    }
}
