import CRdKafka

extension KafkaMessage {
    /// Copies a consumed record out of librdkafka's buffers: value and key into one allocation,
    /// headers only when the record has any.
    init(copying message: UnsafeMutablePointer<rd_kafka_message_t>, topic: String) {
        let record = message.pointee
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let milliseconds = rd_kafka_message_timestamp(message, &timestampType)
        self.init(
            topic: topic,
            partition: record.partition,
            offset: record.offset,
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : milliseconds,
            headers: Self.headers(of: message),
            storage: [UInt8](unsafeUninitializedCapacity: record.len + record.key_len) { buffer, count in
                if let payload = record.payload, record.len > 0 {
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(
                        from: UnsafeRawBufferPointer(start: payload, count: record.len))
                }
                if let key = record.key, record.key_len > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[record.len...])
                        .copyMemory(from: UnsafeRawBufferPointer(start: key, count: record.key_len))
                }
                count = record.len + record.key_len
            },
            valueCount: record.len,
            hasKey: record.key != nil,
            isNullValue: record.payload == nil)
    }

    private static func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        return (0..<rd_kafka_header_cnt(list)).compactMap { index in
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR,
                let name
            else { return nil }
            return KafkaHeader(
                name: String(cString: name),
                value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) })
        }
    }
}

/// What one `rd_kafka_consumer_poll` returned: a record, or an error event (a partition's end, a
/// fetch failure, a fatal error), already copied into Swift values.
enum RdKafkaPolled {
    case message(KafkaMessage)
    /// `topic` is nil when the error concerns no partition; `offset` is the position it refers to
    /// (for a partition's end: the offset the next record will get).
    case error(code: KafkaErrorCode, topic: String?, partition: Int32, offset: Int64, reason: String)
}
