import Testing
import VigilCore
import VigilKafka

@testable import VigilDaemon

/// What the output metrics count: outputs the brokers acknowledged, re-emitted copies apart.
@Suite struct DeliveredOutputsTests {
    private typealias Machine = KafkaLoopStateMachine
    private static let p0 = KafkaTopicPartition(topic: "auth.events", partition: 0)

    private static func machine() -> Machine {
        Machine(
            configuration: Machine.Configuration(
                batchSize: 500, pollTimeout: .milliseconds(100), maxDeliveryAttempts: 3,
                maxProducerStall: nil, resumeBelow: 50, shutdownTimeout: .seconds(5)))
    }

    private static func output(_ kind: DeliveredOutputs.Kind) -> Machine.Output {
        Machine.Output(topic: kind.stream.rawValue, key: "u", payload: [], headers: [], kind: kind)
    }

    @Test func kindsAreCountedApart() {
        var delivered = DeliveredOutputs()
        delivered.add(.init(stream: .decisions, label: "allow"))
        delivered.add(.init(stream: .decisions, label: "allow"))
        delivered.add(.init(stream: .decisions, label: "deny", reemitted: true))
        delivered.add(.init(stream: .alerts, label: "push_bombing"))
        delivered.add(.init(stream: .alerts, label: "push_bombing", reemitted: true))
        delivered.add(.init(stream: .deadLetters, label: "invalid_json"))
        #expect(delivered.decisions == ["allow": 2])
        #expect(delivered.alerts == ["push_bombing": 1])
        #expect(delivered.deadLetters == ["invalid_json": 1])
        #expect(delivered.reemitted == ["decisions": 1, "alerts": 1])
    }

    @Test func theKindOfAnOutputMessage() {
        let message = OutputMessage(stream: .alerts, key: "u", payload: [], label: "mfa_fatigue", reemitted: true)
        #expect(DeliveredOutputs.Kind(message) == .init(stream: .alerts, label: "mfa_fatigue", reemitted: true))
    }

    /// Produced outputs count nothing while unacknowledged (a broker outage, a crash before delivery);
    /// each counts once its delivery report says delivered, a failed attempt not at all.
    @Test func theLoopCountsOnlyAcknowledgedOutputs() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = machine.inputProcessed(
            Self.p0, offset: 0,
            outputs: [
                Self.output(.init(stream: .decisions, label: "step_up_soft")),
                Self.output(.init(stream: .alerts, label: "push_bombing")),
                Self.output(.init(stream: .decisions, label: "deny", reemitted: true)),
            ], now: .zero)
        var tokens: [Machine.Token] = []
        while let (token, _) = machine.nextOutput(now: .zero) {
            tokens.append(token)
            machine.outputSent(now: .zero)
        }
        #expect(tokens.count == 3)
        #expect(machine.deliveredOutputs == DeliveredOutputs(), "produced, not delivered")

        _ = machine.delivered([(tokens[0], .failed(reason: "all brokers down", isFatal: false))], now: .zero)
        #expect(machine.deliveredOutputs == DeliveredOutputs(), "a failed attempt delivered nothing")

        _ = machine.delivered(
            [(tokens[1], .delivered(offset: 7)), (tokens[2], .delivered(offset: 8))], now: .seconds(1))
        var expected = DeliveredOutputs()
        expected.alerts = ["push_bombing": 1]
        expected.reemitted = ["decisions": 1]
        #expect(machine.deliveredOutputs == expected)

        // The failed one, produced again, is delivered: now it counts.
        let retried = machine.nextOutput(now: .seconds(1))?.token
        #expect(retried == tokens[0])
        machine.outputSent(now: .seconds(1))
        _ = machine.delivered([(tokens[0], .delivered(offset: 9))], now: .seconds(2))
        expected.decisions = ["step_up_soft": 1]
        #expect(machine.deliveredOutputs == expected)
    }

    /// An output whose report comes after its partition was given up (a revocation drain that ran out
    /// of time) still reached its topic: it counts, though it acknowledges nothing of the partition.
    @Test func anOutputDeliveredAfterItsPartitionWasGivenUpCounts() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = machine.inputProcessed(
            Self.p0, offset: 0, outputs: [Self.output(.init(stream: .decisions, label: "deny"))], now: .zero)
        let token = machine.nextOutput(now: .zero)?.token
        machine.outputSent(now: .zero)
        _ = machine.revoked([Self.p0], lost: false, now: .zero)
        #expect(machine.drained([], now: .seconds(5)).contains(.retireShard(Self.p0)))
        #expect(machine.assignedPartitions.isEmpty)

        _ = machine.delivered([(token ?? 0, .delivered(offset: 3))], now: .seconds(6))
        var expected = DeliveredOutputs()
        expected.decisions = ["deny": 1]
        #expect(machine.deliveredOutputs == expected)
    }
}
