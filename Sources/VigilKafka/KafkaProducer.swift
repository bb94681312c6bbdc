import Logging

/// Synchronous, idempotent Kafka producer. `produce` only enqueues; delivery is confirmed later by a
/// `KafkaDeliveryReport` carrying the caller's opaque token, which is what lets the daemon store an
/// input offset only after every output it caused was acknowledged.
///
/// Threading: not thread-safe. Create it and call every method on the one thread that runs the
/// Kafka loop; librdkafka's own threads do the network I/O, and delivery reports are collected
/// only inside `produce`, `poll` and `flush` on that thread.
public final class KafkaProducer {
    let client: RdKafkaClient
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
        client = try RdKafkaClient(
            kind: .producer, configuration: configuration,
            context: CallbackContext(logger: logger, onWarning: onWarning))
    }

    /// Enqueues one message; bytes are copied, so the arrays may be reused at once. An empty value
    /// may be sent as a null value (consumers see both as an empty `value`).
    /// Partitioning follows the key (librdkafka's default partitioner). When the local queue is full
    /// this polls (collecting delivery reports for the next `poll`) and retries for up to
    /// `queueFullTimeout`, then throws `operationFailed(code: .queueFull)`.
    public func produce(
        topic: String, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = [], opaque: UInt64 = 0
    ) throws(KafkaError) {
        let code: KafkaErrorCode? =
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
        if client.context.deliveryReports.isEmpty, let fatal = client.fatalError() { throw fatal }
        client.poll(timeout: timeout.kafkaMilliseconds)
        return takeReports()
    }

    /// Waits up to `timeout` for every queued message to be delivered or to fail, and returns the
    /// reports gathered. `pendingCount` tells whether anything is still outstanding afterwards.
    public func flush(timeout: Duration) -> [KafkaDeliveryReport] {
        client.flush(timeout: timeout.kafkaMilliseconds)
        return takeReports()
    }

    /// Messages enqueued or in flight whose delivery report has not been served yet.
    public var pendingCount: Int { client.outQueueLength }

    private func takeReports() -> [KafkaDeliveryReport] {
        defer { client.context.deliveryReports.removeAll(keepingCapacity: true) }
        return client.context.deliveryReports
    }

    private func check(_ code: KafkaErrorCode?) throws(KafkaError) {
        guard let code else { return }
        if code == .fatal, let fatal = client.fatalError() { throw fatal }
        throw .operationFailed(operation: "produce", code: code)
    }

    private func enqueue(
        _ topic: String, _ key: UnsafeRawBufferPointer?, _ value: [UInt8], _ headers: [KafkaHeader],
        _ opaque: UInt64
    ) -> KafkaErrorCode? {
        var deadline: ContinuousClock.Instant?
        while true {
            let code = value.withUnsafeBytes { value in
                client.produce(topic: topic, key: key, value: value, headers: headers, opaque: opaque)
            }
            guard code == .queueFull else { return code }
            // The clock is read only once the queue is full: the fast path stays free of it.
            let now = ContinuousClock.now
            if deadline == nil { deadline = now + queueFullTimeout }
            guard let deadline, now < deadline else { return code }
            client.poll(timeout: Self.queueFullPollInterval)
        }
    }
}
