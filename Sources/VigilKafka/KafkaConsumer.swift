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
    let client: RdKafkaClient
    private var isClosed = false
    private let rebalanceHandler: (KafkaRebalanceEvent) -> Void
    /// Partitions revoked inside the latest poll, so messages of theirs already in the batch can be
    /// dropped instead of being processed after their owner changed.
    private var revokedDuringPoll: Set<KafkaTopicPartition> = []
    /// The latest offset stored per partition (the next one to consume), for the revocation commit.
    private var stored: [KafkaTopicPartition: Int64] = [:]
    /// Revocation commits the coordinator rejected, retried at the next assignments.
    private var revocationRetry = RevocationCommitRetry()
    /// Set by `close(timeout:)`: the final revocation's commit waits no longer than the close may.
    private var closeDeadline: ContinuousClock.Instant?

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
        client = try RdKafkaClient(kind: .consumer, configuration: configuration, context: context)
        rebalanceHandler = onRebalance
        // Weak: rd_kafka_destroy closes an open consumer, which revokes; by then this object is being
        // deinitialized and the caller's handler must not run.
        context.onAssigned = { [weak self] partitions in
            guard let self else { return }
            retryRevocationCommits()
            rebalanceHandler(.assigned(partitions))
        }
        context.onRevoking = { [weak self] partitions, lost, cooperative in
            guard let self else { return }
            rebalanceHandler(.revoked(partitions, lost: lost))
            revokedDuringPoll.formUnion(partitions)
            commitRevoked(partitions, lost: lost, cooperative: cooperative)
        }
    }

    /// Joins the group for `topics`, replacing any previous subscription. Partitions are assigned
    /// later, inside `poll`, and reported to the rebalance handler; nothing is fetched before that.
    public func subscribe(topics: [String]) throws(KafkaError) {
        if let code = client.subscribe(topics) { throw .operationFailed(operation: "subscribe", code: code) }
    }

    /// Waits up to `timeout` for the first message, then takes whatever else is already fetched, up
    /// to `maxMessages`: polling message by message returns as soon as something arrives, where
    /// `rd_kafka_consume_batch_queue` would wait for a full batch. Messages of one partition come in
    /// offset order. If a rebalance revokes partitions during the call, their
    /// messages fetched before the revocation are left out of the batch (they were not stored, so
    /// the next owner gets them). Non-fatal errors go to `onWarning`; fatal ones are thrown.
    public func poll(maxMessages: Int, timeout: Duration) throws(KafkaError) -> [KafkaMessage] {
        guard !isClosed else { throw .closed }
        var batch: [KafkaMessage] = []
        var wait = timeout.kafkaMilliseconds
        while batch.count < maxMessages {
            let polled = client.consumerPoll(timeout: wait)
            // A revocation ran inside that call: drop what was fetched before it. Messages returned
            // from now on belong to the new assignment, even for a partition that was re-assigned.
            if !revokedDuringPoll.isEmpty {
                batch.removeAll { revokedDuringPoll.contains($0.topicPartition) }
                revokedDuringPoll.removeAll(keepingCapacity: true)
            }
            guard let polled else { break }
            wait = 0
            switch polled {
            case let .message(message):
                batch.append(message)
            case .error:
                client.context.warn(about: polled)
            }
        }
        if let fatal = client.fatalError() { throw fatal }
        return batch
    }

    /// Marks the message at `offset` as fully processed: stores `offset + 1`, the next offset to
    /// consume, as Kafka's committed offsets mean. A later commit makes a restarted group resume at
    /// the message after it. Fails with `_STATE` when the partition is no longer assigned.
    public func storeOffset(topic: String, partition: Int32, offset: Int64) throws(KafkaError) {
        let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
        if let code = client.storeOffsets([(topicPartition, offset + 1)]) {
            throw .operationFailed(operation: "offset store", code: code)
        }
        stored[topicPartition] = offset + 1
    }

    /// The group's committed offsets (next offset to consume; nil when none) for `partitions`,
    /// asked from the coordinator: a blocking round trip, for tests and diagnostics.
    public func committed(
        _ partitions: [KafkaTopicPartition], timeout: Duration
    ) throws(KafkaError) -> [KafkaTopicPartition: Int64?] {
        var result: [KafkaTopicPartition: Int64?] = [:]
        for (partition, offset) in try client.committed(partitions, timeout: timeout) { result[partition] = offset }
        return result
    }

    /// Synchronously commits all stored offsets; a no-op when nothing new was stored.
    public func commit() throws(KafkaError) {
        guard !isClosed else { throw .closed }
        if let code = client.commit(nil), code != .noOffset {
            throw .operationFailed(operation: "commit", code: code)
        }
    }

    /// Commits all stored offsets, waiting at most `timeout` for the coordinator (an outage would
    /// otherwise hold the call for as long as librdkafka retries); a no-op when nothing new was stored.
    /// Throws `operationFailed` with `_TIMED_OUT` when no answer came in time.
    public func commit(timeout: Duration) throws(KafkaError) {
        guard !isClosed else { throw .closed }
        if let code = client.commit(nil, timeout: timeout.kafkaMilliseconds), code != .noOffset {
            throw .operationFailed(operation: "commit", code: code)
        }
    }

    /// The offset (next to consume) of each partition's latest commit this consumer saw succeed:
    /// auto-commits, revocation commits and `commit(timeout:)`. What a restart resumes from, as far
    /// as this process knows.
    public var committedOffsets: [KafkaTopicPartition: Int64] { client.context.committedOffsets }

    /// What this consumer's brokers look like (`KafkaBrokerHealth`), updated inside `poll`; nil until
    /// the first statistics (`statistics.interval.ms`) or outage report.
    public var brokerHealth: KafkaBrokerHealth? { client.context.brokerHealth }

    /// Leaves the group: the rebalance handler sees the final revocation (and may commit), then
    /// stored offsets are committed (when auto-commit is on). Blocks until done. After a fatal error
    /// it only marks the consumer closed: a fatal consumer cannot leave its group (see `deinit`).
    public func close() throws(KafkaError) {
        guard !isClosed else { return }
        isClosed = true
        guard client.fatalError() == nil else { return }
        if let code = client.consumerClose() { throw .operationFailed(operation: "close", code: code) }
    }

    /// Like `close()`, but gives up after `timeout` (a broker outage can hold the group leave for
    /// the whole session timeout): returns false then, and the client is later destroyed without
    /// leaving its group (the group sees a session timeout instead).
    public func close(timeout: Duration) throws(KafkaError) -> Bool {
        guard !isClosed else { return true }
        isClosed = true
        guard client.fatalError() == nil else { return true }
        closeDeadline = .now + timeout
        let (closed, error) = client.consumerClose(timeout: timeout.kafkaMilliseconds)
        if let error { throw .operationFailed(operation: "close", code: error) }
        return closed
    }

    /// Stops fetching `partitions` (default: the whole current assignment) until `resume`. `poll` must
    /// still be called meanwhile: it serves rebalances and keeps the member in its group. Messages
    /// already fetched may still be returned. Partitions assigned later are not paused.
    public func pause(_ partitions: [KafkaTopicPartition]? = nil) throws(KafkaError) {
        guard !isClosed else { throw .closed }
        let partitions = if let partitions { partitions } else { try client.assignment() }
        if let code = client.pause(partitions) { throw .operationFailed(operation: "pause", code: code) }
    }

    /// Fetches `partition` from `offset` next (its messages already fetched are dropped), e.g. a
    /// message `poll` returned that the caller could not handle yet. Blocks up to `timeout`.
    public func seek(
        _ partition: KafkaTopicPartition, to offset: Int64, timeout: Duration = .seconds(5)
    )
        throws(KafkaError)
    {
        guard !isClosed else { throw .closed }
        if let code = client.seek(partition, to: offset, timeout: timeout.kafkaMilliseconds) {
            throw .operationFailed(operation: "seek", code: code)
        }
    }

    /// Fetches again from the position after the last message `poll` returned.
    public func resume(_ partitions: [KafkaTopicPartition]? = nil) throws(KafkaError) {
        guard !isClosed else { throw .closed }
        let partitions = if let partitions { partitions } else { try client.assignment() }
        if let code = client.resume(partitions) { throw .operationFailed(operation: "resume", code: code) }
    }

    /// Lag of every assigned partition, from the consumer position and the high watermark cached
    /// from the latest fetch response: no broker round trip, so it is cheap on the polling thread.
    public func lag() throws(KafkaError) -> [KafkaPartitionLag] {
        try client.lag()
    }

    /// The low and high watermarks of any partition (its first offset, and the offset after its last
    /// acknowledged record), asked from its leader: a blocking round trip bounded by `timeout`, unlike
    /// `lag()`. For a partition this consumer does not fetch, such as a changelog's: to learn whether
    /// anything was written to it since a known offset, or whether a restore has anything to read
    /// (``KafkaPartitionReader`` opens no client of its own when it has not).
    public func watermarks(
        of partition: KafkaTopicPartition, timeout: Duration
    ) throws(KafkaError) -> (low: Int64, high: Int64) {
        guard !isClosed else { throw .closed }
        return try client.watermarks(of: partition, timeout: timeout)
    }

    /// Commits the stored offsets of revoked partitions (see the type's notes); a rejection by a
    /// rebalancing coordinator may be kept for the next assignment (`RevocationCommitRetry`).
    private func commitRevoked(_ partitions: [KafkaTopicPartition], lost: Bool, cooperative: Bool) {
        var offsets: [(KafkaTopicPartition, Int64)] = []
        for partition in partitions {
            if let offset = stored.removeValue(forKey: partition), !lost { offsets.append((partition, offset)) }
        }
        guard !offsets.isEmpty else { return }
        let failed =
            if let closeDeadline {
                client.commit(offsets, timeout: max(.zero, closeDeadline - .now).kafkaMilliseconds)
            } else {
                client.commit(offsets)
            }
        guard let code = failed else { return }
        if revocationRetry.revocationCommitFailed(offsets, code: code, cooperative: cooperative, now: .now) {
            client.context.logger.notice(
                "revocation commit rejected by the rebalancing group; retrying at the next assignment",
                metadata: ["code": "\(code.name)", "partitions": "\(offsets.count)"])
        } else {
            client.context.warn(KafkaWarning(code: code, reason: "committing revoked partitions"))
        }
    }

    /// Retries revocation commits rejected during the previous rebalance, now in the new generation
    /// (see `RevocationCommitRetry` for which, and when they are given up).
    private func retryRevocationCommits() {
        let context = client.context
        switch revocationRetry.retry(storedSince: Set(stored.keys), now: .now) {
        case .none:
            return
        case .expired:
            context.warn(
                KafkaWarning(code: .rebalanceInProgress, reason: "giving up a revocation commit older than 30 s"))
        case .commit(let offsets):
            switch revocationRetry.retried(code: client.commit(offsets.map { ($0.key, $0.value) })) {
            case .keptForNextAssignment:
                return
            case .gaveUp(let code):
                // Left uncommitted, the next owner consumes those inputs again: at least once still holds.
                context.warn(KafkaWarning(code: code, reason: "giving up the revocation commit"))
            case .committed(let partitions):
                context.logger.info("deferred revocation commit done", metadata: ["partitions": "\(partitions)"])
            }
        }
    }
}
