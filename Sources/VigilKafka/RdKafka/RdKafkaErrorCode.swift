import CRdKafka

// librdkafka's error numbers and texts. They live here, with every other C call, so that the public
// types above this folder are plain Swift.

extension KafkaErrorCode {
    init(_ code: rd_kafka_resp_err_t) {
        self.init(rawValue: code.rawValue)
    }

    /// librdkafka's symbolic name for the code.
    var librdkafkaName: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue))) }

    /// librdkafka's human-readable text for the code.
    var librdkafkaText: String { String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: rawValue))) }

    /// A broker connection failed; librdkafka reconnects by itself.
    public static let transport = KafkaErrorCode(RD_KAFKA_RESP_ERR__TRANSPORT)
    /// No broker is reachable; librdkafka keeps retrying, queued messages wait.
    public static let allBrokersDown = KafkaErrorCode(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
    /// The producer's local queue (`queue.buffering.max.*`) stayed full.
    public static let queueFull = KafkaErrorCode(RD_KAFKA_RESP_ERR__QUEUE_FULL)
    /// The client hit an unrecoverable error; see `KafkaError.fatal`.
    public static let fatal = KafkaErrorCode(RD_KAFKA_RESP_ERR__FATAL)
    /// `KafkaAdmin.createTopic` found the topic already there (e.g. another instance created it
    /// first): check it with `partitionCount` instead.
    public static let topicAlreadyExists = KafkaErrorCode(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
    /// Another consumer joined the group with this one's `group.instance.id` and took its place; the
    /// consumer raises it as a fatal error (`KafkaError.fatal`).
    public static let fencedInstanceID = KafkaErrorCode(RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID)
    /// A broker refused a produce request for want of in-sync replicas; nothing was appended, and
    /// producers retry it (tests make the mock cluster answer it to hold messages unacknowledged).
    public static let notEnoughReplicas = KafkaErrorCode(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)

    static let noOffset = KafkaErrorCode(RD_KAFKA_RESP_ERR__NO_OFFSET)
    static let timedOut = KafkaErrorCode(RD_KAFKA_RESP_ERR__TIMED_OUT)
    static let partitionEnd = KafkaErrorCode(RD_KAFKA_RESP_ERR__PARTITION_EOF)
    static let rebalanceInProgress = KafkaErrorCode(RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS)
    static let illegalGeneration = KafkaErrorCode(RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION)
    static let unknownMemberId = KafkaErrorCode(RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID)
}

/// nil for success, the error otherwise: the form every wrapper in this folder returns codes in.
func failure(_ code: rd_kafka_resp_err_t) -> KafkaErrorCode? {
    code == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaErrorCode(code)
}

/// Reads and releases an `rd_kafka_error_t`; nil for no error.
func consume(_ error: OpaquePointer?) -> (code: KafkaErrorCode, reason: String)? {
    guard let error else { return nil }
    defer { rd_kafka_error_destroy(error) }
    return (KafkaErrorCode(rd_kafka_error_code(error)), String(cString: rd_kafka_error_string(error)))
}

extension Duration {
    /// Milliseconds for librdkafka timeouts, clamped to Int32; negative means "wait forever".
    var kafkaMilliseconds: Int32 {
        let (seconds, attoseconds) = components
        let milliseconds = seconds.multipliedReportingOverflow(by: 1000)
        guard !milliseconds.overflow else { return seconds < 0 ? -1 : Int32.max }
        return Int32(clamping: milliseconds.partialValue + attoseconds / 1_000_000_000_000_000)
    }
}

extension String {
    /// Reads a NUL-terminated C string that librdkafka wrote into a Swift buffer.
    init(cBuffer buffer: [CChar]) {
        self = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
