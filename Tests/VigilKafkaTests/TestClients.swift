import VigilKafka
import VigilTestSupport

// Clients of the in-process mock cluster, and the polling loops the tests share.

func makeConsumer(
    _ cluster: MockKafkaCluster,
    group: String,
    extra: KeyValuePairs<String, String> = [:],
    onRebalance: @escaping (KafkaRebalanceEvent) -> Void = { _ in },
    onWarning: @escaping (KafkaWarning) -> Void = { _ in }
) throws -> KafkaConsumer {
    var configuration = KafkaConfiguration([
        "bootstrap.servers": cluster.bootstrapServers,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "heartbeat.interval.ms": "100",
        "session.timeout.ms": "6000",
    ])
    for (name, value) in extra { configuration[name] = value }
    return try KafkaConsumer(
        configuration: configuration, logger: testLogger, onRebalance: onRebalance, onWarning: onWarning)
}

func makeProducer(
    _ cluster: MockKafkaCluster, onWarning: @escaping (KafkaWarning) -> Void = { _ in }
) throws -> KafkaProducer {
    try KafkaProducer(
        configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers, "linger.ms": "5"]),
        logger: testLogger, onWarning: onWarning)
}

/// Polls until `count` messages arrived in total (failing on timeout) and returns them.
func consume(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(30)) throws -> [KafkaMessage] {
    var messages: [KafkaMessage] = []
    try waitUntil("\(count) messages (have \(messages.count))", timeout: timeout) {
        messages += try consumer.poll(maxMessages: count - messages.count, timeout: .milliseconds(100))
        return messages.count >= count
    }
    return messages
}

/// Polls the producer until every message got a delivery report.
func deliveries(_ producer: KafkaProducer, count: Int, timeout: Duration = .seconds(30)) throws -> [KafkaDeliveryReport]
{
    var reports: [KafkaDeliveryReport] = []
    try waitUntil("\(count) delivery reports", timeout: timeout) {
        reports += try producer.poll(timeout: .milliseconds(100))
        return reports.count >= count
    }
    return reports
}
