import Testing
import VigilCore
import VigilKafka

@testable import VigilDaemon

/// What the loop produces for an output: its topic and headers.
@Suite struct KafkaLoopOutputTests {
    static let common = [KafkaHeader(name: "vigil-version", value: Array("1".utf8))]
    static let input = KafkaTopicPartition(topic: "auth.events", partition: 3)

    static func output(_ message: OutputMessage) -> KafkaLoopStateMachine.Output {
        KafkaLoop.output(message, from: input, offset: 42, kafka: KafkaSettings(), signer: nil, commonHeaders: common)
    }

    static func names(_ output: KafkaLoopStateMachine.Output) -> [String] { output.headers.map(\.name) }

    @Test func aReemittedDecisionOrAlertCarriesTheHeader() {
        for stream in [OutputStream.decisions, .alerts] {
            let produced = Self.output(
                OutputMessage(stream: stream, key: "u1", payload: Array("{}".utf8), label: "allow", reemitted: true))
            #expect(Self.names(produced) == ["vigil-version", "vigil-reemitted"], "\(stream)")
            #expect(produced.headers.last?.value == Array("true".utf8))
            #expect(produced.payload == Array("{}".utf8) && produced.key == "u1")
        }
    }

    @Test func everyOtherOutputHasNone() {
        let decision = Self.output(OutputMessage(stream: .decisions, key: "u1", payload: [], label: "allow"))
        #expect(decision.topic == KafkaSettings().decisionsTopic)
        #expect(Self.names(decision) == ["vigil-version"])
        let alert = Self.output(OutputMessage(stream: .alerts, key: "u1", payload: [], label: "push_bombing"))
        #expect(alert.topic == KafkaSettings().alertsTopic)
        #expect(Self.names(alert) == ["vigil-version"])
        let deadLetter = Self.output(OutputMessage(stream: .deadLetters, key: nil, payload: [], label: "bad_json"))
        #expect(deadLetter.topic == KafkaSettings().deadLetterTopic)
        #expect(
            Self.names(deadLetter) == [
                "vigil-version", "vigil-reason", "vigil-source-topic", "vigil-source-partition", "vigil-source-offset",
            ])
        #expect(
            deadLetter.headers.suffix(3).map { $0.value.map { String(decoding: $0, as: UTF8.self) } } == [
                "auth.events", "3", "42",
            ])
    }
}
