import Testing
import VigilKafka

@testable import VigilDaemon

/// The output side's broker health, as readiness sees it, from the outputs' producer and, with the
/// changelog on, the changelog's producer.
@Suite struct KafkaLoopOutputSideHealthTests {
    static let healthy = KafkaBrokerHealth(brokersUp: 2, unreachable: [])

    @Test func aProducerThatHasNotReportedLeavesTheOtherOnesHealth() {
        let leaderDown = KafkaBrokerHealth(brokersUp: 1, unreachable: ["b:9092/2"])
        #expect(KafkaLoop.outputSide(nil, changelog: nil) == nil)
        #expect(KafkaLoop.outputSide(leaderDown, changelog: nil) == leaderDown)
        #expect(KafkaLoop.outputSide(nil, changelog: leaderDown) == leaderDown)
    }

    @Test func theOutputSideIsReachableOnlyWhileBothProducersAre() {
        #expect(KafkaLoop.outputSide(Self.healthy, changelog: Self.healthy)?.isReachable == true)
        let changelogLeaderDown = KafkaBrokerHealth(brokersUp: 1, unreachable: ["b:9092/1"])
        let side = KafkaLoop.outputSide(Self.healthy, changelog: changelogLeaderDown)
        #expect(side?.isReachable == false)
        #expect(side?.unreachable == ["b:9092/1"])
        let changelogUnconnected = KafkaBrokerHealth(brokersUp: 0, unreachable: [])
        #expect(KafkaLoop.outputSide(Self.healthy, changelog: changelogUnconnected)?.isReachable == false)
        #expect(KafkaLoop.outputSide(changelogUnconnected, changelog: Self.healthy)?.isReachable == false)
    }

    @Test func aBrokerBothProducersMissIsNamedOnce() {
        let outputs = KafkaBrokerHealth(brokersUp: 1, unreachable: ["b:9092/2"])
        let changelog = KafkaBrokerHealth(brokersUp: 1, unreachable: ["b:9092/2", "b:9092/3"])
        #expect(KafkaLoop.outputSide(outputs, changelog: changelog)?.unreachable == ["b:9092/2", "b:9092/3"])
    }
}
