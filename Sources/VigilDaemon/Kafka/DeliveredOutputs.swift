import VigilCore

/// Outputs the brokers acknowledged, by what they are: what `vigil_decisions_total`, `vigil_alerts_total`,
/// `vigil_dead_letters_total` and `vigil_reemitted_outputs_total` count. Counted on acknowledgement, not
/// when produced, so an output still queued at a crash or an outage was never counted.
public struct DeliveredOutputs: Sendable, Equatable {
    /// What one output counts as once delivered, taken from the `OutputMessage` it was produced from.
    public struct Kind: Sendable, Equatable {
        /// Its stream: decisions, alerts or dead letters.
        public var stream: OutputStream
        /// Decision action, alert kind or dead-letter reason (`OutputMessage.label`).
        public var label: String
        /// A re-emitted copy (`OutputMessage.reemitted`): counted apart, it repeats a verdict delivered before.
        public var reemitted: Bool

        /// The kind of `output`.
        public init(_ output: OutputMessage) {
            self.init(stream: output.stream, label: output.label, reemitted: output.reemitted)
        }

        /// A kind given field by field.
        public init(stream: OutputStream, label: String, reemitted: Bool = false) {
            self.stream = stream
            self.label = label
            self.reemitted = reemitted
        }
    }

    /// Delivered decisions by action, re-emitted copies excluded.
    public var decisions: [String: Int] = [:]
    /// Delivered alerts by kind, re-emitted copies excluded.
    public var alerts: [String: Int] = [:]
    /// Delivered dead letters by reason.
    public var deadLetters: [String: Int] = [:]
    /// Delivered security event tokens by event type, re-emitted copies excluded.
    public var signals: [String: Int] = [:]
    /// Delivered re-emitted copies by stream (`OutputStream.rawValue`).
    public var reemitted: [String: Int] = [:]

    /// Nothing delivered yet.
    public init() {}

    /// Counts one delivered output of `kind`.
    public mutating func add(_ kind: Kind) {
        if kind.reemitted {
            reemitted[kind.stream.rawValue, default: 0] += 1
            return
        }
        switch kind.stream {
        case .decisions: decisions[kind.label, default: 0] += 1
        case .alerts: alerts[kind.label, default: 0] += 1
        case .deadLetters: deadLetters[kind.label, default: 0] += 1
        case .signals: signals[kind.label, default: 0] += 1
        }
    }
}
