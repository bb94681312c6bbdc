/// The outputs every run mode writes; `signals` only when `ssf.enabled`.
public enum OutputStream: String, Sendable, CaseIterable {
    case decisions, alerts, deadLetters = "dead_letters"
    /// Security Event Tokens' claims (`SecurityEventEncoder`), signed by the daemon before they leave it.
    case signals
}

/// One encoded message for a sink. `key` is the user id (Kafka partitioning key), when known.
public struct OutputMessage: Sendable, Equatable {
    /// The output it belongs to (a Kafka topic or file per stream).
    public var stream: OutputStream
    /// Nil for dead letters: a rejected message has no user id to trust.
    public var key: String?
    /// One encoded JSON document, without a trailing newline.
    public var payload: [UInt8]
    /// A short label for metrics and summaries: decision action, alert kind, dead-letter reason or
    /// security event type.
    public var label: String
    /// A decision or alert produced again after a restore for an event whose first outputs were
    /// delivered, possibly with other content (`RiskEngine.Verdict.reemitted`); the payload says so
    /// too, and a sink that can (Kafka headers) repeats it where a consumer sees it without parsing.
    public var reemitted: Bool

    /// A message for `stream`.
    public init(stream: OutputStream, key: String?, payload: [UInt8], label: String, reemitted: Bool = false) {
        self.stream = stream
        self.key = key
        self.payload = payload
        self.label = label
        self.reemitted = reemitted
    }
}
