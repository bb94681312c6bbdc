import Logging
import VigilCore

/// The daemon's log handlers. The library only builds the factory; the `vigil` executable passes it to
/// `LoggingSystem.bootstrap` exactly once, because bootstrapping twice traps and tests must not.
public enum VigilLogging {
    /// A factory for `LoggingSystem.bootstrap`: JSON lines or swift-log's text format on stderr, at the
    /// configured level (`info` when the name is not one of swift-log's, which validation already
    /// rejects), with secrets redacted from metadata (see `MetadataRedaction`).
    public static func makeFactory(settings: LoggingSettings) -> @Sendable (String) -> any LogHandler {
        let level = Logger.Level(rawValue: settings.level) ?? .info
        switch settings.format {
        case .json:
            return { label in
                RedactingLogHandler(JSONLogHandler(label: label, level: level, write: StandardError.writeLine))
            }
        case .text:
            return { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return RedactingLogHandler(handler)
            }
        }
    }
}

/// Keeps secrets out of logs by metadata key: any key (at any nesting depth) whose lowercased name
/// contains `password`, `secret`, `token` or `key` has its value replaced by `[REDACTED]`. It is
/// deliberately broad — a redacted harmless value costs less than a leaked credential — so code that
/// wants a value logged must not name it like a secret (config problems use `setting`, not
/// `key_path`). Message text is not inspected: never interpolate a secret into a message.
enum MetadataRedaction {
    static let marker: Logger.Metadata.Value = "[REDACTED]"
    private static let sensitiveWords = ["password", "secret", "token", "key"]

    static func isSensitive(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return sensitiveWords.contains { lowered.contains($0) }
    }

    static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var result = metadata
        for (key, value) in metadata {
            result[key] = isSensitive(key) ? marker : redact(value)
        }
        return result
    }

    static func redact(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .dictionary(let nested): .dictionary(redact(nested))
        case .array(let values): .array(values.map(redact))
        case .string, .stringConvertible: value
        }
    }
}

/// Applies `MetadataRedaction` in front of any handler, so both output formats share one rule. Handler
/// metadata is redacted when set, call metadata when logged.
struct RedactingLogHandler<Wrapped: LogHandler>: LogHandler {
    private var wrapped: Wrapped

    init(_ wrapped: Wrapped) { self.wrapped = wrapped }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = MetadataRedaction.redact(newValue) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set {
            guard let newValue else {
                wrapped[metadataKey: key] = nil
                return
            }
            wrapped[metadataKey: key] =
                MetadataRedaction.isSensitive(key) ? MetadataRedaction.marker : MetadataRedaction.redact(newValue)
        }
    }

    func log(event: LogEvent) {
        var event = event
        if let metadata = event.metadata, !metadata.isEmpty { event.metadata = MetadataRedaction.redact(metadata) }
        wrapped.log(event: event)
    }
}
