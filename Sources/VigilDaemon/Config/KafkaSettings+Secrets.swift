import VigilCore

extension KafkaSettings {
    /// librdkafka properties with every `${env:NAME}` replaced from `environment`. Kept apart from loading
    /// so the config, its canonical rendering and `policyVersion` only ever hold variable names; the
    /// resolved dictionary goes straight to librdkafka and is never logged. An unset or empty variable is
    /// an error naming the property and the variable, never a value.
    public func resolveSecrets(environment: [String: String]) throws(ConfigError) -> [String: String] {
        var resolved: [String: String] = [:]
        var problems: [ConfigProblem] = []
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            guard let name = ConfigValues.environmentReference(value) else {
                resolved[key] = value
                continue
            }
            if let secret = environment[name], !secret.isEmpty {
                resolved[key] = secret
            } else {
                problems.append(
                    ConfigProblem(
                        keyPath: "kafka.properties.\(key)", message: "environment variable \(name) is not set or empty")
                )
            }
        }
        guard problems.isEmpty else { throw ConfigError(problems: problems) }
        return resolved
    }
}
