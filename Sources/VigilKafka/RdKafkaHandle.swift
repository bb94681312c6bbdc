import CRdKafka
import Logging

/// Swift state that librdkafka callbacks reach through the configuration opaque.
/// Delivery, error and rebalance callbacks run only inside poll/flush/close on the polling thread,
/// so the mutable fields need no lock; the log callback may run on any librdkafka thread and
/// therefore reads only the immutable logger.
final class CallbackContext {
    let logger: Logger
    let onWarning: (KafkaWarning) -> Void
    var deliveryReports: [KafkaDeliveryReport] = []
    var rebalanceHandler: ((KafkaRebalanceEvent) -> Void)?
    /// Partitions revoked inside the latest `rd_kafka_consumer_poll`, so messages of theirs already in
    /// the batch can be dropped instead of being processed after their owner changed.
    var revokedDuringPoll: Set<KafkaTopicPartition> = []
    /// The consumer that owns this context, for its revocation commits; nil while it deinitializes.
    weak var consumer: KafkaConsumer?
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
        onWarning(warning)
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

    private static func equal(_ string: String, _ cString: UnsafePointer<CChar>) -> Bool {
        var index = 0
        for byte in string.utf8 {
            guard UInt8(bitPattern: cString[index]) == byte else { return false }
            index += 1
        }
        return cString[index] == 0
    }
}

/// Owns one `rd_kafka_t` and the callback context it points to. The handle is destroyed in
/// `deinit` before the context is released, so no callback can see a freed context.
final class RdKafkaHandle {
    let pointer: OpaquePointer
    let context: CallbackContext

    init(
        type: rd_kafka_type_t,
        configuration: KafkaConfiguration,
        context: CallbackContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws(KafkaError) {
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
            let text = "librdkafka \(facility.map { String(cString: $0) } ?? ""): "
                + (message.map { String(cString: $0) } ?? "")
            switch level {
            case ...2: logger.critical("\(text)")
            case 3: logger.error("\(text)")
            case 4: logger.warning("\(text)")
            case 5: logger.info("\(text)")
            default: logger.debug("\(text)")
            }
        }
        configure(conf)
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(conf)
            throw .clientCreationFailed(reason: configuration.redact(String(cBuffer: errorText)))
        }
        pointer = handle
        self.context = context
    }

    deinit {
        // A consumer in a fatal state never finishes its group leave: librdkafka 2.0.2's destroy then
        // spins forever, so skip the close (the group sees a session timeout instead).
        rd_kafka_destroy_flags(
            pointer, rd_kafka_fatal_error(pointer, nil, 0) == RD_KAFKA_RESP_ERR_NO_ERROR
                ? 0 : Int32(RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE))
    }

    /// The client's fatal error, if one was raised; cheap enough to check on every poll.
    func fatalError() -> KafkaError? {
        guard rd_kafka_fatal_error(pointer, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
        var reason = [CChar](repeating: 0, count: 512)
        let code = rd_kafka_fatal_error(pointer, &reason, reason.count)
        return .fatal(code: KafkaErrorCode(code), reason: String(cBuffer: reason))
    }
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
