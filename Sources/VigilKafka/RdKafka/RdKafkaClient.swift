import CRdKafka
import Foundation
import Logging

/// Swift state that librdkafka callbacks reach through the configuration opaque.
/// Delivery, error and rebalance callbacks run only inside poll/flush/close on the polling thread,
/// so the mutable fields need no lock; the log callback may run on any librdkafka thread and
/// therefore reads only the immutable logger.
final class CallbackContext {
    let logger: Logger
    let onWarning: (KafkaWarning) -> Void
    var deliveryReports: [KafkaDeliveryReport] = []
    /// Told about partitions just assigned, after the client applied the assignment.
    var onAssigned: (([KafkaTopicPartition]) -> Void)?
    /// Told about partitions about to be revoked (`lost`: another member may own them already), before
    /// the client unassigns them; `cooperative` says which rebalance protocol is in use.
    var onRevoking: ((_ partitions: [KafkaTopicPartition], _ lost: Bool, _ cooperative: Bool) -> Void)?
    /// What the statistics (two in a row for an outage, `KafkaBrokerHealth.confirmed`), or an
    /// `_ALL_BROKERS_DOWN` error since, said; nil before either.
    var brokerHealth: KafkaBrokerHealth?
    /// What the latest statistics document alone said.
    var statisticsHealth: KafkaBrokerHealth?
    /// The offset (next to consume) each partition's latest successful commit of this client stored.
    var committedOffsets: [KafkaTopicPartition: Int64] = [:]
    private var topicNames: [OpaquePointer: String] = [:]

    init(logger: Logger, onWarning: @escaping (KafkaWarning) -> Void) {
        self.logger = logger
        self.onWarning = onWarning
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> CallbackContext {
        Unmanaged<CallbackContext>.fromOpaque(opaque!).takeUnretainedValue()
    }

    func warn(_ warning: KafkaWarning) {
        logger.warning("librdkafka: \(warning)")
        if warning.code == .allBrokersDown { brokerHealth = .allBrokersDown(warning.reason) }
        onWarning(warning)
    }

    /// Reports a polled error event as a warning, prefixed with its partition when it names one.
    /// Fatal errors are left to the caller, which throws them from `RdKafkaClient.fatalError()`.
    func warn(about polled: RdKafkaPolled) {
        guard case let .error(code, topic, partition, _, reason) = polled, code != .fatal else { return }
        let place = topic.map { "\($0)[\(partition)]: " } ?? ""
        warn(KafkaWarning(code: code, reason: place + reason))
    }

    /// Topic name for a topic handle, cached so that each message does not allocate a new String.
    /// The cached name is compared with the C name, so a recycled handle address cannot mislead it.
    func topicName(_ topic: OpaquePointer) -> String {
        let cName = rd_kafka_topic_name(topic)!
        if let cached = topicNames[topic], Self.equal(cached, cName) {
            return cached
        }
        let name = String(cString: cName)
        topicNames[topic] = name
        return name
    }

    /// Records the partitions a commit stored (its per-partition errors left out).
    func recordCommitted(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>?) {
        guard let list, let elements = list.pointee.elems else { return }
        for element in UnsafeBufferPointer(start: elements, count: Int(list.pointee.cnt))
        where element.err == RD_KAFKA_RESP_ERR_NO_ERROR && element.offset >= 0 {
            committedOffsets[KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)] =
                element.offset
        }
    }

    private static func equal(_ string: String, _ cString: UnsafePointer<CChar>) -> Bool {
        var index = 0
        for byte in string.utf8 {
            guard UInt8(bitPattern: cString[index]) == byte else { return false }
            index += 1
        }
        return cString[index] == 0
    }
}

/// A client handle whose close was abandoned, handed to the thread that destroys it.
private struct AbandonedHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let context: Unmanaged<CallbackContext>
}

/// Owns one `rd_kafka_t` and the callback context it points to, and is the only way the public
/// clients reach it: each method is one librdkafka call (or a few that belong together) with its C
/// types turned into Swift values. The handle is destroyed in `deinit` before the context is
/// released, so no callback can see a freed context.
final class RdKafkaClient {
    enum Kind {
        /// Delivery reports are collected into the context.
        case producer
        /// Rebalances are applied here and reported through the context; errors and rebalances are
        /// served from the consumer queue, i.e. inside `consumerPoll`.
        case consumer
    }

    /// Internal for tests that make librdkafka fabricate what a mock cluster cannot (fatal errors).
    let pointer: OpaquePointer
    let context: CallbackContext
    /// A producer's topic handles by name, made at a topic's first message and kept for the client's
    /// life: a message that names its topic makes librdkafka look the topic up under the client's
    /// write lock, which its broker threads contend for.
    private var topicHandles: [String: OpaquePointer] = [:]
    /// The handle last used: messages come in runs of one topic, and comparing the name is cheaper
    /// than hashing it.
    private var lastTopicHandle: (name: String, handle: OpaquePointer)?

    init(kind: Kind, configuration: KafkaConfiguration, context: CallbackContext) throws(KafkaError) {
        let conf = try configuration.makeNative()
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_error_cb(conf) { _, code, reason, opaque in
            let warning = KafkaWarning(
                code: KafkaErrorCode(rawValue: code), reason: reason.map { String(cString: $0) } ?? "")
            let context = CallbackContext.from(opaque)
            // Fatal errors are thrown by the next poll; everything else is status.
            if warning.code == .fatal {
                context.logger.error("librdkafka: \(warning)")
            } else {
                context.warn(warning)
            }
        }
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, message in
            let logger = CallbackContext.from(rd_kafka_opaque(handle)).logger
            let text =
                "librdkafka \(facility.map { String(cString: $0) } ?? ""): "
                + (message.map { String(cString: $0) } ?? "")
            if let port = PortHolders.failedMockBind(in: text) {
                // The mock aborts the process right after this line: say who holds the port while they do.
                logger.critical("librdkafka MOCK: sockets on port \(port): \(PortHolders.describe(port: port))")
            }
            switch level {
            case ...2: logger.critical("\(text)")
            case 3: logger.error("\(text)")
            case 4: logger.warning("\(text)")
            case 5: logger.info("\(text)")
            default: logger.debug("\(text)")
            }
        }
        // Served inside the polls, like the other callbacks; only when `statistics.interval.ms` is set.
        rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
            guard let json else { return 0 }
            let context = CallbackContext.from(opaque)
            if let health = KafkaBrokerHealth(statistics: UnsafeRawBufferPointer(start: json, count: length)) {
                context.brokerHealth = health.confirmed(
                    previous: context.statisticsHealth, reported: context.brokerHealth)
                context.statisticsHealth = health
            }
            return 0  // librdkafka frees the document
        }
        switch kind {
        case .producer:
            rd_kafka_conf_set_dr_msg_cb(conf) { handle, message, opaque in
                guard let record = message?.pointee else { return }
                let token = UInt64(UInt(bitPattern: record._private))
                let outcome: KafkaDeliveryReport.Outcome =
                    record.err == RD_KAFKA_RESP_ERR_NO_ERROR
                    ? .delivered(partition: record.partition, offset: record.offset)
                    : .failed(
                        KafkaDeliveryFailure(
                            code: KafkaErrorCode(record.err),
                            isFatal: record.err == RD_KAFKA_RESP_ERR__FATAL
                                || rd_kafka_fatal_error(handle, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR))
                CallbackContext.from(opaque).deliveryReports.append(
                    KafkaDeliveryReport(opaque: token, outcome: outcome))
            }
        case .consumer:
            rd_kafka_conf_set_rebalance_cb(conf) { handle, code, partitions, opaque in
                guard let handle else { return }
                RdKafkaClient.rebalance(handle, code, partitions, CallbackContext.from(opaque))
            }
            // Auto-commits and the revocation commits: what is committed, for the shutdown's report.
            rd_kafka_conf_set_offset_commit_cb(conf) { _, code, offsets, opaque in
                guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { return }
                CallbackContext.from(opaque).recordCommitted(offsets)
            }
        }
        var errorText = [CChar](repeating: 0, count: 512)
        guard
            let handle = rd_kafka_new(
                kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, &errorText, errorText.count)
        else {
            rd_kafka_conf_destroy(conf)
            throw .clientCreationFailed(reason: configuration.redact(String(cBuffer: errorText)))
        }
        pointer = handle
        self.context = context
        if kind == .consumer { rd_kafka_poll_set_consumer(handle) }
    }

    /// Set when a bounded close gave up: destroying must not close (and wait) again.
    private var closeAbandoned = false

    deinit {
        for handle in topicHandles.values { rd_kafka_topic_destroy(handle) }
        // A consumer in a fatal state never finishes its group leave: librdkafka 2.0.2's destroy then
        // spins forever, so skip the close (the group sees a session timeout instead).
        let noClose = Int32(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
        guard closeAbandoned else {
            rd_kafka_destroy_flags(
                pointer, rd_kafka_fatal_error(pointer, nil, 0) == RD_KAFKA_RESP_ERR_NO_ERROR ? 0 : noClose)
            return
        }
        // After a close that ran out of time, destroying still waits for the group leave under way:
        // it is done on a thread of its own, which nobody waits for (the process is stopping), with
        // the context kept alive until it is done.
        let abandoned = AbandonedHandle(pointer: pointer, context: Unmanaged.passRetained(context))
        Thread.detachNewThread {
            rd_kafka_destroy_flags(abandoned.pointer, noClose)
            abandoned.context.release()
        }
    }

    /// The client's fatal error, if one was raised; cheap enough to check on every poll.
    func fatalError() -> KafkaError? {
        guard rd_kafka_fatal_error(pointer, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var reason = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(pointer, &reason, reason.count)
        return .fatal(code: KafkaErrorCode(code), reason: String(cBuffer: reason))
    }

    // MARK: Consumer

    func subscribe(_ topics: [String]) -> KafkaErrorCode? {
        let list = RdKafkaPartitionList(topics.map { KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) })
        return failure(rd_kafka_subscribe(pointer, list.pointer))
    }

    /// Takes over `partitions` at the given offsets without joining a group (no rebalance callback).
    func assign(_ partitions: [(KafkaTopicPartition, Int64)]) -> KafkaErrorCode? {
        let list = RdKafkaPartitionList(partitions)
        return failure(rd_kafka_assign(pointer, list.pointer))
    }

    /// The partition's low and high watermarks (first offset, offset after the last record), asked
    /// from its leader: a blocking round trip bounded by `timeout`.
    func watermarks(
        of partition: KafkaTopicPartition, timeout: Duration
    ) throws(KafkaError) -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(
            pointer, partition.topic, partition.partition, &low, &high, timeout.kafkaMilliseconds)
        if code == RD_KAFKA_RESP_ERR__TIMED_OUT {
            throw .topicRequestTimedOut(request: "ListOffsets", topic: partition.topic, timeout: timeout)
        }
        if let code = failure(code) {
            throw .topicRequestFailed(
                request: "ListOffsets", topic: partition.topic, code: code, reason: "partition \(partition.partition)")
        }
        return (low, high)
    }

    /// Waits up to `timeout` milliseconds for the next record or error event.
    func consumerPoll(timeout: Int32) -> RdKafkaPolled? {
        guard let message = rd_kafka_consumer_poll(pointer, timeout) else { return nil }
        defer { rd_kafka_message_destroy(message) }
        let record = message.pointee
        let topic = record.rkt.map(context.topicName)
        if record.err == RD_KAFKA_RESP_ERR_NO_ERROR, let topic {
            return .message(KafkaMessage(copying: message, topic: topic))
        }
        return .error(
            code: KafkaErrorCode(record.err), topic: topic, partition: record.partition, offset: record.offset,
            reason: rd_kafka_message_errstr(message).map { String(cString: $0) } ?? "")
    }

    /// Stores each partition's offset for the next commit; an error of any element is returned.
    func storeOffsets(_ offsets: [(KafkaTopicPartition, Int64)]) -> KafkaErrorCode? {
        let list = RdKafkaPartitionList(offsets)
        return failure(rd_kafka_offsets_store(pointer, list.pointer)) ?? list.elementError
    }

    /// Synchronously commits exactly these offsets, or every stored offset when nil.
    func commit(_ offsets: [(KafkaTopicPartition, Int64)]?) -> KafkaErrorCode? {
        guard let offsets else { return failure(rd_kafka_commit(pointer, nil, 0)) }
        let list = RdKafkaPartitionList(offsets)
        return failure(rd_kafka_commit(pointer, list.pointer, 0)) ?? list.elementError
    }

    /// The group's committed offsets (nil when none), asked from the coordinator.
    func committed(
        _ partitions: [KafkaTopicPartition], timeout: Duration
    ) throws(KafkaError) -> [(partition: KafkaTopicPartition, offset: Int64?)] {
        let list = RdKafkaPartitionList(partitions)
        if let code = failure(rd_kafka_committed(pointer, list.pointer, timeout.kafkaMilliseconds)) {
            throw .operationFailed(operation: "committed", code: code)
        }
        return list.entries.map { ($0.partition, $0.offset >= 0 ? $0.offset : nil) }
    }

    /// Commits exactly these offsets, or every stored offset when nil, waiting up to `timeout`
    /// milliseconds for the coordinator's answer (`rd_kafka_commit` would wait as long as the
    /// coordinator takes); `.timedOut` when none came.
    func commit(_ offsets: [(KafkaTopicPartition, Int64)]?, timeout: Int32) -> KafkaErrorCode? {
        guard let offsets else { return commit(list: nil, timeout: timeout) }
        let list = RdKafkaPartitionList(offsets)
        return commit(list: list.pointer, timeout: timeout)
    }

    private func commit(
        list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, timeout: Int32
    ) -> KafkaErrorCode? {
        let queue = rd_kafka_queue_new(pointer)
        defer { rd_kafka_queue_destroy(queue) }
        if let code = failure(rd_kafka_commit_queue(pointer, list, queue, nil, nil)) { return code }
        guard let event = rd_kafka_queue_poll(queue, timeout) else { return .timedOut }
        defer { rd_kafka_event_destroy(event) }
        let committed = rd_kafka_event_topic_partition_list(event)
        context.recordCommitted(committed)
        if let code = failure(rd_kafka_event_error(event)) { return code }
        guard let committed, let elements = committed.pointee.elems else { return nil }
        return UnsafeBufferPointer(start: elements, count: Int(committed.pointee.cnt)).lazy.compactMap {
            failure($0.err)
        }.first
    }

    func consumerClose() -> KafkaErrorCode? {
        failure(rd_kafka_consumer_close(pointer))
    }

    /// Leaves the group, serving the final revocation, for up to `timeout` milliseconds; false when the
    /// close did not finish by then (the handle is then destroyed without closing again).
    func consumerClose(timeout: Int32) -> (closed: Bool, error: KafkaErrorCode?) {
        let queue = rd_kafka_queue_new(pointer)
        defer { rd_kafka_queue_destroy(queue) }
        if let error = consume(rd_kafka_consumer_close_queue(pointer, queue)) { return (false, error.code) }
        let deadline = ContinuousClock.now + .milliseconds(timeout)
        while rd_kafka_consumer_closed(pointer) == 0 {
            let left = deadline - ContinuousClock.now
            guard left > .zero else {
                closeAbandoned = true
                return (false, nil)
            }
            // Events, not callbacks: messages fetched before the close come here too, and serving them
            // as callbacks would trip librdkafka's assertion. They are dropped (their offsets were not
            // stored); the final revocation and commit results are handled as the callbacks would.
            guard let event = rd_kafka_queue_poll(queue, min(100, left.kafkaMilliseconds)) else { continue }
            switch rd_kafka_event_type(event) {
            case RD_KAFKA_EVENT_REBALANCE:
                Self.rebalance(
                    pointer, rd_kafka_event_error(event), rd_kafka_event_topic_partition_list(event), context)
            case RD_KAFKA_EVENT_OFFSET_COMMIT where rd_kafka_event_error(event) == RD_KAFKA_RESP_ERR_NO_ERROR:
                context.recordCommitted(rd_kafka_event_topic_partition_list(event))
            default:
                break
            }
            rd_kafka_event_destroy(event)
        }
        return (true, nil)
    }

    /// The current assignment.
    func assignment() throws(KafkaError) -> [KafkaTopicPartition] {
        try assignmentList().entries.map(\.partition)
    }

    private func assignmentList() throws(KafkaError) -> RdKafkaPartitionList {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        let code = rd_kafka_assignment(pointer, &list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let list else {
            throw .operationFailed(operation: "assignment", code: KafkaErrorCode(code))
        }
        return RdKafkaPartitionList(taking: list)
    }

    func pause(_ partitions: [KafkaTopicPartition]) -> KafkaErrorCode? {
        let list = RdKafkaPartitionList(partitions)
        return failure(rd_kafka_pause_partitions(pointer, list.pointer))
    }

    /// Moves the fetch position of an assigned partition to `offset`, waiting up to `timeout`
    /// milliseconds for the fetcher to take it.
    func seek(_ partition: KafkaTopicPartition, to offset: Int64, timeout: Int32) -> KafkaErrorCode? {
        let list = RdKafkaPartitionList(CollectionOfOne((partition, offset)))
        return consume(rd_kafka_seek_partitions(pointer, list.pointer, timeout))?.code ?? list.elementError
    }

    func resume(_ partitions: [KafkaTopicPartition]) -> KafkaErrorCode? {
        let list = RdKafkaPartitionList(partitions)
        return failure(rd_kafka_resume_partitions(pointer, list.pointer))
    }

    /// Consumer position and cached high watermark of every assigned partition; no broker round trip.
    func lag() throws(KafkaError) -> [KafkaPartitionLag] {
        let list = try assignmentList()
        rd_kafka_position(pointer, list.pointer)
        return list.entries.map { partition, position in
            var low: Int64 = 0
            var high: Int64 = 0
            let known =
                rd_kafka_get_watermark_offsets(pointer, partition.topic, partition.partition, &low, &high)
                == RD_KAFKA_RESP_ERR_NO_ERROR && high >= 0
            return KafkaPartitionLag(
                topicPartition: partition, position: position >= 0 ? position : nil,
                highWatermark: known ? high : nil)
        }
    }

    /// Applies an assignment change and reports it through the context, revocations before they take
    /// effect. Handles both the eager and the cooperative (incremental) protocol.
    private static func rebalance(
        _ handle: OpaquePointer,
        _ code: rd_kafka_resp_err_t,
        _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        _ context: CallbackContext
    ) {
        // NULL while the client has no group coordinator (seen while a consumer closes): not cooperative.
        let protocolName: UnsafePointer<CChar>? = rd_kafka_rebalance_protocol(handle)
        let cooperative = protocolName.map { String(cString: $0) } == "COOPERATIVE"
        let changed = RdKafkaPartitionList.partitions(of: partitions)
        var failed: (code: KafkaErrorCode, reason: String)?
        func record(_ error: OpaquePointer?) {
            if let error = consume(error) { failed = (error.code, "applying rebalance: " + error.reason) }
        }
        func record(_ code: rd_kafka_resp_err_t) {
            if let code = failure(code) { failed = (code, "applying rebalance") }
        }
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                record(rd_kafka_incremental_assign(handle, partitions))
            } else {
                record(rd_kafka_assign(handle, partitions))
            }
            context.onAssigned?(changed)
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            context.onRevoking?(changed, rd_kafka_assignment_lost(handle) != 0, cooperative)
            if cooperative {
                record(rd_kafka_incremental_unassign(handle, partitions))
            } else {
                record(rd_kafka_assign(handle, nil))
            }
        default:
            failed = (KafkaErrorCode(code), "rebalance failed")
            _ = rd_kafka_assign(handle, nil)
        }
        if let failed { context.warn(KafkaWarning(code: failed.code, reason: failed.reason)) }
    }

    // MARK: Producer

    /// Enqueues one message (bytes copied). A nil `key` or `value` is sent as null; an empty one as
    /// empty. The headers are handed to librdkafka.
    func produce(
        _ message: OutgoingMessage, key: UnsafeRawBufferPointer?, value: UnsafeRawBufferPointer?
    ) -> KafkaErrorCode? {
        message.topic.withCString { topic in
            let nativeHeaders = message.headers.isEmpty ? nil : Self.makeHeaders(message.headers)
            return withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { fields in
                var count = 0
                func add(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                    var field = rd_kafka_vu_t()
                    field.vtype = type
                    fill(&field)
                    fields.initializeElement(at: count, to: field)
                    count += 1
                }
                // An empty array may have no storage; any non-null pointer keeps an empty key or
                // value from becoming a null one (librdkafka reads 0 bytes from it).
                func bytes(_ buffer: UnsafeRawBufferPointer) -> UnsafeMutableRawPointer {
                    UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafeRawPointer(topic))
                }
                if let handle = topicHandle(message.topic) {
                    add(RD_KAFKA_VTYPE_RKT) { $0.u.rkt = handle }
                } else {
                    add(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topic }
                }
                if let partition = message.partition { add(RD_KAFKA_VTYPE_PARTITION) { $0.u.i32 = partition } }
                if let value {
                    add(RD_KAFKA_VTYPE_VALUE) {
                        $0.u.mem.ptr = bytes(value)
                        $0.u.mem.size = value.count
                    }
                }
                if let key {
                    add(RD_KAFKA_VTYPE_KEY) {
                        $0.u.mem.ptr = bytes(key)
                        $0.u.mem.size = key.count
                    }
                }
                add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(bitPattern: UInt(message.opaque)) }
                add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
                if let nativeHeaders { add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = nativeHeaders } }
                defer { fields.baseAddress!.deinitialize(count: count) }
                guard let error = consume(rd_kafka_produceva(pointer, fields.baseAddress, count)) else {
                    return nil  // librdkafka now owns the headers
                }
                if let nativeHeaders { rd_kafka_headers_destroy(nativeHeaders) }
                return error.code
            }
        }
    }

    /// The topic's handle, made at its first use; nil when librdkafka refuses the name (the message
    /// then names the topic, and its produce reports why).
    private func topicHandle(_ name: String) -> OpaquePointer? {
        if let lastTopicHandle, lastTopicHandle.name == name { return lastTopicHandle.handle }
        var handle = topicHandles[name]
        if handle == nil {
            handle = rd_kafka_topic_new(pointer, name, nil)
            topicHandles[name] = handle
        }
        if let handle { lastTopicHandle = (name, handle) }
        return handle
    }

    private static func makeHeaders(_ headers: [KafkaHeader]) -> OpaquePointer {
        let list = rd_kafka_headers_new(headers.count)!
        for header in headers {
            var name = header.name
            name.withUTF8 { name in
                if let value = header.value {
                    value.withUnsafeBytes { value in
                        _ = rd_kafka_header_add(list, name.baseAddress, name.count, value.baseAddress, value.count)
                    }
                } else {
                    _ = rd_kafka_header_add(list, name.baseAddress, name.count, nil, 0)
                }
            }
        }
        return list
    }

    /// Serves callbacks (delivery reports, errors) for up to `timeout` milliseconds.
    func poll(timeout: Int32) {
        rd_kafka_poll(pointer, timeout)
    }

    /// Waits up to `timeout` milliseconds for every queued message to be delivered or to fail.
    func flush(timeout: Int32) {
        rd_kafka_flush(pointer, timeout)
    }

    /// Messages enqueued or in flight whose delivery report has not been served yet.
    var outQueueLength: Int { Int(rd_kafka_outq_len(pointer)) }
}
