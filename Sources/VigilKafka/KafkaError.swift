/// A librdkafka error code, kept as a number so no C type leaks into the public API;
/// `name` and `description` come from librdkafka itself, and so do the named codes (`transport`,
/// `queueFull`...), which are declared next to the other C calls.
public struct KafkaErrorCode: Hashable, Sendable, CustomStringConvertible {
    /// librdkafka's `rd_kafka_resp_err_t` value: negative for client-side errors (names starting
    /// with `_`), positive for the broker's Kafka protocol error codes.
    public let rawValue: Int32

    /// Wraps a code received as a plain number (an error callback's `int err`); any value is accepted,
    /// librdkafka names the ones it does not know "unknown".
    public init(rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// librdkafka's symbolic name, e.g. `_TRANSPORT` or `UNKNOWN_TOPIC_OR_PART`.
    public var name: String { librdkafkaName }

    /// The symbolic name followed by librdkafka's human-readable text, for logs.
    public var description: String { "\(name) (\(librdkafkaText))" }
}

/// Every failure VigilKafka throws. `fatal` means the client must be destroyed and recreated
/// (for the idempotent producer: its guarantees were broken); everything else is local to one call.
public enum KafkaError: Error, Sendable, CustomStringConvertible {
    /// librdkafka rejected a property; `reason` is librdkafka's own text with secret values redacted.
    case invalidConfiguration(property: String, reason: String)
    /// `rd_kafka_new` refused the configuration as a whole (e.g. conflicting properties).
    case clientCreationFailed(reason: String)
    /// The client raised a fatal error (`rd_kafka_fatal_error`); it cannot be used any more.
    case fatal(code: KafkaErrorCode, reason: String)
    /// One librdkafka call failed; `operation` names it.
    case operationFailed(operation: String, code: KafkaErrorCode)
    /// The consumer was closed; create a new one.
    case closed
    /// The brokers did not answer `request` (a Kafka API such as `CreateTopics`, `DescribeConfigs`
    /// or `Metadata`) about `topic` within `timeout`. Either they are unreachable or they do not
    /// implement that API: librdkafka 2.0.2's mock cluster never answers `CreateTopics` or
    /// `DescribeConfigs`, so topics for tests and demos are created through ``MockKafkaCluster``.
    case topicRequestTimedOut(request: String, topic: String, timeout: Duration)
    /// The brokers answered `request` about `topic` with an error (e.g. `TOPIC_ALREADY_EXISTS`,
    /// `INVALID_REPLICATION_FACTOR`, `TOPIC_AUTHORIZATION_FAILED`); `reason` is the broker's text.
    case topicRequestFailed(request: String, topic: String, code: KafkaErrorCode, reason: String)

    /// Reading `partition` got neither a record nor its end for `timeout`, at `position` of `endOffset`
    /// (see ``KafkaPartitionReader``): the partition's leader is unreachable or stopped serving it.
    case partitionReadStalled(partition: KafkaTopicPartition, position: Int64, endOffset: Int64, timeout: Duration)

    /// One line naming the failure and its cause, for logs and error output; never contains secrets.
    public var description: String {
        switch self {
        case let .invalidConfiguration(property, reason):
            "invalid Kafka configuration property '\(property)': \(reason)"
        case let .clientCreationFailed(reason):
            "could not create Kafka client: \(reason)"
        case let .fatal(code, reason):
            "fatal Kafka error \(code.name): \(reason)"
        case let .operationFailed(operation, code):
            "Kafka \(operation) failed: \(code)"
        case .closed:
            "Kafka consumer is closed"
        case let .topicRequestTimedOut(request, topic, timeout):
            "the Kafka brokers did not answer \(request) for topic '\(topic)' within \(timeout): check that they "
                + "are reachable and support this request, or create and check the topic by hand (librdkafka "
                + "2.0.2's mock cluster never answers CreateTopics or DescribeConfigs)"
        case let .partitionReadStalled(partition, position, endOffset, timeout):
            "reading \(partition) stalled at offset \(position) of \(endOffset): nothing arrived for \(timeout); check "
                + "that the brokers are reachable and the partition has a leader"
        case let .topicRequestFailed(request, topic, code, reason):
            "Kafka \(request) for topic '\(topic)' failed: \(code)\(reason.isEmpty ? "" : ": \(reason)")"
        }
    }
}

/// A non-fatal problem reported by librdkafka (broker down, transport failure, unknown topic...).
/// librdkafka recovers by itself; these exist so the daemon can expose them as health status.
public struct KafkaWarning: Sendable, CustomStringConvertible {
    /// What went wrong, as librdkafka classifies it (e.g. `KafkaErrorCode.allBrokersDown`).
    public let code: KafkaErrorCode
    /// librdkafka's text, prefixed with the topic and partition when the problem concerns one.
    public let reason: String

    /// `NAME: reason`, compact enough for a health endpoint.
    public var description: String { "\(code.name): \(reason)" }
}
