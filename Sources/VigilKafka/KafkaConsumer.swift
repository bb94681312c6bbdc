import CRdKafka
import Logging

/// Synchronous group consumer with at-least-once semantics: `enable.auto.offset.store=false` is
/// forced, so an offset is committed only after the caller stored it with `storeOffset`, i.e. after
/// every output of that message was acknowledged. Stored offsets are committed by librdkafka's
/// auto-commit (`enable.auto.commit`, default every `auto.commit.interval.ms` = 5 s), by `commit()`,
/// and by `close()`; call `commit()` yourself on revocation to avoid redelivery to the next owner.
///
/// Threading: not thread-safe. Create it and call every method on the one thread that runs the
/// Kafka loop. The rebalance handler and `onWarning` run on that thread, inside `poll` or `close`,
/// and may call `storeOffset` and `commit` on this consumer.
public final class KafkaConsumer {
    private let handle: RdKafkaHandle
    private let queue: OpaquePointer
    private var isClosed = false

    /// `group.id` is required. The rebalance handler is told about assignments and revocations;
    /// it must not keep a strong reference to this consumer (that would be a cycle).
    public init(
        configuration: KafkaConfiguration,
        logger: Logger,
        onRebalance: @escaping (KafkaRebalanceEvent) -> Void = { _ in },
        onWarning: @escaping (KafkaWarning) -> Void = { _ in }
    ) throws(KafkaError) {
        var configuration = configuration
        configuration["enable.auto.offset.store"] = "false"
        let context = CallbackContext(logger: logger, onWarning: onWarning)
        context.rebalanceHandler = onRebalance
        handle = try RdKafkaHandle(type: RD_KAFKA_CONSUMER, configuration: configuration, context: context) {
            rd_kafka_conf_set_rebalance_cb($0) { handle, code, partitions, opaque in
                guard let handle else { return }
                KafkaConsumer.rebalance(handle, code, partitions, CallbackContext.from(opaque))
            }
        }
        // Serve errors and rebalances from the consumer queue, i.e. inside `poll`.
        rd_kafka_poll_set_consumer(handle.pointer)
        queue = rd_kafka_queue_get_consumer(handle.pointer)
    }

    deinit {
        if !isClosed {
            // rd_kafka_destroy closes the consumer and revokes; the caller's handler must not run
            // against an object that is being deinitialized.
            handle.context.rebalanceHandler = nil
        }
        rd_kafka_queue_destroy(queue)
    }

    public func subscribe(topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let code = rd_kafka_subscribe(handle.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: "subscribe", code: KafkaErrorCode(code))
        }
    }

    /// Waits up to `timeout` for the first message, then takes whatever else is already fetched,
    /// up to `maxMessages`. Messages of one partition come in offset order. If a rebalance revokes
    /// partitions during the call, their messages are left out of the batch (they were not stored,
    /// so the next owner gets them). Non-fatal errors go to `onWarning`; fatal ones are thrown.
    public func poll(maxMessages: Int, timeout: Duration) throws(KafkaError) -> [KafkaMessage] {
        guard !isClosed else { throw .closed }
        let context = handle.context
        context.revokedDuringPoll.removeAll(keepingCapacity: true)
        var batch: [KafkaMessage] = []
        var wait = timeout.kafkaMilliseconds
        while batch.count < maxMessages, let message = rd_kafka_consumer_poll(handle.pointer, wait) {
            defer { rd_kafka_message_destroy(message) }
            wait = 0
            let record = message.pointee
            if record.err == RD_KAFKA_RESP_ERR_NO_ERROR, let topic = record.rkt {
                batch.append(KafkaMessage(message, topic: context.topicName(topic)))
            } else if record.err != RD_KAFKA_RESP_ERR__FATAL {
                let reason = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
                let place = record.rkt.map { "\(context.topicName($0))[\(record.partition)]: " } ?? ""
                context.warn(KafkaWarning(code: KafkaErrorCode(record.err), reason: place + reason))
            }
        }
        if let fatal = handle.fatalError() { throw fatal }
        if !context.revokedDuringPoll.isEmpty {
            batch.removeAll { context.revokedDuringPoll.contains($0.topicPartition) }
        }
        return batch
    }

    /// Marks the message at `offset` as fully processed: stores `offset + 1`, the next offset to
    /// consume, as Kafka's committed offsets mean. A later commit makes a restarted group resume at
    /// the message after it. Fails with `_STATE` when the partition is no longer assigned.
    public func storeOffset(topic: String, partition: Int32, offset: Int64) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(1)!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_topic_partition_list_add(list, topic, partition).pointee.offset = offset + 1
        var code = rd_kafka_offsets_store(handle.pointer, list)
        if code == RD_KAFKA_RESP_ERR_NO_ERROR { code = list.pointee.elems[0].err }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: "offset store", code: KafkaErrorCode(code))
        }
    }

    /// Synchronously commits all stored offsets; a no-op when nothing new was stored.
    public func commit() throws(KafkaError) {
        guard !isClosed else { throw .closed }
        let code = rd_kafka_commit(handle.pointer, nil, 0)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR || code == RD_KAFKA_RESP_ERR__NO_OFFSET else {
            throw .operationFailed(operation: "commit", code: KafkaErrorCode(code))
        }
    }

    /// Leaves the group: the rebalance handler sees the final revocation (and may commit), then
    /// stored offsets are committed (when auto-commit is on). Blocks until done.
    public func close() throws(KafkaError) {
        guard !isClosed else { return }
        isClosed = true
        let code = rd_kafka_consumer_close(handle.pointer)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: "close", code: KafkaErrorCode(code))
        }
    }

    /// Lag of every assigned partition, from the consumer position and the high watermark cached
    /// from the latest fetch response: no broker round trip, so it is cheap on the polling thread.
    public func lag() throws(KafkaError) -> [KafkaPartitionLag] {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let code = rd_kafka_assignment(handle.pointer, &list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
            throw .operationFailed(operation: "assignment", code: KafkaErrorCode(code))
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        rd_kafka_position(handle.pointer, list)
        return (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            var low: Int64 = 0
            var high: Int64 = 0
            let known =
                rd_kafka_get_watermark_offsets(handle.pointer, element.topic, element.partition, &low, &high)
                == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0
            return KafkaPartitionLag(
                topicPartition: KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition),
                position: element.offset >= 0 ? element.offset : nil,
                highWatermark: known ? high : nil)
        }
    }

    /// Applies an assignment change and reports it, revocations before they take effect.
    /// Handles both the eager and the cooperative (incremental) protocol.
    private static func rebalance(
        _ handle: OpaquePointer,
        _ code: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        _ context: CallbackContext
    ) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(handle)) == "COOPERATIVE"
        let changed = KafkaTopicPartition.list(partitions)
        var failure: KafkaWarning?
        func record(_ error: OpaquePointer?) {
            guard let error else { return }
            failure = KafkaWarning(
                code: KafkaErrorCode(rd_kafka_error_code(error)),
                reason: "applying rebalance: " + String(cString: rd_kafka_error_string(error)))
            rd_kafka_error_destroy(error)
        }
        func record(_ code: rd_kafka_resp_err_t) {
            if code != RD_KAFKA_RESP_ERR_NO_ERROR {
                failure = KafkaWarning(code: KafkaErrorCode(code), reason: "applying rebalance")
            }
        }
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                record(rd_kafka_incremental_assign(handle, partitions))
            } else {
                record(rd_kafka_assign(handle, partitions))
            }
            context.rebalanceHandler?(.assigned(changed))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            context.rebalanceHandler?(.revoked(changed, lost: rd_kafka_assignment_lost(handle) != 0))
            context.revokedDuringPoll.formUnion(changed)
            if cooperative {
                record(rd_kafka_incremental_unassign(handle, partitions))
            } else {
                record(rd_kafka_assign(handle, nil))
            }
        default:
            failure = KafkaWarning(code: KafkaErrorCode(code), reason: "rebalance failed")
            _ = rd_kafka_assign(handle, nil)
        }
        if let failure { context.warn(failure) }
    }
}
