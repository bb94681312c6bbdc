/// Where an input message came from, carried into dead letters and logs so an operator can find it.
public enum MessageOrigin: Sendable, Equatable {
    case file(path: String, line: Int)
    case kafka(topic: String, partition: Int32, offset: Int64)

    /// The input offset of a Kafka message: what the replay guard compares (`RiskEngine.process`).
    var offset: Int64? {
        if case .kafka(_, _, let offset) = self { offset } else { nil }
    }
}
