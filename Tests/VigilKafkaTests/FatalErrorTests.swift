import CRdKafka
import Testing
import VigilTestSupport

@testable import VigilKafka

/// Real fatal errors (e.g. a fenced idempotent producer) cannot be provoked on the mock cluster,
/// so librdkafka's `rd_kafka_test_fatal_error` fabricates one.
@Suite(.timeLimit(.minutes(5))) struct FatalErrorTests {
    @Test func producerSurfacesFatalErrors() throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("doomed", partitions: 1)
        let producer = try makeProducer(cluster)
        try cluster.setBrokerDown(id: 1)
        try producer.produce(topic: "doomed", key: nil, value: [1], opaque: 7)
        #expect(
            rd_kafka_test_fatal_error(
                producer.client.pointer, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER,
                "injected") == RD_KAFKA_RESP_ERR_NO_ERROR)
        var reports: [KafkaDeliveryReport] = []
        var thrown: KafkaError?
        try waitUntil("the fatal error") {
            do {
                reports += try producer.poll(timeout: .milliseconds(100))
                return false
            } catch {
                thrown = error as? KafkaError
                return true
            }
        }
        guard case let .fatal(code, reason) = thrown else {
            Issue.record("expected a fatal error, got \(String(describing: thrown))")
            return
        }
        #expect(code.name == "OUT_OF_ORDER_SEQUENCE_NUMBER")
        #expect(reason.contains("injected"))
        #expect(throws: KafkaError.self) { try producer.produce(topic: "doomed", key: nil, value: [2]) }
        // The queued message is failed, marked fatal, rather than silently dropped: its one report must come.
        try waitUntil("the queued message's report", timeout: .seconds(60)) {
            reports += producer.flush(timeout: .milliseconds(100))
            return !reports.isEmpty && producer.pendingCount == 0
        }
        #expect(reports.count == 1, "\(reports)")
        for report in reports {
            guard case let .failed(failure) = report.outcome else {
                Issue.record("unexpected delivery \(report)")
                continue
            }
            #expect(report.opaque == 7 && failure.isFatal)
        }
        withExtendedLifetime(cluster) {}
    }

    @Test func consumerSurfacesFatalErrors() throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        let consumer = try makeConsumer(cluster, group: "doomed")
        #expect(
            rd_kafka_test_fatal_error(
                consumer.client.pointer, RD_KAFKA_RESP_ERR_FENCED_INSTANCE_ID,
                "injected") == RD_KAFKA_RESP_ERR_NO_ERROR)
        #expect {
            try consumer.poll(maxMessages: 1, timeout: .milliseconds(10))
        } throws: { error in
            guard case let KafkaError.fatal(code, _) = error else { return false }
            return code.name == "FENCED_INSTANCE_ID"
        }
        try consumer.close()
        withExtendedLifetime(cluster) {}
    }
}
