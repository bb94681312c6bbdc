import CRdKafka
import Logging

/// Synchronous, idempotent Kafka producer. `produce` only enqueues; delivery is confirmed later by a
/// `KafkaDeliveryReport` carrying the caller's opaque token, which is what lets the daemon store an
/// input offset only after every output it caused was acknowledged.
///
/// Threading: not thread-safe. Create it and call every method on the one thread that runs the
/// Kafka loop; librdkafka's own threads do the network I/O, and delivery reports are collected
/// only inside `produce`, `poll` and `flush` on that thread.
public final class KafkaProducer {
    private let handle: RdKafkaHandle
    /// How long `produce` keeps polling when librdkafka's local queue is full before it throws.
    public var queueFullTimeout: Duration = .seconds(10)
    private static let queueFullPollInterval: Int32 = 50

    /// `enable.idempotence=true` and `acks=all` are applied unless the configuration sets them,
    /// so retries never duplicate or reorder messages within a partition.
    public init(
        configuration: KafkaConfiguration,
        logger: Logger,
        onWarning: @escaping (KafkaWarning) -> Void = { _ in }
    ) throws(KafkaError) {
        var configuration = configuration
        if configuration["enable.idempotence"] == nil { configuration["enable.idempotence"] = "true" }
        if configuration["acks"] == nil { configuration["acks"] = "all" }
        let context = CallbackContext(logger: logger, onWarning: onWarning)
        handle = try RdKafkaHandle(type: RD_KAFKA_PRODUCER, configuration: configuration, context: context) {
            rd_kafka_conf_set_dr_msg_cb($0) { handle, message, opaque in
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
        }
    }

    /// Enqueues one message; bytes are copied, so the arrays may be reused at once.
    /// Partitioning follows the key (librdkafka's default partitioner). When the local queue is full
    /// this polls (collecting delivery reports for the next `poll`) and retries for up to
    /// `queueFullTimeout`, then throws `operationFailed(code: .queueFull)`.
    public func produce(
        topic: String, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = [], opaque: UInt64 = 0
    ) throws(KafkaError) {
        let code: rd_kafka_resp_err_t =
            if let key {
                key.withUnsafeBytes { key in enqueue(topic, key, value, headers, opaque) }
            } else {
                enqueue(topic, nil, value, headers, opaque)
            }
        try check(code)
    }

    /// Same as the byte-key variant, with the key's UTF-8 bytes used without an intermediate copy.
    public func produce(
        topic: String, key: String, value: [UInt8], headers: [KafkaHeader] = [], opaque: UInt64 = 0
    ) throws(KafkaError) {
        var key = key
        let code = key.withUTF8 { key in enqueue(topic, UnsafeRawBufferPointer(key), value, headers, opaque) }
        try check(code)
    }

    /// Serves delivery callbacks for up to `timeout` (zero: only what is ready) and returns the reports
    /// gathered since the last call. Throws `fatal` once the producer failed fatally; reports gathered
    /// before that are returned by the call that first sees them.
    public func poll(timeout: Duration = .zero) throws(KafkaError) -> [KafkaDeliveryReport] {
        if handle.context.deliveryReports.isEmpty, let fatal = handle.fatalError() { throw fatal }
        rd_kafka_poll(handle.pointer, timeout.kafkaMilliseconds)
        return takeReports()
    }

    /// Waits up to `timeout` for every queued message to be delivered or to fail, and returns the
    /// reports gathered. `pendingCount` tells whether anything is still outstanding afterwards.
    public func flush(timeout: Duration) -> [KafkaDeliveryReport] {
        rd_kafka_flush(handle.pointer, timeout.kafkaMilliseconds)
        return takeReports()
    }

    /// Messages enqueued or in flight whose delivery report has not been served yet.
    public var pendingCount: Int { Int(rd_kafka_outq_len(handle.pointer)) }

    private func takeReports() -> [KafkaDeliveryReport] {
        defer { handle.context.deliveryReports.removeAll(keepingCapacity: true) }
        return handle.context.deliveryReports
    }

    private func check(_ code: rd_kafka_resp_err_t) throws(KafkaError) {
        guard code != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
        if code == RD_KAFKA_RESP_ERR__FATAL, let fatal = handle.fatalError() { throw fatal }
        throw .operationFailed(operation: "produce", code: KafkaErrorCode(code))
    }

    private func enqueue(
        _ topic: String, _ key: UnsafeRawBufferPointer?, _ value: [UInt8], _ headers: [KafkaHeader],
        _ opaque: UInt64
    ) -> rd_kafka_resp_err_t {
        var waited: Int32 = 0
        let limit = queueFullTimeout.kafkaMilliseconds
        while true {
            let code = value.withUnsafeBytes { value in
                topic.withCString { topic in enqueueOnce(topic, key, value, headers, opaque) }
            }
            guard code == RD_KAFKA_RESP_ERR__QUEUE_FULL, waited < limit else { return code }
            rd_kafka_poll(handle.pointer, Self.queueFullPollInterval)
            waited += Self.queueFullPollInterval
        }
    }

    private func enqueueOnce(
        _ topic: UnsafePointer<CChar>, _ key: UnsafeRawBufferPointer?, _ value: UnsafeRawBufferPointer,
        _ headers: [KafkaHeader], _ opaque: UInt64
    ) -> rd_kafka_resp_err_t {
        let nativeHeaders = headers.isEmpty ? nil : Self.makeHeaders(headers)
        return withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 6) { fields in
            var count = 0
            func add(_ type: rd_kafka_vtype_t, _ fill: (inout rd_kafka_vu_t) -> Void) {
                var field = rd_kafka_vu_t()
                field.vtype = type
                fill(&field)
                fields.initializeElement(at: count, to: field)
                count += 1
            }
            add(RD_KAFKA_VTYPE_TOPIC) { $0.u.cstr = topic }
            add(RD_KAFKA_VTYPE_VALUE) {
                $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                $0.u.mem.size = value.count
            }
            if let key {
                add(RD_KAFKA_VTYPE_KEY) {
                    $0.u.mem.ptr = UnsafeMutableRawPointer(mutating: key.baseAddress ?? UnsafeRawPointer(topic))
                    $0.u.mem.size = key.count
                }
            }
            add(RD_KAFKA_VTYPE_OPAQUE) { $0.u.ptr = UnsafeMutableRawPointer(bitPattern: UInt(opaque)) }
            add(RD_KAFKA_VTYPE_MSGFLAGS) { $0.u.i = RD_KAFKA_MSG_F_COPY }
            if let nativeHeaders { add(RD_KAFKA_VTYPE_HEADERS) { $0.u.headers = nativeHeaders } }
            defer { fields.baseAddress!.deinitialize(count: count) }
            guard let error = rd_kafka_produceva(handle.pointer, fields.baseAddress, count) else {
                return RD_KAFKA_RESP_ERR_NO_ERROR  // librdkafka now owns the headers
            }
            if let nativeHeaders { rd_kafka_headers_destroy(nativeHeaders) }
            defer { rd_kafka_error_destroy(error) }
            return rd_kafka_error_code(error)
        }
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
}
