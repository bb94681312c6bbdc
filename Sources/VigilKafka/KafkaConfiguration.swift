import Foundation

/// librdkafka properties in insertion order (librdkafka applies them in order, and some depend on
/// earlier ones). Descriptions never contain secret values, so a configuration can be logged as is.
public struct KafkaConfiguration: Sendable, CustomStringConvertible {
    /// The properties in the order librdkafka receives them. Values may be secrets: print `redacted`
    /// or `description` instead.
    public private(set) var properties: [(name: String, value: String)] = []

    /// Starts from `properties`, in their order; a name given twice keeps its first position and last value.
    public init(_ properties: KeyValuePairs<String, String> = [:]) {
        for (name, value) in properties { self[name] = value }
    }

    /// Setting an existing property replaces its value in place; setting nil removes it.
    public subscript(name: String) -> String? {
        get { properties.first { $0.name == name }?.value }
        set {
            let index = properties.firstIndex { $0.name == name }
            switch (index, newValue) {
            case let (index?, value?): properties[index].value = value
            case let (index?, nil): properties.remove(at: index)
            case let (nil, value?): properties.append((name, value))
            case (nil, nil): break
            }
        }
    }

    /// True for properties whose value must never be printed: passwords, secrets, tokens,
    /// JAAS configs, OAuth settings and inline private keys. The daemon's config rule uses the same
    /// test: such a value must be an environment reference, never written in the file.
    public static func isSecret(_ name: String) -> Bool {
        let name = name.lowercased()
        return name.hasPrefix("sasl.oauthbearer.") || name == "ssl.key.pem"
            || ["password", "secret", "token", "jaas"].contains { name.contains($0) }
    }

    /// The properties with secret values replaced by `[REDACTED]`.
    public var redacted: [(name: String, value: String)] {
        properties.map { ($0.name, Self.isSecret($0.name) ? "[REDACTED]" : $0.value) }
    }

    /// Every property as `name=value`, with secret values redacted, so it is safe to log.
    public var description: String {
        "KafkaConfiguration(" + redacted.map { "\($0.name)=\($0.value)" }.joined(separator: ", ") + ")"
    }

    /// The kind of client a property applies to, as librdkafka documents it (its C/P column).
    public enum ClientKind: Sendable {
        /// The client `only(for:)` prepares a configuration for: `consumer` drops the producer-only
        /// properties, `producer` the consumer-only ones.
        case consumer, producer
    }

    /// This configuration without the properties librdkafka documents as being for the other kind of
    /// client only, so one shared property map can configure both clients without librdkafka warning
    /// "Configuration property X is a consumer property and will be ignored by this producer instance".
    /// Unknown names are kept (librdkafka rejects them when the client is created).
    public func only(for kind: ClientKind) -> KafkaConfiguration {
        let excluded: Character = kind == .consumer ? "P" : "C"
        var result = self
        result.properties.removeAll { Self.scopes[$0.name] == excluded }
        return result
    }

    /// The consumer properties of a reader that assigns its partitions itself: it never joins a group and
    /// never stores or commits an offset, reads from the first record when asked for an offset that is
    /// gone, and is told when it reaches a partition's end. librdkafka assigns partitions only to a
    /// consumer with a `group.id`: the configuration's is kept (its ACLs cover it), else `defaultGroupID`.
    func assigningReader(defaultGroupID: String) -> KafkaConfiguration {
        var configuration = only(for: .consumer)
        if configuration["group.id"] == nil { configuration["group.id"] = defaultGroupID }
        configuration["enable.auto.commit"] = "false"
        configuration["enable.auto.offset.store"] = "false"
        configuration["enable.partition.eof"] = "true"
        configuration["auto.offset.reset"] = "earliest"
        return configuration
    }

    /// Property name → "C" (consumer only), "P" (producer only) or "*" (both), as librdkafka documents them.
    private static let scopes = librdkafkaScopes()

    /// Checks every property with librdkafka without creating a client.
    public func validate() throws(KafkaError) {
        try checkWithLibrdkafka()
    }

    /// Removes secret values from librdkafka's error texts, which may quote the offending value.
    func redact(_ text: String) -> String {
        properties.reduce(text) { text, property in
            Self.isSecret(property.name) && !property.value.isEmpty
                ? text.replacing(property.value, with: "[REDACTED]") : text
        }
    }
}
