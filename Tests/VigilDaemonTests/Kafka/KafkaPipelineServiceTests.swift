import Testing
import VigilKafka

@testable import VigilDaemon

/// The consumer's configuration: the group, the static member's id and their defaults.
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
}
