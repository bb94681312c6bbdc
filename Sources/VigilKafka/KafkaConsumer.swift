import CRdKafka
import Logging

/// Synchronous group consumer with at-least-once semantics: `enable.auto.offset.store=false` is
/// forced, so an offset is committed only after the caller stored it with `storeOffset`, i.e. after
/// every output of that message was acknowledged. Stored offsets are committed by librdkafka's
/// auto-commit (`enable.auto.commit`, default every `auto.commit.interval.ms` = 5 s), by `commit()`,
/// and by `close()`.
///
/// On revocation (not on loss) the consumer commits the revoked partitions' stored offsets itself,
/// right after the rebalance handler returned, so what the handler stored reaches the next owner.
/// With the eager protocol the group is already rebalancing then, and a coordinator may reject the
/// commit (`REBALANCE_IN_PROGRESS`, `ILLEGAL_GENERATION`; librdkafka's mock cluster always does).
/// librdkafka neither retries it nor keeps the offsets: unassigning drops the stored offsets of
/// removed partitions, and its own unassign-time auto-commit meets the same rejection. So the
/// rejected offsets are kept and committed again, explicitly, in the next assignment callback (the
/// new generation; up to five assignments while the rejections go on). Not earlier: every rejected
/// commit makes librdkafka rejoin the group, so retrying while the group rebalances keeps it
/// rebalancing. The retry races with the next owner's first fetch: it narrows redelivery, it cannot
/// rule it out (at least once). With the cooperative protocol librdkafka may make no further
/// assignment callback; the offsets are then left to redelivery too.
///
/// Threading: not thread-safe. Create it and call every method on the one thread that runs the
/// Kafka loop. The rebalance handler and `onWarning` run on that thread, inside `poll` or `close`,
/// and may call `storeOffset` and `commit` on this consumer.
public final class KafkaConsumer {
    let handle: RdKafkaHandle
    private var isClosed = false
    /// The latest offset stored per partition (the next one to consume), for the revocation commit.
    private var stored: [KafkaTopicPartition: Int64] = [:]
    /// Revocation commits the coordinator rejected, retried at the next assignments.
    private var deferredCommits: [KafkaTopicPartition: Int64] = [:]
    private var deferredAttempts = 0
    /// When the oldest deferred commit was rejected: retries stop after `deferredCommitLimit`.
    private var deferredSince: ContinuousClock.Instant?
    /// How long after a revocation its rejected commit may still be retried. Past that, the partition's
    /// new owner may have committed further, and an older offset would rewind it.
    static let deferredCommitLimit = Duration.seconds(30)

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
        context.consumer = self
        // Serve errors and rebalances from the consumer queue, i.e. inside `poll`.
        rd_kafka_poll_set_consumer(handle.pointer)
    }

    deinit {
        // rd_kafka_destroy closes an open consumer, which revokes; the caller's handler must not run
        // against an object that is being deinitialized.
        handle.context.rebalanceHandler = nil
    }

    /// Joins the group for `topics`, replacing any previous subscription. Partitions are assigned
    /// later, inside `poll`, and reported to the rebalance handler; nothing is fetched before that.
    public func subscribe(topics: [String]) throws(KafkaError) {
        let list = rd_kafka_topic_partition_list_new(Int32(topics.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for topic in topics { rd_kafka_topic_partition_list_add(list, topic, RD_KAFKA_PARTITION_UA) }
        let code = rd_kafka_subscribe(handle.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: "subscribe", code: KafkaErrorCode(code))
        }
    }

    /// Waits up to `timeout` for the first message, then takes whatever else is already fetched, up
    /// to `maxMessages`. This tight `rd_kafka_consumer_poll` loop measured as fast as
    /// `rd_kafka_consume_batch_queue`, which would also wait for a full batch. Messages of one
    /// partition come in offset order. If a rebalance revokes partitions during the call, their
    /// messages fetched before the revocation are left out of the batch (they were not stored, so
    /// the next owner gets them). Non-fatal errors go to `onWarning`; fatal ones are thrown.
    public func poll(maxMessages: Int, timeout: Duration) throws(KafkaError) -> [KafkaMessage] {
        guard !isClosed else { throw .closed }
        let context = handle.context
        var batch: [KafkaMessage] = []
        var wait = timeout.kafkaMilliseconds
        while batch.count < maxMessages {
            let message = rd_kafka_consumer_poll(handle.pointer, wait)
            // A revocation ran inside that call: drop what was fetched before it. Messages returned
            // from now on belong to the new assignment, even for a partition that was re-assigned.
            if !context.revokedDuringPoll.isEmpty {
                batch.removeAll { context.revokedDuringPoll.contains($0.topicPartition) }
                context.revokedDuringPoll.removeAll(keepingCapacity: true)
            }
            guard let message else { break }
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
        stored[KafkaTopicPartition(topic: topic, partition: partition)] = offset + 1
    }

    /// The group's committed offsets (next offset to consume; nil when none) for `partitions`,
    /// asked from the coordinator: a blocking round trip, for tests and diagnostics.
    public func committed(
        _ partitions: [KafkaTopicPartition], timeout: Duration
    ) throws(KafkaError) -> [KafkaTopicPartition: Int64?] {
        let list = Self.makeList(partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_committed(handle.pointer, list, timeout.kafkaMilliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: "committed", code: KafkaErrorCode(code))
        }
        var result: [KafkaTopicPartition: Int64?] = [:]
        for index in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[index]
            let partition = KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
            result[partition] = element.offset >= 0 ? element.offset : nil
        }
        return result
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
    /// stored offsets are committed (when auto-commit is on). Blocks until done. After a fatal error
    /// it only marks the consumer closed: a fatal consumer cannot leave its group (see `deinit`).
    public func close() throws(KafkaError) {
        guard !isClosed else { return }
        isClosed = true
        guard handle.fatalError() == nil else { return }
        let code = rd_kafka_consumer_close(handle.pointer)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: "close", code: KafkaErrorCode(code))
        }
    }

    /// Stops fetching `partitions` (default: the whole current assignment) until `resume`. `poll` must
    /// still be called meanwhile: it serves rebalances and keeps the member in its group. Messages
    /// already fetched may still be returned. Partitions assigned later are not paused.
    public func pause(_ partitions: [KafkaTopicPartition]? = nil) throws(KafkaError) {
        try pauseOrResume(partitions, pause: true)
    }

    /// Fetches again from the position after the last message `poll` returned.
    public func resume(_ partitions: [KafkaTopicPartition]? = nil) throws(KafkaError) {
        try pauseOrResume(partitions, pause: false)
    }

    private func pauseOrResume(_ partitions: [KafkaTopicPartition]?, pause: Bool) throws(KafkaError) {
        guard !isClosed else { throw .closed }
        let list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
        if let partitions {
            list = Self.makeList(partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) })
        } else {
            var assignment: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            let code = rd_kafka_assignment(handle.pointer, &assignment)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let assignment else {
                throw .operationFailed(operation: "assignment", code: KafkaErrorCode(code))
            }
            list = assignment
        }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = pause ? rd_kafka_pause_partitions(handle.pointer, list) : rd_kafka_resume_partitions(handle.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw .operationFailed(operation: pause ? "pause" : "resume", code: KafkaErrorCode(code))
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
            context.consumer?.retryDeferredCommits(context)
            context.rebalanceHandler?(.assigned(changed))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(handle) != 0
            context.rebalanceHandler?(.revoked(changed, lost: lost))
            context.revokedDuringPoll.formUnion(changed)
            context.consumer?.commitRevoked(changed, lost: lost, defer: !cooperative, context)
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

    /// Commits the stored offsets of revoked partitions (see the type's notes); with the eager protocol
    /// a rejection by a rebalancing coordinator defers them to the next assignment. With the cooperative
    /// protocol the partitions may belong to another member long before this one is assigned anything
    /// again, so a rejected commit is given up (those inputs are redelivered: at least once holds).
    private func commitRevoked(
        _ partitions: [KafkaTopicPartition], lost: Bool, defer deferOnRejection: Bool, _ context: CallbackContext
    ) {
        var offsets: [(KafkaTopicPartition, Int64)] = []
        for partition in partitions {
            if let offset = stored.removeValue(forKey: partition), !lost { offsets.append((partition, offset)) }
        }
        guard !offsets.isEmpty else { return }
        let code = commit(offsets)
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        if Self.isRebalanceRejection(code), deferOnRejection {
            for (partition, offset) in offsets { deferredCommits[partition] = offset }
            if deferredSince == nil { deferredSince = .now }
            context.logger.notice(
                "revocation commit rejected by the rebalancing group; retrying at the next assignment",
                metadata: ["code": "\(KafkaErrorCode(code).name)", "partitions": "\(offsets.count)"])
        } else {
            context.warn(KafkaWarning(code: KafkaErrorCode(code), reason: "committing revoked partitions"))
        }
    }

    /// Retries revocation commits rejected during the previous rebalance, now in the new generation.
    /// A rebalance can follow at once (a rejected commit itself makes librdkafka rejoin), so a retry
    /// rejected the same way is kept for the next assignment, up to five assignments and
    /// `deferredCommitLimit` in all. A partition this member has stored a newer offset for is left to
    /// the normal commit; after the limit the new owner may have committed further, so the retry is
    /// given up rather than rewind it (those inputs are redelivered: at least once holds).
    private func retryDeferredCommits(_ context: CallbackContext) {
        guard !deferredCommits.isEmpty else { return }
        deferredCommits = deferredCommits.filter { stored[$0.key] == nil }
        if let since = deferredSince, ContinuousClock.now - since > Self.deferredCommitLimit {
            context.warn(KafkaWarning(code: KafkaErrorCode(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS), reason: "giving up a revocation commit older than 30 s"))
            deferredCommits.removeAll()
        }
        guard !deferredCommits.isEmpty else {
            deferredAttempts = 0
            deferredSince = nil
            return
        }
        let code = commit(deferredCommits.map { ($0.key, $0.value) })
        deferredAttempts += 1
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            context.logger.info("deferred revocation commit done", metadata: ["partitions": "\(deferredCommits.count)"])
        } else if Self.isRebalanceRejection(code), deferredAttempts < 5 {
            return
        } else {
            // Left uncommitted, the next owner consumes those inputs again: at least once still holds.
            context.warn(KafkaWarning(code: KafkaErrorCode(code), reason: "giving up the revocation commit"))
        }
        deferredCommits.removeAll()
        deferredAttempts = 0
        deferredSince = nil
    }

    /// Synchronously commits exactly these offsets.
    private func commit(_ offsets: [(KafkaTopicPartition, Int64)]) -> rd_kafka_resp_err_t {
        let list = Self.makeList(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        var code = rd_kafka_commit(handle.pointer, list, 0)
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            for index in 0..<Int(list.pointee.cnt) where list.pointee.elems[index].err != RD_KAFKA_RESP_ERR_NO_ERROR {
                code = list.pointee.elems[index].err
            }
        }
        return code
    }

    private static func isRebalanceRejection(_ code: rd_kafka_resp_err_t) -> Bool {
        [RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION,
         RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID].contains(code)
    }

    private static func makeList(
        _ offsets: [(KafkaTopicPartition, Int64)]
    ) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(offsets.count))!
        for (partition, offset) in offsets {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition).pointee.offset = offset
        }
        return list
    }
}
