import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// The repository checkout, found from this file so tests run from any working directory.
private let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// Problems `yaml` produces, as `path (line n): message` lines.
/// Every problem `ConfigLoader.parse` reports for `yaml`, as printed; empty when it loads.
func problems(_ yaml: String, baseDirectory: String = "/etc/vigil") -> [String] {
    do {
        _ = try ConfigLoader.parse(yaml: yaml, baseDirectory: baseDirectory)
        return []
    } catch {
        return error.problems.map(\.description)
    }
}

private func parse(_ yaml: String, baseDirectory: String = "/etc/vigil") throws -> DaemonConfig {
    try ConfigLoader.parse(yaml: yaml, baseDirectory: baseDirectory)
}

@Suite struct ExampleConfigTests {
    @Test func exampleStatesTheDefaults() throws {
        let loaded = try ConfigLoader.load(path: repository.appendingPathComponent("Examples/vigil.yaml").path)
        var expected = DaemonConfig()
        // Foundation's path standardisation resolves a symlinked ../shared (as in a local CI clone).
        let maxmind = repository.deletingLastPathComponent().appendingPathComponent("shared/testdata/maxmind")
            .resolvingSymlinksInPath().path
        expected.geo.cityDatabase = maxmind + "/GeoIP2-City-Test.mmdb"
        expected.geo.asnDatabase = maxmind + "/GeoLite2-ASN-Test.mmdb"
        expected.geo.anonymousDatabase = maxmind + "/GeoIP2-Anonymous-IP-Test.mmdb"
        expected.reputation.asnCategories = [64496: "hosting", 64497: "vpn"]
        expected.inputFormats = ["auth.events": .vigil]
        expected.reputation.cidrLists = [
            .init(path: repository.appendingPathComponent("Examples/reputation/hosting.txt").path, category: "hosting")
        ]
        #expect(loaded.config == expected)
        #expect(loaded.policyVersion == LoadedConfig(config: expected, sourcePath: "").policyVersion)
        for path in expected.reputation.cidrLists.map(\.path)
            + [expected.geo.cityDatabase, expected.geo.asnDatabase, expected.geo.anonymousDatabase].compactMap({ $0 })
        {
            #expect(FileManager.default.fileExists(atPath: path), "\(path)")
        }
    }

    @Test func minimalConfigIsAllDefaults() throws {
        let loaded = try ConfigLoader.load(path: repository.appendingPathComponent("Examples/minimal.yaml").path)
        #expect(loaded.config == DaemonConfig())
        #expect(try parse("{}") == DaemonConfig())
        #expect(try parse("geo:\nengine:\n  signals: ~\n") == DaemonConfig())
    }

    @Test func canonicalRenderingLoadsBackToTheSameConfig() throws {
        let example = try ConfigLoader.load(path: repository.appendingPathComponent("Examples/vigil.yaml").path).config
        var config = example
        config.kafka.properties = [
            "sasl.password": "${env:KAFKA_PASSWORD}", "linger.ms": "5", "client.id": "a \"quoted\" id",
        ]
        config.policy.decisionTTL = EventDuration(microseconds: 1_500)
        #expect(try parse(config.canonicalYAML) == config)
        #expect(try parse(DaemonConfig().canonicalYAML) == DaemonConfig())
    }
}

@Suite struct ConfigErrorTests {
    @Test func wrongTypesNameKeyPathAndLine() {
        let yaml = """
            engine:
              signals:
                new_device:
                  points: ten
                  enabled: yes
                failed_attempts: {window: 300}
            kafka:
              input_topics: auth.events
              group_id: {a: 1}
            geo:
              max_speed: 1
              cache_entries: "10"
            """
        #expect(
            problems(yaml) == [
                #"engine.signals.new_device.points (line 4): expected an integer, got "ten""#,
                #"engine.signals.new_device.enabled (line 5): expected true or false, got "yes""#,
                #"engine.signals.failed_attempts.window (line 6): expected a duration with a unit (250ms, 90s, 5m, 24h, 30d), got "300""#,
                "kafka.input_topics (line 8): expected a list of strings, got \"auth.events\"",
                "kafka.group_id (line 9): expected a string, got a mapping",
                "geo.max_speed (line 11): unknown key",
                #"geo.cache_entries (line 12): expected an integer, got "10""#,
            ])
    }

    @Test func unknownKeysSuggestTheNearestKnownOne() {
        #expect(
            problems(
                "enigne: {}\nengine:\n  signals:\n    new_devce: {points: 5}\n  alerts: {push_bombing: {windw: 5m}}\n")
                == [
                    "enigne (line 1): unknown key (did you mean engine?)",
                    "engine.signals.new_devce (line 4): unknown key (did you mean new_device?)",
                    "engine.alerts.push_bombing.windw (line 5): unknown key (did you mean window?)",
                ])
        #expect(problems("completely_unrelated: 1") == ["completely_unrelated (line 1): unknown key"])
    }

    @Test func outOfRangeValuesAreLocated() {
        let yaml = """
            geo:
              cache_entries: 10_000_001
            engine:
              signals:
                new_device: {points: 101}
                push_burst: {threshold: 0, window: 0s}
              alerts:
                credential_stuffing: {window: 31d}
            policy:
              medium_from: 50
              high_from: 50
            http:
              listen: "127.0.0.1:70000"
            logging:
              level: verbose
            """
        #expect(
            problems(yaml) == [
                "geo.cache_entries (line 2): must be between 0 and 10000000, got 10000001",
                "engine.signals.new_device.points (line 5): must be between 0 and 100, got 101",
                "engine.signals.push_burst.threshold (line 6): must be between 1 and 1000000, got 0",
                "engine.signals.push_burst.window (line 6): must be more than 0s and at most 30d, got 0s",
                "engine.alerts.credential_stuffing.window (line 8): must be more than 0s and at most 30d, got 31d",
                "policy.high_from (line 11): must be greater than policy.medium_from (50), got 50",
                #"http.listen (line 13): port must be 1–65535 in "127.0.0.1:70000""#,
                #"logging.level (line 15): must be one of trace, debug, info, notice, warning, error, critical, got "verbose""#,
            ])
    }

    /// The campaign settings that only make sense together: a slot that divides a day, a hold of at least
    /// a slot (a slot's count never falls: a shorter hold would alert again within it), an idle TTL past
    /// the hold and the allowed lateness (a campaign's fact outlives no event that reads it).
    @Test func campaignSettingsThatContradictEachOther() {
        let yaml = """
            engine:
              allowed_lateness: 1d
              campaigns:
                slot: 7m
                hold: 5m
                idle_ttl: 1d
            """
        #expect(
            problems(yaml) == [
                "engine.campaigns.slot (line 4): must divide a day (5m, 10m, 15m, 20m, 30m, 1h, 2h, 3h, 4h, 6h)",
                "engine.campaigns.hold (line 5): must be at least engine.campaigns.slot",
                "engine.campaigns.idle_ttl (line 6): must be longer than engine.campaigns.hold plus engine.allowed_lateness",
            ])
    }

    @Test func acceptsIPv6ListenAndAllLogLevels() throws {
        #expect(try parse("http: {listen: \"[::1]:9464\"}").http.listen == "[::1]:9464")
        for level in ["trace", "debug", "info", "notice", "warning", "error", "critical"] {
            #expect(try parse("logging: {level: \(level), format: json}").logging.level == level)
        }
    }

    @Test func everyDuplicateKeyIsReportedWithItsPath() {
        let yaml = """
            engine:
              signals:
                new_device:
                  points: 10
                  points: 20
            policy:
              medium_from: 40
            policy:
              high_from: 80
            """
        #expect(
            problems(yaml) == [
                "engine.signals.new_device.points (line 4): duplicate key, set again at line 5",
                "policy (line 6): duplicate key, set again at line 8",
            ])
        #expect(
            problems("kafka: {\"group_id\": a, group_id: b}") == [
                "kafka.group_id (line 1): duplicate key, set again at line 1"
            ])
    }

    @Test func emptyInvalidAndNonMappingFiles() {
        #expect(problems("") == ["the file is empty (write {} to use every default)"])
        #expect(problems("# only a comment\n") == ["the file is empty (write {} to use every default)"])
        #expect(problems("- a\n- b\n") == ["line 1: expected a mapping of settings at the top level, got a list"])
        #expect(problems("just text") == [#"line 1: expected a mapping of settings at the top level, got "just text""#])
        #expect(problems("geo:\n  cache_entries: [1,\n").first?.hasPrefix("line 3: invalid YAML") == true)
        #expect(problems("a: 1\n---\nb: 2\n").first?.contains("invalid YAML") == true)
        #expect(problems("engine: [1, 2]") == ["engine (line 1): expected a mapping, got a list"])
    }

    @Test func nestingDeeperThanAnyConfigIsRefusedWithoutRecursingOn() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000) + "\n"
        #expect(problems(deep).contains { $0.contains("nested deeper than 64 levels") })
    }

    @Test func anchorsAndAliasesAreRefused() {
        var bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<30 {
            let previous = "*a\(level - 1)"
            bomb += "a\(level): &a\(level) [\(Array(repeating: previous, count: 10).joined(separator: ", "))]\n"
        }
        let found = problems(bomb)
        #expect(found.count == 30)
        #expect(found.first == "a0 (line 1): YAML anchors and aliases (&name, *name) are not allowed")
        #expect(
            problems("geo: &g {cache_entries: 5}\ninput: {}\n") == [
                "geo (line 1): YAML anchors and aliases (&name, *name) are not allowed"
            ])
    }

    @Test func tooLargeFilesAreRefusedBeforeParsing() throws {
        let big = "# " + String(repeating: "x", count: ConfigLoader.maxFileBytes) + "\n{}\n"
        #expect(problems(big) == ["the file is \(big.utf8.count) bytes; a config file may be at most 1048576 bytes"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-big-\(UUID().uuidString).yaml")
        try big.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(throws: ConfigError.self) { try ConfigLoader.load(path: file.path) }
    }

    @Test func missingFileIsAnError() {
        #expect(
            throws: ConfigError(
                source: "/nonexistent/vigil.yaml",
                problems: [ConfigProblem(keyPath: "", message: "cannot read the file")])
        ) {
            try ConfigLoader.load(path: "/nonexistent/vigil.yaml")
        }
    }

    @Test func kafkaAndReputationProblems() {
        let yaml = """
            kafka:
              input_topics: [auth.events, "bad topic"]
              alerts_topic: auth.events
              properties:
                sasl.password: hunter2
                group.id: other
                sasl.username: "${env:USER"
            reputation:
              asn: {AS64496: hosting, "notanumber": vpn, "64497": "Bad Category"}
              cidr_lists:
                - {path: lists/tor.txt}
                - lists/plain.txt
                - {path: [a], category: tor}
            """
        let found = problems(yaml)
        #expect(
            found == [
                #"kafka.input_topics[1] (line 2): invalid Kafka topic name "bad topic" (1–249 characters of A-Z a-z 0-9 . _ -)"#,
                "kafka.alerts_topic (line 3): must not be an input topic (Vigil would consume its own output), got auth.events",
                #"kafka.properties.sasl.password (line 5): secrets must not be written in the file: use "${env:NAME}" and set NAME in the environment"#,
                "kafka.properties.group.id (line 6): set kafka.group_id instead",
                "kafka.properties.sasl.username (line 7): malformed environment reference: the whole value must be ${env:NAME}",
                #"reputation.asn.notanumber (line 9): expected an AS number (0–4294967295), got "notanumber""#,
                #"reputation.asn.64497 (line 9): category must be 1–64 characters of a-z 0-9 _ -, got "Bad Category""#,
                "reputation.cidr_lists[0] (line 11): missing required key category",
                #"reputation.cidr_lists[1] (line 12): expected a mapping of path and category, got "lists/plain.txt""#,
                "reputation.cidr_lists[2].path (line 13): expected a file path, got a list",
            ])
        #expect(!found.joined().contains("hunter2"))
    }

    @Test func stateProblems() {
        #expect(
            problems(
                """
                state:
                  changelog_topic: "bad topic"
                  flush_interval: 0s
                  snapshot_interval: 1h
                  replication_factor: 0
                  admin_timeout: 0s
                  restore_batch: 0
                """) == [
                    #"state.changelog_topic (line 2): invalid Kafka topic name "bad topic" (1–249 characters of A-Z a-z 0-9 . _ -)"#,
                    "state.flush_interval (line 3): must be at least 10ms and at most 5m, got 0s",
                    "state.replication_factor (line 5): must be -1 (the brokers' default) or at least 1, got 0",
                    "state.admin_timeout (line 6): must be at least 1s and at most 10m, got 0s",
                    "state.restore_batch (line 7): must be between 1 and 1000000, got 0",
                ])
        #expect(
            problems("state: {flush_interval: 10s, snapshot_interval: 5s}") == [
                "state.snapshot_interval (line 1): must be 0s (off) or at least state.flush_interval (10s), got 5s"
            ])
        #expect(problems("state: {flush_interval: 10s, snapshot_interval: 0s}") == [])
        #expect(
            problems("state: {changelog_topic: auth.alerts}") == [
                "state.changelog_topic (line 1): must differ from the input and output topics, got auth.alerts"
            ])
        // Every internal topic's name derives from the group.
        let derivedNameProblems = ["by-user", "by-source", "by-domain", "by-campaign", "source-risk", "campaigns"].map {
            suffix in
            "topology.\(suffix.replacingOccurrences(of: "-", with: "_"))_topic: invalid Kafka topic name \"risk "
                + "team-\(suffix)\" (1–249 characters of A-Z a-z 0-9 . _ -) (derived from kafka.group_id: set this "
                + "key instead)"
        }
        #expect(
            problems("kafka: {group_id: \"risk team\"}") == derivedNameProblems + [
                #"state.changelog_topic: invalid Kafka topic name "risk team-state-changelog" (1–249 characters of A-Z a-z 0-9 . _ -) (derived from kafka.group_id: set this key instead)"#
            ])
        // Without a changelog its name is never used, so it is not checked.
        #expect(problems("kafka: {group_id: \"risk team\"}\nstate: {changelog: false}") == derivedNameProblems)
    }

    @Test func topologyProblems() throws {
        #expect(
            problems(
                """
                topology:
                  partitions: -1
                  by_user_topic: auth.events
                  by_source_topic: vigil-state-changelog
                  by_domain_topic: shared
                  source_risk_topic: shared
                  repartition_retention: 10m
                """) == [
                    "topology.partitions (line 2): must be between 0 and 100000, got -1",
                    "topology.by_user_topic (line 3): must differ from the input and output topics, got auth.events",
                    "topology.by_source_topic (line 4): must differ from state.changelog_topic (changelog topic), "
                        + "both are vigil-state-changelog",
                    "topology.source_risk_topic (line 6): must differ from topology.by_domain_topic (repartition "
                        + "topic), both are shared",
                    "topology.repartition_retention (line 7): must be at least 1h and at most 365d, got 10m",
                ])
        // Without a changelog its name may be anything.
        #expect(problems("topology: {by_source_topic: vigil-state-changelog}\nstate: {changelog: false}") == [])
        #expect(problems("input: {keyed_by_user: true}\ntopology: {partitions: 12}") == [])
        #expect(try parse("input: {keyed_by_user: true}").topology.inputKeyedByUser)
    }

    /// A stage applies a repartition topic's events in order and a restore trusts a changelog checkpoint
    /// only after the records before it: the producer must keep them in order (idempotence) and keep what
    /// it acknowledged (acks=all), with or without the changelog.
    @Test func theInternalTopicsRefuseWeakenedProducerGuarantees() {
        let weakened = [
            "kafka.properties.acks (line 1): must stay all (an acknowledged repartition or changelog record must "
                + "survive a leader failover), got 1",
            "kafka.properties.enable.idempotence (line 1): must stay true (repartition and changelog records must "
                + "not be reordered), got false",
        ]
        #expect(problems("kafka: {properties: {enable.idempotence: \"false\", acks: \"1\"}}") == weakened)
        #expect(
            problems("kafka: {properties: {enable.idempotence: \"false\", acks: \"1\"}}\nstate: {changelog: false}")
                == weakened)
        #expect(problems("kafka: {properties: {enable.idempotence: \"true\", acks: \"-1\"}}") == [])
    }

    @Test func changelogTopicDerivesFromTheGroupUnlessSet() throws {
        #expect(InternalTopics.Names(try parse("kafka: {group_id: risk}")).changelog == "risk-state-changelog")
        #expect(
            InternalTopics.Names(try parse("kafka: {group_id: risk}\nstate: {changelog_topic: risk.state}")).changelog
                == "risk.state")
    }

    /// A record keeps its values as text: a field whose value is not one string is reported, never dropped
    /// with its record in silence.
    @Test func recordFieldsThatAreNotTextAreReported() {
        let yaml = """
            reputation:
              cidr_lists:
                - {path: {a: 1}, category: tor}
                - {path: [x], category: tor}
                - {path: null, category: tor}
                - {path: ~, category: tor}
            """
        #expect(
            problems(yaml) == [
                "reputation.cidr_lists[0].path (line 3): expected a file path, got a mapping",
                "reputation.cidr_lists[1].path (line 4): expected a file path, got a list",
                "reputation.cidr_lists[2].path (line 5): expected text, got null",
                "reputation.cidr_lists[3].path (line 6): expected text, got null",
            ])
    }

    @Test func errorDescriptionListsEveryProblem() {
        do {
            _ = try ConfigLoader.parse(yaml: "input: {max_event_bytes: 1, max_nesting_depth: 0}", baseDirectory: "/")
            Issue.record("expected a ConfigError")
        } catch {
            #expect(
                error.description == """
                    configuration: 2 problems
                      input.max_event_bytes (line 1): must be between 256 and 16777216, got 1
                      input.max_nesting_depth (line 1): must be between 1 and 256, got 0
                    """)
        }
    }
}

@Suite struct ConfigValueTests {
    @Test func relativePathsResolveAgainstTheConfigDirectory() throws {
        let yaml = """
            geo:
              city_db: db/city.mmdb
              asn_db: /var/lib/GeoIP/asn.mmdb
              anonymous_db: ../shared/anon.mmdb
            reputation:
              cidr_lists: [{path: ./lists/tor.txt, category: tor}]
            """
        let config = try parse(yaml, baseDirectory: "/etc/vigil")
        #expect(config.geo.cityDatabase == "/etc/vigil/db/city.mmdb")
        #expect(config.geo.asnDatabase == "/var/lib/GeoIP/asn.mmdb")
        #expect(config.geo.anonymousDatabase == "/etc/shared/anon.mmdb")
        #expect(config.reputation.cidrLists == [.init(path: "/etc/vigil/lists/tor.txt", category: "tor")])
        #expect(try parse("geo: {city_db: null}").geo.cityDatabase == nil)
    }

    @Test func loadResolvesAgainstTheFilesDirectory() throws {
        let directory = try TestPaths.temporaryDirectory("config")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("vigil.yaml")
        try "geo: {city_db: city.mmdb}\n".write(to: file, atomically: true, encoding: .utf8)
        let loaded = try ConfigLoader.load(path: file.path)
        #expect(
            loaded.config.geo.cityDatabase == directory.appendingPathComponent("city.mmdb").standardizedFileURL.path)
        #expect(loaded.sourcePath == file.path)
    }

    @Test func secretsStayReferencesUntilResolved() throws {
        let config = try parse(#"kafka: {properties: {"sasl.password": "${env:KAFKA_PASSWORD}", "linger.ms": 5}}"#)
        #expect(config.kafka.properties == ["sasl.password": "${env:KAFKA_PASSWORD}", "linger.ms": "5"])
        let resolved = try config.kafka.resolveSecrets(environment: ["KAFKA_PASSWORD": "pw-123456"])
        #expect(resolved["sasl.password"] == "pw-123456")
        #expect(!config.canonicalYAML.contains("pw-123456"))
        #expect(throws: ConfigError.self) { try config.kafka.resolveSecrets(environment: [:]) }
    }

    @Test func policyVersionIgnoresLayoutButNotValues() throws {
        let a = try parse(
            """
            # comment
            engine:
              allowed_lateness: 5m
              signals: {new_device: {points: 20, enabled: true}}
            policy: {high_from: 71}
            """)
        let b = try parse(
            """
            policy:
              high_from: 71   # same value
            engine:
              signals:
                new_device:
                  enabled: true
              allowed_lateness: 300s
            """)
        let c = try parse("engine: {signals: {new_device: {points: 21}}}")
        let version = { (config: DaemonConfig) in LoadedConfig(config: config, sourcePath: "").policyVersion }
        #expect(version(a) == version(b))
        #expect(version(a) == version(DaemonConfig()))
        #expect(version(c) != version(a))
        // The ssf section shapes the tokens built from verdicts, not the verdicts.
        let signals = try parse(
            """
            ssf:
              enabled: true
              issuer: "https://v.test"
              subject_in_event: true
              signing_keys: [{path: k.pem, algorithm: ES256}]
            """)
        #expect(version(signals) == version(a))
    }

    @Test func numbersAcceptReadableForms() throws {
        let config = try parse(
            "geo: {cache_entries: 1_000}\nengine: {signals: {impossible_travel: {max_speed_kmh: 1000, min_distance_km: 250.5}}}"
        )
        #expect(config.geo.cacheEntries == 1000)
        #expect(config.engine.signals.maxSpeedKmh == 1000)
        #expect(config.engine.signals.minDistanceKm == 250.5)
    }
}
