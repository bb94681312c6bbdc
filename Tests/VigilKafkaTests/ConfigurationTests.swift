import Testing
import VigilKafka
import VigilTestSupport

@Suite struct ConfigurationTests {
    @Test func unknownPropertyIsNamed() {
        let configuration = KafkaConfiguration(["bootstrap.servers": "localhost:9092", "no.such.property": "1"])
        #expect {
            try configuration.validate()
        } throws: { error in
            guard case let KafkaError.invalidConfiguration(property, reason) = error else { return false }
            return property == "no.such.property" && reason.contains("No such configuration property")
        }
    }

    @Test func badValueIsNamed() {
        #expect {
            _ = try KafkaProducer(configuration: KafkaConfiguration(["acks": "banana"]), logger: testLogger)
        } throws: { error in
            guard case let KafkaError.invalidConfiguration(property, reason) = error else { return false }
            return property == "acks" && reason.contains("Invalid value")
        }
    }

    @Test func secretsAreRedacted() throws {
        var configuration = KafkaConfiguration([
            "bootstrap.servers": "broker:9092",
            "sasl.password": "hunter2",
            "ssl.key.password": "pw-key",
            "ssl.keystore.password": "pw-store",
            "sasl.oauthbearer.client.secret": "oauth-secret",
            "sasl.jaas.config": "jaas-config",
            "custom.api.token": "tok-123",
        ])
        let printed = configuration.description + "\(configuration.redacted)"
        for secret in ["hunter2", "pw-key", "pw-store", "oauth-secret", "jaas-config", "tok-123"] {
            #expect(!printed.contains(secret))
        }
        #expect(printed.contains("bootstrap.servers=broker:9092"))
        #expect(configuration["sasl.password"] == "hunter2")

        // librdkafka quotes rejected values in its error texts ("Invalid value "x" for ...");
        // no secret property of this build rejects a value, so a secret is pasted into another one.
        configuration = KafkaConfiguration(["sasl.password": "s3cr3t", "security.protocol": "s3cr3t"])
        do {
            try configuration.validate()
            Issue.record("validation should fail")
        } catch {
            guard case let .invalidConfiguration(property, reason) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(property == "security.protocol")
            #expect(!"\(error)".contains("s3cr3t"))
            #expect(reason.contains("[REDACTED]"))
        }
    }

    @Test func settingReplacesInPlaceAndNilRemoves() {
        var configuration = KafkaConfiguration(["a.b": "1", "c.d": "2"])
        configuration["a.b"] = "3"
        configuration["c.d"] = nil
        configuration["e.f"] = "4"
        #expect(configuration.properties.map(\.name) == ["a.b", "e.f"])
        #expect(configuration["a.b"] == "3")
    }
}

@Suite struct ClientScopeTests {
    /// librdkafka warns about (and ignores) a property of the other kind of client; `only(for:)` drops
    /// those, going by librdkafka's own property table, and keeps shared and unknown ones.
    @Test func eachClientGetsOnlyItsProperties() {
        let shared = KafkaConfiguration([
            "bootstrap.servers": "broker:9092", "group.id": "g", "fetch.wait.max.ms": "10",
            "auto.offset.reset": "earliest", "linger.ms": "1", "queue.buffering.max.messages": "5",
            "acks": "all", "socket.keepalive.enable": "true", "no.such.property": "x",
        ])
        #expect(
            shared.only(for: .consumer).properties.map(\.name) == [
                "bootstrap.servers", "group.id", "fetch.wait.max.ms", "auto.offset.reset", "socket.keepalive.enable",
                "no.such.property",
            ])
        #expect(
            shared.only(for: .producer).properties.map(\.name) == [
                "bootstrap.servers", "linger.ms", "queue.buffering.max.messages", "acks", "socket.keepalive.enable",
                "no.such.property",
            ])
    }
}
