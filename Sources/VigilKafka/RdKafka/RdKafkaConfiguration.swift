import CRdKafka
import Foundation

extension KafkaConfiguration {
    /// Builds an `rd_kafka_conf_t`; the caller owns it (`rd_kafka_new` takes it over on success).
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

    /// Sets every property on a throw-away `rd_kafka_conf_t`, so librdkafka checks them all.
    func checkWithLibrdkafka() throws(KafkaError) {
        rd_kafka_conf_destroy(try makeNative())
    }

    /// Property name → "C" (consumer only), "P" (producer only) or "*" (both), read from
    /// librdkafka's own property table (`rd_kafka_conf_properties_show`), so it matches the library.
    static func librdkafkaScopes() -> [String: Character] {
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
    }
}
