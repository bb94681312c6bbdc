import Testing
import VigilKafka

@testable import VigilDaemon

/// How `vigil run` configures its Kafka loop from the config's librdkafka properties.
@Suite struct KafkaPipelineServiceTests {
    static func stallLimit(_ properties: KeyValuePairs<String, String>) -> Duration? {
        KafkaPipelineService.maxProducerStall(
            KafkaPipelineService.producerConfiguration(KafkaConfiguration(properties)))
    }

    /// The loop gives up on a full producer queue that made no progress for librdkafka's delivery
    /// deadline plus a minute: by then every queued output was delivered or failed, so a longer
    /// silence is a stuck client. (The stall itself is `KafkaLoopStateMachineTests`'.)
    @Test func theProducerStallLimitIsTheDeliveryDeadlinePlusAMinute() {
        #expect(Self.stallLimit([:]) == .seconds(360), "librdkafka's default message.timeout.ms is 5 minutes")
        #expect(Self.stallLimit(["message.timeout.ms": "30000"]) == .seconds(90))
        #expect(Self.stallLimit(["delivery.timeout.ms": "1500"]) == .milliseconds(61_500), "its alias")
        #expect(Self.stallLimit(["message.timeout.ms": "2000", "delivery.timeout.ms": "9000"]) == .seconds(62))
    }

    @Test func noDeliveryDeadlineMeansNoStallLimit() {
        #expect(Self.stallLimit(["message.timeout.ms": "0"]) == nil)
        #expect(Self.stallLimit(["delivery.timeout.ms": "0"]) == nil)
    }
}
