import Testing
import VigilKafka

@testable import VigilDaemon

/// How `vigil run` configures its Kafka clients and loop: the consumer's group, the static member's id
/// and their defaults; the producer stall limit.
@Suite struct KafkaPipelineServiceTests {
    @Test func aStaticMemberJoinsWithItsIdAndALongerSessionTimeout() {
        let consumer = KafkaPipelineService.consumerConfiguration(
            KafkaConfiguration(["bootstrap.servers": "kafka:9092", "linger.ms": "5"]), groupID: "vigil",
            groupInstanceID: "vigil-0-0123abcd")
        #expect(consumer["group.id"] == "vigil")
        #expect(consumer["group.instance.id"] == "vigil-0-0123abcd")
        #expect(consumer["session.timeout.ms"] == "60000")
        #expect(consumer["linger.ms"] == nil, "a producer property")
    }

    @Test func theSessionTimeoutIsOverridable() {
        let consumer = KafkaPipelineService.consumerConfiguration(
            KafkaConfiguration(["session.timeout.ms": "20000"]), groupID: "vigil", groupInstanceID: "vigil-0")
        #expect(consumer["session.timeout.ms"] == "20000")
    }

    @Test func aDynamicMemberKeepsLibrdkafkasDefaults() {
        let consumer = KafkaPipelineService.consumerConfiguration(
            KafkaConfiguration(), groupID: "vigil", groupInstanceID: nil)
        #expect(consumer["group.instance.id"] == nil)
        #expect(consumer["session.timeout.ms"] == nil)
    }

    @Test func fencingNamesTheIdAndWhatToChange() {
        let text = "\(MembershipError.fenced(groupID: "vigil", groupInstanceID: "vigil-0-0123abcd"))"
        #expect(text.contains("'vigil-0-0123abcd'") && text.contains("kafka.group_instance_id"), "\(text)")
    }

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
