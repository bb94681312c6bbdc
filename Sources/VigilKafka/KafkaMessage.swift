/// A topic and partition, the unit of assignment, ordering and offset storage.
public struct KafkaTopicPartition: Hashable, Sendable, CustomStringConvertible {
    /// The topic name.
    public let topic: String
    /// The partition number within `topic`, from 0.
    public let partition: Int32

    /// Names one partition, e.g. to pause it or to ask for its committed offset.
    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    /// `topic[partition]`, the form librdkafka's own messages use.
    public var description: String { "\(topic)[\(partition)]" }
}

/// A Kafka record header. The value is raw bytes; nil is a header with a null value.
public struct KafkaHeader: Hashable, Sendable {
    /// The header key; a record may carry the same name more than once.
    public let name: String
    /// The header bytes, nil for a null value (which Kafka distinguishes from an empty one).
    public let value: [UInt8]?

    /// A header to attach with `KafkaProducer.produce`.
    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }
}

/// One consumed record, copied out of librdkafka's buffers so it can outlive the poll.
/// Value and key share one allocation; headers are copied only when the record has any.
public struct KafkaMessage: Sendable {
    /// The topic the record was consumed from.
    public let topic: String
    /// The record's partition within `topic`.
    public let partition: Int32
    /// The record's position in its partition; `KafkaConsumer.storeOffset` takes it once the record is done.
    public let offset: Int64
    /// Milliseconds since the Unix epoch (create or log-append time), nil when the broker gave none.
    public let timestamp: Int64?
    /// The record headers in the order they were produced; empty when the record has none.
    public let headers: [KafkaHeader]
    /// Value bytes followed by key bytes.
    private let storage: [UInt8]
    private let valueCount: Int
    private let hasKey: Bool
    /// True for a null value: in a compacted topic, a tombstone (the key was deleted).
    public let isNullValue: Bool

    /// The record value; zero-based, an empty slice for a null value (see `isNullValue`).
    public var value: ArraySlice<UInt8> { storage[..<valueCount] }

    /// The record key bytes (copied on each access), nil for a null key.
    public var key: [UInt8]? { hasKey ? Array(storage[valueCount...]) : nil }

    /// The record key decoded as UTF-8 (invalid bytes repaired), nil for a null key.
    public var keyString: String? { hasKey ? String(decoding: storage[valueCount...], as: UTF8.self) : nil }

    /// Key and value bytes together, without copying the key.
    var keyAndValueByteCount: Int { storage.count }

    /// The record's topic and partition, the key under which the consumer tracks ordering and offsets.
    public var topicPartition: KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: partition) }

    /// `storage` holds the value's `valueCount` bytes followed by the key's.
    init(
        topic: String, partition: Int32, offset: Int64, timestamp: Int64?, headers: [KafkaHeader],
        storage: [UInt8], valueCount: Int, hasKey: Bool, isNullValue: Bool
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.headers = headers
        self.storage = storage
        self.valueCount = valueCount
        self.hasKey = hasKey
        self.isNullValue = isNullValue
    }
}

/// The outcome of one produced message, matched to the caller's work by `opaque`.
public struct KafkaDeliveryReport: Sendable {
    /// Whether the brokers acknowledged the message.
    public enum Outcome: Sendable {
        /// Written and acknowledged (`acks=all` by default: by every in-sync replica) at this position.
        case delivered(partition: Int32, offset: Int64)
        /// librdkafka gave up on the message; the caller decides whether to produce it again.
        case failed(KafkaDeliveryFailure)
    }

    /// The token given to `KafkaProducer.produce`.
    public let opaque: UInt64
    /// Acknowledged or given up.
    public let outcome: Outcome
}

/// Why librdkafka gave up on a message (after its own retries, bounded by `message.timeout.ms`).
public struct KafkaDeliveryFailure: Error, Sendable, CustomStringConvertible {
    /// librdkafka's reason, e.g. `_MSG_TIMED_OUT` or a broker error such as `MSG_SIZE_TOO_LARGE`.
    public let code: KafkaErrorCode
    /// True when the producer itself failed fatally and must be recreated.
    public let isFatal: Bool

    /// The code and whether the failure was fatal, for logs.
    public var description: String { "delivery failed: \(code)\(isFatal ? " (fatal)" : "")" }
}

/// A change of the consumer's partition assignment, reported on the polling thread.
public enum KafkaRebalanceEvent: Sendable, Equatable {
    /// Partitions now owned by this consumer (for the cooperative protocol: only the added ones).
    case assigned([KafkaTopicPartition])
    /// Partitions about to be taken away. Reported *before* librdkafka unassigns them, so the handler
    /// can store and commit offsets for finished work. `lost` means another member may already own
    /// them (session timeout), so committing for them may fail and their work may be redone elsewhere.
    case revoked([KafkaTopicPartition], lost: Bool)
}

/// Consumer lag of one assigned partition, for metrics.
public struct KafkaPartitionLag: Sendable {
    /// The assigned partition these figures describe.
    public let topicPartition: KafkaTopicPartition
    /// Offset of the next message the application will receive; nil before the first fetch.
    public let position: Int64?
    /// Offset after the last message on the broker, as of the latest fetch; nil before it.
    public let highWatermark: Int64?

    /// Messages on the broker that the application has not received yet.
    public var lag: Int64? {
        guard let position, let highWatermark else { return nil }
        return max(0, highWatermark - position)
    }
}
