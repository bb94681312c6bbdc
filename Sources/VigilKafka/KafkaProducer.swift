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

    /// Enqueues one message; bytes are copied, so the arrays may be reused at once. A nil `value` is
    /// a null value: in a compacted topic, a tombstone that deletes `key` (an empty array is an empty
    /// value, which compaction keeps). `partition` nil lets librdkafka's default partitioner follow
    /// the key; a changelog record gives its partition explicitly, the input partition whose state it
    /// holds. When the local queue is full this polls (collecting delivery reports for the next
    /// `poll`) and retries for up to `queueFullTimeout`, then throws `operationFailed(code: .queueFull)`.
    public func produce(
        topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [],
        opaque: UInt64 = 0
    ) throws(KafkaError) {
        let message = OutgoingMessage(topic: topic, partition: partition, headers: headers, opaque: opaque)
        let code: KafkaErrorCode? =
            if let key {
                key.withUnsafeBytes { key in enqueue(message, key, value) }
            } else {
                enqueue(message, nil, value)
            }
        try check(code)
    }

    /// Same as the byte-key variant, with the key's UTF-8 bytes used without an intermediate copy.
    public func produce(
        topic: String, partition: Int32? = nil, key: String, value: [UInt8]?, headers: [KafkaHeader] = [],
        opaque: UInt64 = 0
    ) throws(KafkaError) {
        var key = key
        let message = OutgoingMessage(topic: topic, partition: partition, headers: headers, opaque: opaque)
        let code = key.withUTF8 { key in enqueue(message, UnsafeRawBufferPointer(key), value) }
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

    /// What this producer's brokers look like (`KafkaBrokerHealth`), updated inside `poll` and
    /// `flush`; nil until the first statistics (`statistics.interval.ms`) or outage report.
    public var brokerHealth: KafkaBrokerHealth? { client.context.brokerHealth }

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
        _ message: OutgoingMessage, _ key: UnsafeRawBufferPointer?, _ value: [UInt8]?
    ) -> KafkaErrorCode? {
        var deadline: ContinuousClock.Instant?
        while true {
            let code =
                if let value {
                    value.withUnsafeBytes { value in client.produce(message, key: key, value: value) }
                } else {
                    client.produce(message, key: key, value: nil)
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

/// Where a message goes and what travels with it, apart from its key and value bytes.
struct OutgoingMessage {
    let topic: String
    /// nil: the partitioner chooses.
    let partition: Int32?
    let headers: [KafkaHeader]
    /// Returned in the message's delivery report.
    let opaque: UInt64
}
