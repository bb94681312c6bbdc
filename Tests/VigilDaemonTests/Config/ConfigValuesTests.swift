import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// The policy version of a config with no reputation files.
private func version(_ config: DaemonConfig) -> String { LoadedConfig(config: config, sourcePath: "").policyVersion }

@Suite struct ConfigValuesTests {
    @Test func listenAddresses() {
        #expect(ConfigValues.listenAddressProblem("127.0.0.1:9464") == nil)
        #expect(ConfigValues.listenAddressProblem("[::1]:9464") == nil)
        #expect(ConfigValues.listenAddressProblem("localhost:80") == nil)
        #expect(ConfigValues.listenAddressProblem("::1:9464") != nil)
        #expect(ConfigValues.listenAddressProblem("127.0.0.1:70000") != nil)
        #expect(ConfigValues.listenAddressProblem("127.0.0.1:0") != nil)
        #expect(ConfigValues.listenAddressProblem(":9464") != nil)
        #expect(ConfigValues.listenAddressProblem("127.0.0.1") != nil)
        #expect(ConfigValues.listenAddressProblem("[::1]") != nil)
    }

    @Test func bootstrapServers() {
        #expect(ConfigValues.bootstrapServersProblem("k1:9092,k2:9092") == nil)
        #expect(ConfigValues.bootstrapServersProblem("SASL_SSL://k1:9093, [::1]:9092, k3") == nil)
        #expect(ConfigValues.bootstrapServersProblem("k1:99999") != nil)
        #expect(ConfigValues.bootstrapServersProblem("k1:9092,,k2") != nil)
    }

    /// Push receivers: https, or http to a loopback relay; no credentials in the URL, none in logs.
    @Test func pushURLsAndTheirRedaction() {
        #expect(ConfigValues.pushURLProblem("https://acme.okta.com/security/api/v1/security-events") == nil)
        #expect(ConfigValues.pushURLProblem("http://127.0.0.1:8080/events") == nil)
        #expect(ConfigValues.pushURLProblem("http://[::1]/events") == nil)
        #expect(ConfigValues.pushURLProblem("http://receiver.internal/events")?.contains("must be https") == true)
        #expect(ConfigValues.pushURLProblem("https://u:p@acme.okta.com/x")?.contains("user or password") == true)
        #expect(ConfigValues.pushURLProblem("ftp://acme.okta.com/x") != nil)
        #expect(ConfigValues.pushURLProblem("https:///x") != nil)
        let receiver = SignalReceiver(url: "https://r.example/push?api_key=secret#frag", authorization: "")
        #expect(receiver.redactedURL == "https://r.example/push")
        // A refused URL is quoted without what could be a key: its query, its user and password.
        for url in ["http://receiver.internal/x?token=LITERAL10", "ftp://user:LITERAL7@host.example/x"] {
            let problem = ConfigValues.pushURLProblem(url)
            #expect(problem != nil && problem?.contains("LITERAL") == false, "\(problem ?? "")")
        }
        #expect(ConfigValues.redactedURL("http://[") == "(an unparsable URL of 8 bytes)")
    }

    @Test func topicsAndEnvironmentReferences() {
        #expect(ConfigValues.topicNameProblem("auth.events-v2_x") == nil)
        #expect(ConfigValues.topicNameProblem("auth events") != nil)
        #expect(ConfigValues.topicNameProblem("..") != nil)
        #expect(ConfigValues.environmentReference("${env:KAFKA_PASSWORD}") == "KAFKA_PASSWORD")
        #expect(ConfigValues.environmentReference("${env:1BAD}") == nil)
        #expect(ConfigValues.environmentReference("prefix ${env:X}") == nil)
        #expect(ConfigValues.environmentReference("plain") == nil)
    }
}

@Suite struct ConfigValidationTests {
    @Test func defaultsAreValid() {
        #expect(DaemonConfig().validate() == [])
    }

    /// Shared Signals: an issuer compared exactly (no trailing slash), keys whenever signals are on.
    @Test func sharedSignalsNeedAnExactIssuerAndKeys() {
        var config = DaemonConfig()
        config.core.ssf.enabled = true
        config.core.ssf.issuer = "https://vigil.example.com/"
        #expect(config.validate().map(\.keyPath) == ["ssf.issuer", "ssf.signing_keys"])
        config.core.ssf.issuer = "https://vigil.example.com"
        config.signals.signingKeys = [SigningKeyFile(path: "/etc/vigil/k.pem", algorithm: .rs256)]
        #expect(config.validate() == [])
        config.signals.receivers = [SignalReceiver(url: "https://r.example/push", authorization: "Bearer x")]
        #expect(config.validate().map(\.keyPath) == ["ssf.receivers[0].authorization"])
    }

    @Test func reportsEveryBrokenRuleByKeyPath() {
        var config = DaemonConfig()
        config.engine.signals.newDevice.points = 101
        config.engine.signals.failedAttemptsThreshold = 0
        config.engine.alerts.stuffingWindow = .days(31)
        config.engine.signals.pushBurstWindow = .seconds(0)
        config.policy.mediumFrom = 71
        config.geo.cacheEntries = 10_000_001
        config.http.listen = "0.0.0.0:65536"
        config.logging.level = "verbose"
        config.kafka.inputTopics = []
        config.security.deviceHashKeyEnv = "not a name"
        #expect(
            config.validate().map(\.keyPath) == [
                "geo.cache_entries",
                "engine.signals.new_device.points",
                "engine.signals.failed_attempts.threshold",
                "engine.signals.push_burst.window",
                "engine.alerts.credential_stuffing.window",
                "policy.high_from",
                "kafka.input_topics",
                "http.listen",
                "logging.level",
                "security.device_hash_key_env",
            ])
    }

    @Test func literalSecretsAreRefusedWithoutShowingThem() {
        var config = DaemonConfig()
        config.kafka.properties = ["sasl.password": "hunter2", "ssl.key.password": "${env:KEY_PASS}"]
        let problems = config.validate()
        #expect(problems.map(\.keyPath) == ["kafka.properties.sasl.password"])
        #expect(!problems.description.contains("hunter2"))
    }
}

@Suite struct SecretResolutionTests {
    let kafka: KafkaSettings = {
        var kafka = KafkaSettings()
        kafka.properties = [
            "security.protocol": "SASL_SSL", "sasl.password": "${env:KAFKA_PASSWORD}",
            "ssl.key.password": "${env:KEY_PASS}",
        ]
        return kafka
    }()

    @Test func replacesReferencesFromTheEnvironment() throws {
        let resolved = try kafka.resolveSecrets(environment: ["KAFKA_PASSWORD": "s3cret-value", "KEY_PASS": "k3y"])
        #expect(
            resolved == ["security.protocol": "SASL_SSL", "sasl.password": "s3cret-value", "ssl.key.password": "k3y"])
    }

    @Test func namesPropertyAndVariableWhenUnset() {
        #expect(
            throws: ConfigError(problems: [
                ConfigProblem(
                    keyPath: "kafka.properties.sasl.password",
                    message: "environment variable KAFKA_PASSWORD is not set or empty"),
                ConfigProblem(
                    keyPath: "kafka.properties.ssl.key.password",
                    message: "environment variable KEY_PASS is not set or empty"),
            ])
        ) {
            try kafka.resolveSecrets(environment: ["KEY_PASS": ""])
        }
    }

    @Test func neverPutsTheSecretInErrorsOrTheCanonicalRendering() {
        var config = DaemonConfig()
        config.kafka = kafka
        do {
            _ = try kafka.resolveSecrets(environment: ["KAFKA_PASSWORD": "s3cret-value"])
            Issue.record("KEY_PASS is unset: resolution must fail")
        } catch {
            #expect(!error.description.contains("s3cret-value"))
        }
        #expect(config.canonicalYAML.contains("\"sasl.password\": \"${env:KAFKA_PASSWORD}\""))
    }
}

@Suite struct PolicyVersionTests {
    @Test func isSixteenHexDigitsAndStable() {
        let first = version(DaemonConfig())
        #expect(first.count == 16)
        #expect(first.allSatisfy { $0.isHexDigit })
        #expect(version(DaemonConfig()) == first)
    }

    /// Engine settings and the reputation table change what verdicts say; where output goes, how state
    /// is kept and how the instance joins its group do not (see
    /// `LoadedConfig.policyVersion(of:reputationContent:geoIdentity:)`).
    @Test func changesWithWhatDecidesVerdictsOnly() {
        var versions: Set<String> = [version(DaemonConfig())]
        var config = DaemonConfig()
        config.engine.signals.newDevice.points = 21
        versions.insert(version(config))
        config = DaemonConfig()
        config.engine.alerts.takeoverAfterReset.enabled = false
        versions.insert(version(config))
        config = DaemonConfig()
        config.reputation.asnCategories = [64496: "hosting"]
        versions.insert(version(config))
        #expect(versions.count == 4)
        config = DaemonConfig()
        config.kafka.properties = ["sasl.password": "${env:OTHER}"]
        config.kafka.bootstrapServers = "kafka-2.example:9093"
        config.kafka.groupID = "vigil-eu"
        config.kafka.groupInstanceID = "vigil-eu-1"
        config.kafka.decisionsTopic = "eu.decisions"
        config.http.listen = "0.0.0.0:9500"
        config.state.directory = "/srv/vigil"
        config.state.flushInterval = .seconds(5)
        config.logging.level = "debug"
        config.geo.cacheEntries = 0
        #expect(version(config) == version(DaemonConfig()))
    }

    /// The geo data counts, not where it sits: the same build in another folder keeps the version;
    /// another build of the same database (its `build_epoch`), another database, or none, change it.
    @Test func coversTheGeoDataIdentityNotItsPath() throws {
        let directory = try TestPaths.temporaryDirectory("policy-geo")
        let original = TestPaths.maxmind("GeoLite2-ASN-Test.mmdb")
        let copy = directory.appendingPathComponent("asn.mmdb")
        try FileManager.default.copyItem(at: original, to: copy)
        let rebuilt = directory.appendingPathComponent("asn-rebuilt.mmdb")
        var bytes = try [UInt8](Data(contentsOf: original))
        try Self.bumpBuildEpoch(&bytes)
        try Data(bytes).write(to: rebuilt)
        func version(asn: URL?) -> String {
            var config = DaemonConfig()
            config.geo.asnDatabase = asn?.path
            return LoadedConfig(config: config, sourcePath: "").policyVersion
        }
        let base = version(asn: original)
        #expect(version(asn: copy) == base)
        #expect(version(asn: rebuilt) != base)
        #expect(version(asn: TestPaths.maxmind("GeoIP2-ISP-Test.mmdb")) != base)
        #expect(version(asn: nil) != base)
    }

    /// Changes the last byte of the metadata's `build_epoch` (an unsigned integer right after its key):
    /// the same database, another build.
    static func bumpBuildEpoch(_ bytes: inout [UInt8]) throws {
        let key = Array("build_epoch".utf8)
        guard
            let start = (0...(bytes.count - key.count)).reversed().first(where: {
                Array(bytes[$0..<$0 + key.count]) == key
            })
        else { throw TestFailure("no build_epoch in the metadata") }
        let control = bytes[start + key.count]
        // An extended type (uint32/uint64) has its type in the next byte: the value starts after it.
        let valueStart = start + key.count + (control >> 5 == 0 ? 2 : 1)
        bytes[valueStart + Int(control & 0x1f) - 1] ^= 1
    }

    @Test func canonicalRenderingQuotesStringsSafely() {
        var config = DaemonConfig()
        config.policy.acrSoft = "quote\" backslash\\ newline\n"
        #expect(config.canonicalYAML.contains(#"acr_soft: "quote\" backslash\\ newline\n""#))
    }
}
