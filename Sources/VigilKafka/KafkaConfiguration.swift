import CRdKafka
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
    /// JAAS configs, OAuth settings and inline private keys.
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

    /// Property name → "C" (consumer only), "P" (producer only) or "*" (both), read once from
    /// librdkafka's own property table (`rd_kafka_conf_properties_show`), so it matches the library.
    private static let scopes: [String: Character] = {
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else { return [:] }
        rd_kafka_conf_properties_show(stream)
        fclose(stream)
        guard let buffer else { return [:] }
        defer { free(buffer) }
        var scopes: [String: Character] = [:]
        for line in String(cString: buffer).split(separator: "\n") {
            let columns = line.split(separator: "|", maxSplits: 2, omittingEmptySubsequences: false)
            guard columns.count == 3 else { continue }
            let name = columns[0].trimmingCharacters(in: .whitespaces)
            let scope = columns[1].trimmingCharacters(in: .whitespaces)
            if let kind = scope.first, scope.count == 1, "CP*".contains(kind), !name.isEmpty { scopes[name] = kind }
        }
        return scopes
    }()

    /// Checks every property with librdkafka without creating a client.
    public func validate() throws(KafkaError) {
        rd_kafka_conf_destroy(try makeNative())
    }

    /// Builds an `rd_kafka_conf_t`; the caller owns it.
    func makeNative() throws(KafkaError) -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errorText = [CChar](repeating: 0, count: 512)
        for (name, value) in properties
        where rd_kafka_conf_set(conf, name, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw .invalidConfiguration(property: name, reason: redact(String(cBuffer: errorText)))
        }
        return conf
    }

    /// Removes secret values from librdkafka's error texts, which may quote the offending value.
    func redact(_ text: String) -> String {
        properties.reduce(text) { text, property in
            Self.isSecret(property.name) && !property.value.isEmpty
                ? text.replacing(property.value, with: "[REDACTED]") : text
        }
    }
}
