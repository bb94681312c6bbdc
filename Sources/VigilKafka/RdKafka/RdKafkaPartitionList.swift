import CRdKafka

/// Owns one `rd_kafka_topic_partition_list_t` for the length of a call. Noncopyable, so the list is
/// destroyed exactly once, when the value goes out of scope, without a class allocation per call.
struct RdKafkaPartitionList: ~Copyable {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    /// "No offset": the broker's or the library's choice applies (for pause, resume, committed).
    static let invalidOffset = Int64(RD_KAFKA_OFFSET_INVALID)

    init(_ entries: some Collection<(KafkaTopicPartition, Int64)>) {
        pointer = rd_kafka_topic_partition_list_new(Int32(entries.count))!
        for (partition, offset) in entries {
            rd_kafka_topic_partition_list_add(pointer, partition.topic, partition.partition).pointee.offset = offset
        }
    }

    init(_ partitions: [KafkaTopicPartition]) {
        self.init(partitions.lazy.map { ($0, Self.invalidOffset) })
    }

    /// Takes over a list librdkafka allocated for the caller (e.g. `rd_kafka_assignment`).
    init(taking pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        self.pointer = pointer
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(pointer)
    }

    /// Every element's partition and offset, in list order.
    var entries: [(partition: KafkaTopicPartition, offset: Int64)] {
        (0..<Int(pointer.pointee.cnt)).map { index in
            let element = pointer.pointee.elems[index]
            return (
                KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition), element.offset
            )
        }
    }

    /// The last per-partition error librdkafka recorded in the list (commits and offset stores
    /// report them there, not in their return code).
    var elementError: KafkaErrorCode? {
        let list = pointer.pointee
        return (0..<Int(list.cnt)).reversed().lazy.compactMap { failure(list.elems[$0].err) }.first
    }

    /// The partitions of a list librdkafka owns (a rebalance callback's argument).
    static func partitions(of list: UnsafePointer<rd_kafka_topic_partition_list_t>?) -> [KafkaTopicPartition] {
        guard let list, let elements = list.pointee.elems else { return [] }
        return (0..<Int(list.pointee.cnt)).map {
            KafkaTopicPartition(topic: String(cString: elements[$0].topic), partition: elements[$0].partition)
        }
    }
}
