import VigilCore
import VigilGeo
import VigilKafka

/// Every setting of the file, declared once: the daemon's sections around the engine's
/// (`VigilConfig.settings`), in file order. Everything the daemon builds at startup from these (the consumer,
/// the listener, the log handlers, the device-hash key, the open databases and reputation table) stays until
/// a restart, so they are all `restart`; the engine's are all `live`.
extension DaemonConfig {
    /// The whole file's settings in file order: the source of decoding, validation, the restart-only diff
    /// and the generated schema and example.
    public static let settings: SettingTable<DaemonConfig> =
        SettingTable(geoSettings + reputationSettings)
        + engineSettingsWithDaemonInput
        + SettingTable(signalTransmitterSettings)
        + SettingTable(
            kafkaSettings + topologySettings + stateSettings + httpSettings + loggingSettings + securitySettings,
            sectionDocs: [
                "topology":
                    """
                Internal topics between the stages: input is decoded once and re-produced, keyed by user, source and \
                email domain (Kafka's default partitioner, murmur2), so that every detection sees all events of its \
                subject whatever the input's keys and partition count. Created at start when missing (the source-risk \
                table compacted, the others deleting by time) and checked when present; nothing to configure for an \
                unkeyed input.
                """,
                "state":
                    """
                Durable state: every change goes to one compacted changelog topic (the source of truth, restored on \
                start and rebalance) and each partition is also snapshotted locally so a restart reads only the \
                changelog's tail. Outputs are at least once, the state exactly once: input after the last commit is \
                processed again for its outputs but counted once. User ids, devices, addresses and domains enter neither, \
                only their keyed hashes; event ids (alert evidence) and place names do, as they are.
                """,
            ])

    /// Every rule the values break, in key order; empty when the config is usable.
    public func validate() -> [ConfigProblem] { Self.settings.problems(in: self) }

    /// Every setting, defaults included, as `vigil check-config --print-effective` shows it. Secrets appear
    /// only as `${env:NAME}` references, which is all the config ever holds.
    public var canonicalYAML: String { Self.settings.canonicalYAML(of: self) }

    private typealias S = Setting<DaemonConfig>

    /// The engine's settings with the daemon's `input.` and `engine.` settings right after the engine's own: a
    /// section's settings must be adjacent.
    private static var engineSettingsWithDaemonInput: SettingTable<DaemonConfig> {
        let lifted = VigilConfig.settings.lifted(into: \DaemonConfig.core)
        let engine = lifted.settings
        let inputEnd = (engine.lastIndex { $0.path.hasPrefix("input.") } ?? -1) + 1
        // After the engine's own scalars, before its subsections (`engine.signals.*`).
        let engineEnd =
            (engine.lastIndex { $0.path.hasPrefix("engine.") && $0.path.split(separator: ".").count == 2 } ?? -1) + 1
        return SettingTable(
            Array(engine[..<inputEnd]) + inputSettings + engine[inputEnd..<engineEnd] + engineThreadSettings
                + engine[engineEnd...],
            sectionDocs: lifted.sectionDocs)
    }

    private static let engineThreadSettings: [S] = [
        .integer(
            "engine.threads", \.engineThreads, 0...256, .restart,
            """
            Threads the assigned partitions are processed on (vigil run), each partition on one thread at a time and \
            in order; 0: one per core. librdkafka's own threads come on top, so on a small machine fewer can be \
            faster (BENCHMARKS.md).
            """
        )
    ]

    private static let inputSettings: [S] = [
        Setting(
            "input.formats", .textMap, reload: .restart,
            doc:
                """
                The record format of each input topic that does not carry Vigil's own contract (vigil): keycloak \
                (Keycloak user events from an event-listener SPI), auth0 (Auth0 tenant logs from a log stream), okta (Okta System \
                Log events from a poller or Log Streaming), entra (Microsoft Entra ID sign-in and audit logs from an Event \
                Hub's Kafka endpoint, {"records": [...]} per message), e.g. {keycloak.events: keycloak}. docs/input-formats.md maps each format's fields. \
                Topics not named here read vigil.
                """,
            example: .textMap(["auth.events": "vigil"]),
            value: { config in .textMap(config.inputFormats.mapValues(\.rawValue)) },
            store: { config, value in
                guard case .textMap(let map) = value else { return [] }
                var issues: [SettingIssue] = []
                for (topic, name) in map.sorted(by: { $0.key < $1.key }) {
                    guard let format = InputFormat(rawValue: name) else {
                        issues.append(
                            SettingIssue(
                                ".\(topic)", "expected one of \(InputFormat.names), got \(ConfigValues.quoted(name))"))
                        continue
                    }
                    config.inputFormats[topic] = format
                }
                return issues
            },
            rules: { config in
                config.inputFormats.keys.sorted().compactMap { topic in
                    config.kafka.inputTopics.contains(topic)
                        ? nil : SettingIssue(".\(topic)", "is not one of kafka.input_topics")
                }
            }),
        .boolean(
            "input.keyed_by_user", \.topology.inputKeyedByUser, .restart,
            """
            The producer already keys input records by user id (UTF-8, as the events spell it; Kafka's default \
            partitioner) and every input topic has topology.partitions partitions: input partitions are then processed \
            by the user stage directly, without the by-user hop (checked at start). False suits any other input: \
            unkeyed, or keyed by anything else. Source and domain records are re-produced either way.
            """
        ),
    ]
    private static let sharedTestData = "../../shared/testdata/maxmind/"

    private static let geoSettings: [S] = [
        .filePath(
            "geo.city_db", \.geo.cityDatabase, .restart,
            """
            GeoIP2/GeoLite2 City (or Country) database; null: no geolocation. The example uses MaxMind's public test \
            databases from the shared test data beside the checkout.
            """,
            example: sharedTestData + "GeoIP2-City-Test.mmdb"),
        .filePath(
            "geo.asn_db", \.geo.asnDatabase, .restart, "GeoLite2 ASN database; null: no network names.",
            example: sharedTestData + "GeoLite2-ASN-Test.mmdb"),
        .filePath(
            "geo.anonymous_db", \.geo.anonymousDatabase, .restart,
            "GeoIP2 Anonymous IP database (optional product); null: no anonymous_ip signal.",
            example: sharedTestData + "GeoIP2-Anonymous-IP-Test.mmdb"),
        .integer(
            "geo.cache_entries", \.geo.cacheEntries, 0...10_000_000, .restart,
            "Lookup cache entries (0 disables it). 65536 covers the active source IPs of a large tenant in a few MB."),
        .duration(
            "geo.reload_check_interval", \.geo.reloadCheckInterval, .seconds(1)...EventDuration.days(1), .restart,
            """
            How often the files are checked for replacement. MaxMind updates weekly; 30s makes a swapped file live \
            quickly at negligible cost.
            """
        ),
    ]

    private static let reputationSettings: [S] = [
        Setting(
            "reputation.asn", .textMap, reload: .restart,
            doc:
                """
                Your own ASN → category table (\"64496\" or \"AS64496\"). Categories: 1–64 of a-z 0-9 _ -. 64496–64511 \
                are documentation AS numbers (RFC 5398).
                """,
            example: .textMap(["64496": "hosting", "64497": "vpn"]),
            value: { config in
                .textMap(
                    Dictionary(uniqueKeysWithValues: config.reputation.asnCategories.map { ("\($0.key)", $0.value) }))
            },
            store: { config, value in
                guard case .textMap(let map) = value else { return [] }
                var issues: [SettingIssue] = []
                for (name, category) in map.sorted(by: { $0.key < $1.key }) {
                    let digits = name.uppercased().hasPrefix("AS") ? String(name.dropFirst(2)) : name
                    guard let asn = UInt32(digits) else {
                        issues.append(
                            SettingIssue(
                                ".\(name)", "expected an AS number (0–4294967295), got \(ConfigValues.quoted(name))"))
                        continue
                    }
                    config.reputation.asnCategories[asn] = category
                }
                return issues
            },
            rules: { config in
                config.reputation.asnCategories.sorted { $0.key < $1.key }.compactMap { asn, category in
                    ConfigValues.categoryProblem(category).map { SettingIssue(".\(asn)", $0) }
                }
            }),
        Setting(
            "reputation.cidr_lists", .records([.init("path", .filePath), .init("category", .text(nonEmpty: true))]),
            reload: .restart,
            doc:
                """
                Files of one CIDR per line ('#' comments), each mapped to a category. Their content (not their path) \
                enters policy_version.
                """,
            example: .records([["path": "reputation/hosting.txt", "category": "hosting"]]),
            value: { config in .records(config.reputation.cidrLists.map { ["path": $0.path, "category": $0.category] })
            },
            store: { config, value in
                guard case .records(let records) = value else { return [] }
                config.reputation.cidrLists = records.compactMap { record in
                    guard let path = record["path"], let category = record["category"] else { return nil }
                    return ReputationSettings.CIDRList(path: path, category: category)
                }
                return []
            },
            rules: { config in
                config.reputation.cidrLists.enumerated().flatMap { index, list in
                    (list.path.isEmpty ? [SettingIssue("[\(index)].path", "must not be empty")] : [])
                        + (ConfigValues.categoryProblem(list.category).map { [SettingIssue("[\(index)].category", $0)] }
                            ?? [])
                }
            }),
    ]

    private static let kafkaSettings: [S] = [
        .text(
            "kafka.bootstrap_servers", \.kafka.bootstrapServers, nonEmpty: false, .restart,
            "Comma-separated host:port list. Empty: `vigil demo` starts an in-process mock cluster.",
            rules: { config in
                let servers = config.kafka.bootstrapServers
                guard !servers.isEmpty, let problem = ConfigValues.bootstrapServersProblem(servers) else { return [] }
                return [SettingIssue(problem)]
            }),
        .text(
            "kafka.group_id", \.kafka.groupID, .restart, "Consumer group; instances sharing it share the partitions."),
        .boolean(
            "kafka.static_membership", \.kafka.staticMembership, .restart,
            """
            Join the group as a static member (Kafka's group.instance.id, brokers 2.3+): an instance restarted within \
            session.timeout.ms (60s by default here, set in kafka.properties) gets its partitions back without a \
            rebalance, so a crash costs its restart and the tail of its changelog, not the session timeout. A static \
            member never leaves the group, not even when stopped: its partitions move only once the session times out. \
            Turn it off where instances do not keep their identity (host names that change with every replacement, \
            as in a Kubernetes Deployment).
            """
        ),
        .text(
            "kafka.group_instance_id", \.kafka.groupInstanceID, nonEmpty: false, .restart,
            """
            This instance's group.instance.id, unique in the group and the same across its restarts; empty: \
            <host name>-<8 hex digits of state.dir>, so the pods of a StatefulSet and several instances on one host \
            (each with its own state.dir) differ by themselves. Two instances with one id fence each other: the \
            older stops with FENCED_INSTANCE_ID.
            """,
            rules: { config in
                let id = config.kafka.groupInstanceID
                guard !id.isEmpty else { return [] }
                if !config.kafka.staticMembership {
                    return [SettingIssue("is set but kafka.static_membership is false: remove it or turn that on")]
                }
                return ConfigValues.groupInstanceIDProblem(id).map { [SettingIssue($0)] } ?? []
            }),
        .textList(
            "kafka.input_topics", \.kafka.inputTopics, .restart,
            "Topics consumed; output topics must differ from them (Vigil would read its own output).",
            rules: { config in
                let topics = config.kafka.inputTopics
                if topics.isEmpty { return [SettingIssue("must list at least one topic")] }
                return topics.enumerated().flatMap { index, topic in
                    (ConfigValues.topicNameProblem(topic).map { [SettingIssue("[\(index)]", $0)] } ?? [])
                        + (topics[..<index].contains(topic)
                            ? [SettingIssue("[\(index)]", "topic \(topic) is listed twice")] : [])
                }
            }),
        outputTopic("decisions_topic", \.kafka.decisionsTopic, "Where decisions go, keyed by user."),
        outputTopic("alerts_topic", \.kafka.alertsTopic, "Where alerts go."),
        outputTopic(
            "dead_letter_topic", \.kafka.deadLetterTopic, "Where messages that cannot be processed go, with the reason."
        ),
        outputTopic(
            "signals_topic", \.kafka.signalsTopic,
            """
            Where signed Security Event Tokens go with ssf.enabled (one compact JWS per message, keyed by user); the \
            push transmitter reads them from here.
            """),
        .duration(
            "kafka.shutdown_timeout", \.kafka.shutdownTimeout, .seconds(1)...EventDuration.minutes(10), .restart,
            """
            Hard upper bound for a graceful shutdown, whatever the brokers do: the drain of outstanding outputs takes \
            at most three quarters of it, the final commit and the group leave share the rest. A watchdog ends the \
            process 5 s after it; exit status 3 says processed inputs stay uncommitted (they are consumed again).
            """),
        .textMap(
            "kafka.properties", \.kafka.properties, .restart,
            """
            Passed to librdkafka verbatim (bootstrap.servers, group.id and group.instance.id are set above). Secrets \
            (any *password*, *secret*, ssl.key.pem, sasl.oauthbearer.config) must be \"${env:NAME}\": the name stays \
            in the config, the value is read from the environment at startup. For example: security.protocol: \
            SASL_SSL, sasl.username: vigil, sasl.password: \"${env:KAFKA_PASSWORD}\". The producer's defaults \
            enable.idempotence: true and acks: all must stay: records to the repartition and changelog topics must be \
            neither reordered nor lost in a failover.
            """,
            rules: { config in
                config.kafka.properties.sorted { $0.key < $1.key }.compactMap { key, value in
                    let suffix = ".\(key)"
                    if let setting = Self.propertiesSetElsewhere[key] {
                        return SettingIssue(suffix, "set \(setting) instead")
                    } else if value.contains("${"), ConfigValues.environmentReference(value) == nil {
                        return SettingIssue(
                            suffix, "malformed environment reference: the whole value must be ${env:NAME}")
                    } else if let problem = InternalTopics.weakenedGuarantee(key, value) {
                        return SettingIssue(suffix, problem)
                    } else if KafkaConfiguration.isSecret(key), ConfigValues.environmentReference(value) == nil {
                        return SettingIssue(
                            suffix,
                            """
                            secrets must not be written in the file: use \"${env:NAME}\" and set NAME in the \
                            environment
                            """
                        )
                    }
                    return nil
                }
            }),
    ]

    /// librdkafka properties that have a setting of their own, which `kafka.properties` must not contradict.
    private static let propertiesSetElsewhere = [
        "bootstrap.servers": "kafka.bootstrap_servers", "group.id": "kafka.group_id",
        "group.instance.id": "kafka.group_instance_id (or kafka.static_membership: false)",
    ]

    private static func outputTopic(_ key: String, _ keyPath: WritableKeyPath<DaemonConfig, String>, _ doc: String) -> S
    {
        .text("kafka.\(key)", keyPath, .restart, doc) { config in
            let topic = config[keyPath: keyPath]
            if let problem = ConfigValues.topicNameProblem(topic) { return [SettingIssue(problem)] }
            guard config.kafka.inputTopics.contains(topic) else { return [] }
            return [SettingIssue("must not be an input topic (Vigil would consume its own output), got \(topic)")]
        }
    }

    private static let topologySettings: [S] = [
        .integer(
            "topology.partitions", \.topology.partitions, 0...100_000, .restart,
            """
            N, the partition count of every repartition topic and of the changelog: stage partition p keeps its state \
            in changelog partition p. 0: the largest input topic's count, read at start. The most instances that can \
            share the stages' work; fixed once state exists (a changelog with another count stops the start).
            """
        ),
        internalTopic(
            .byUser,
            "Every decoded event, keyed by user, for the user stage (not used with input.keyed_by_user)."),
        internalTopic(
            .bySource,
            """
            Failed logins and reset requests with an address, keyed by source (IPv4, IPv6 /64), for the source \
            stage. Its records carry the user's keyed hash, never the user id.
            """
        ),
        internalTopic(.byDomain, "Reset requests with an email domain, keyed by domain, for the domain stage."),
        internalTopic(
            .byCampaign,
            """
            Failed logins and reset requests keyed by autonomous system (asn:<number>) and by tenant \
            (tenant:<name>), for the campaign stage (engine.campaigns). Its records carry the user's keyed hash.
            """),
        internalTopic(
            .sourceRisk,
            """
            The global source-risk table: compacted, one fact per source above the spraying threshold, published \
            by the source stage and read whole by every instance. Created with one partition (facts are few); an \
            existing one may have more.
            """
        ),
        internalTopic(
            .campaigns,
            """
            The global campaigns table: compacted, one fact per autonomous system or tenant with a detected \
            campaign, published by the campaign stage and read whole by every instance (campaign_active).
            """),
        .duration(
            "topology.repartition_retention", \.topology.repartitionRetention, .hours(1)...EventDuration.days(365),
            .restart,
            """
            retention.ms of a repartition topic Vigil creates (cleanup.policy=delete). A record is needed until the \
            group has processed it, so this bounds how long Vigil may be stopped or behind without losing events: \
            like Kafka's default for the input, 7 days covers a long weekend. Disk: a week of the events the stages \
            need.
            """
        ),
    ]

    /// The name setting of an internal topic: empty derives it from kafka.group_id; it must be a valid topic
    /// name and differ from the input, output and other internal topics (one topic for two purposes would
    /// feed Vigil its own records).
    private static func internalTopic(_ role: InternalTopics.Role, _ doc: String) -> S {
        let keyPath: WritableKeyPath<DaemonConfig, String> =
            switch role {
            case .byUser: \.topology.byUserTopic
            case .bySource: \.topology.bySourceTopic
            case .byDomain: \.topology.byDomainTopic
            case .byCampaign: \.topology.byCampaignTopic
            case .campaigns: \.topology.campaignsTopic
            case .sourceRisk, .changelog: \.topology.sourceRiskTopic
            }
        return .text(
            role.setting, keyPath, nonEmpty: false, .restart, doc + " Empty: <kafka.group_id>-\(role.rawValue).",
            rules: { config in
                let names = InternalTopics.Names(config)
                let name = names[role]
                if let problem = ConfigValues.topicNameProblem(name) {
                    let derived =
                        config[keyPath: keyPath].isEmpty ? " (derived from kafka.group_id: set this key instead)" : ""
                    return [SettingIssue(problem + derived)]
                }
                let kafka = config.kafka
                if kafka.inputTopics.contains(name)
                    || [kafka.decisionsTopic, kafka.alertsTopic, kafka.deadLetterTopic]
                        .contains(name)
                {
                    return [SettingIssue("must differ from the input and output topics, got \(name)")]
                }
                // Each pair is reported once, on the later of its two settings.
                let earlier =
                    (config.state.changelog ? [InternalTopics.Role.changelog] : [])
                    + InternalTopics.Role.allCases.prefix { $0 != role }
                guard let clash = earlier.first(where: { names[$0] == name }) else { return [] }
                return [SettingIssue("must differ from \(clash.setting) (\(clash)), both are \(name)")]
            })
    }

    private static let stateSettings: [S] = [
        .boolean(
            "state.changelog", \.state.changelog, .restart,
            """
            Write every state change to the changelog topic and restore from it on start and rebalance. Off: state \
            lives only in memory, so a restart or a moved partition makes every user new again.
            """
        ),
        .text(
            "state.changelog_topic", \.state.changelogTopic, nonEmpty: false, .restart,
            """
            Compacted topic holding every keyed stage's state (stage partition p in partition p); empty: \
            <kafka.group_id>-state-changelog. Created when missing with topology.partitions partitions; an existing \
            one with another partition count stops the start. After compaction it holds one record per \
            user, source and domain remembered (plus a few per partition), so it is sized like the state itself.
            """,
            rules: { config in
                guard config.state.changelog else { return [] }
                let configured = config.state.changelogTopic
                let name = InternalTopics.Names(config).changelog
                if let problem = ConfigValues.topicNameProblem(name) {
                    let derived = configured.isEmpty ? " (derived from kafka.group_id: set this key instead)" : ""
                    return [SettingIssue(problem + derived)]
                }
                let kafka = config.kafka
                guard
                    kafka.inputTopics.contains(name)
                        || [
                            kafka.decisionsTopic, kafka.alertsTopic,
                            kafka.deadLetterTopic,
                        ].contains(name)
                else { return [] }
                return [SettingIssue("must differ from the input and output topics, got \(name)")]
            }),
        .duration(
            "state.flush_interval", \.state.flushInterval,
            EventDuration(microseconds: 10_000)...EventDuration.minutes(5), .restart,
            """
            How often changed state is written to the changelog. Changes of one user within it become one record, and \
            an input offset is committed only once its changes are written: longer means fewer changelog bytes but \
            more input processed again (outputs re-emitted) after a crash.
            """
        ),
        Setting(
            "state.snapshot_interval", .duration(.seconds(0)...EventDuration.days(7)), reload: .restart,
            doc:
                """
                How often each partition's state is also written to a local snapshot in state.dir (and at graceful \
                shutdown), so a restart reads only the changelog written since. 0: never, every restore reads the \
                whole changelog. Each snapshot is about as large as its partition's state in memory.
                """,
            value: { .duration($0.state.snapshotInterval) },
            store: { config, value in
                if case .duration(let interval) = value { config.state.snapshotInterval = interval }
                return []
            },
            rules: { config in
                let state = config.state
                guard state.snapshotInterval != .seconds(0), state.snapshotInterval < state.flushInterval else {
                    return []
                }
                return [
                    SettingIssue(
                        """
                        must be 0s (off) or at least state.flush_interval (\(state.flushInterval.configString)), got \
                        \(state.snapshotInterval.configString)
                        """
                    )
                ]
            }),
        .duration(
            "state.snapshot_max_age", \.state.snapshotMaxAge, .minutes(1)...EventDuration.days(30), .restart,
            """
            The oldest local snapshot a restore starts from; an older one is discarded and the changelog read whole. \
            Keep it below the changelog topic's delete.retention.ms (Kafka's default 24h, checked at start with \
            state.verify_topic_config): once compaction drops a tombstone, an older snapshot would bring its evicted \
            user back.
            """
        ),
        .text(
            "state.dir", \.state.directory, .restart,
            """
            Local snapshot directory, created (mode 0700) when missing. One instance at a time: with state.changelog \
            on, a lock file in it refuses a second (its path also derives kafka.group_instance_id, so give each \
            instance on a host its own). Losing it costs only restore time: the changelog has everything.
            """
        ),
        .integer(
            "state.replication_factor", \.state.replicationFactor, -1...1_000, .restart,
            """
            Copies of each partition of an internal topic Vigil creates (changelog, repartition and source-risk \
            topics); -1: the brokers' default.replication.factor. Use 3 in production: the changelog is the only \
            durable copy of the state, and a repartition topic the only copy of events between two stages.
            """,
            rules: { config in
                guard config.state.replicationFactor == 0 else { return [] }
                return [SettingIssue("must be -1 (the brokers' default) or at least 1, got 0")]
            }),
        .boolean(
            "state.verify_topic_config", \.state.verifyTopicConfig, .restart,
            """
            Check at start that an existing changelog (and source-risk) topic compacts and does not also delete by \
            time (a deleting topic silently loses old users' state), that the changelog's delete.retention.ms exceeds \
            state.snapshot_max_age (with local snapshots on), and that no repartition topic compacts (which would drop events not yet \
            processed). Needs DescribeConfigs; false skips the check.
            """
        ),
        .duration(
            "state.admin_timeout", \.state.adminTimeout, .seconds(1)...EventDuration.minutes(10), .restart,
            """
            Upper bound of each request at start that checks or creates an internal topic (metadata, CreateTopics, \
            DescribeConfigs), and of the offset lookups (ListOffsets) that open each partition's restore: a cluster \
            that does not answer fails with a clear error instead of hanging.
            """
        ),
        .integer(
            "state.restore_batch", \.state.restoreBatch, 1...1_000_000, .restart,
            """
            Changelog records a restore reads and applies per step; progress (/readyz, metrics) is reported and \
            shutdown checked between steps.
            """
        ),
    ]

    private static let signalTransmitterSettings: [S] = [
        Setting(
            "ssf.signing_keys", .records([.init("path", .filePath), .init("algorithm", .choice(["RS256", "ES256"]))]),
            reload: .restart,
            doc:
                """
                PEM private keys that sign the tokens, oldest first: the last signs, all are in /jwks.json (kid: the \
                key's RFC 7638 thumbprint), so add the new key last, wait for receivers to refetch the JWKS, then drop \
                the old one. At least one with ssf.enabled (replay does not read them: it writes the claims unsigned). RS256 (RSA ≥ 2048 bits) is what Okta accepts; ES256 is P-256. \
                For example: [{path: keys/ssf-2026.pem, algorithm: RS256}].
                """,
            value: { config in
                .records(config.signals.signingKeys.map { ["path": $0.path, "algorithm": $0.algorithm.rawValue] })
            },
            store: { config, value in
                guard case .records(let records) = value else { return [] }
                var issues: [SettingIssue] = []
                config.signals.signingKeys = records.enumerated().compactMap { index, record in
                    guard let path = record["path"], let name = record["algorithm"] else { return nil }
                    guard let algorithm = SigningKeyFile.Algorithm(rawValue: name) else {
                        issues.append(
                            SettingIssue(
                                "[\(index)].algorithm", SettingType.choiceMessage(["RS256", "ES256"], got: name)))
                        return nil
                    }
                    return SigningKeyFile(path: path, algorithm: algorithm)
                }
                return issues
            },
            rules: { config in
                var issues = config.signals.signingKeys.enumerated().compactMap { index, key in
                    key.path.isEmpty ? SettingIssue("[\(index)].path", "must not be empty") : nil
                }
                // Checked on reload too: signals turned on live need the keys loaded at start.
                if config.core.ssf.enabled, config.signals.signingKeys.isEmpty {
                    issues.append(SettingIssue("must name at least one key when ssf.enabled is true"))
                }
                return issues
            }),
        Setting(
            "ssf.receivers",
            .records([.init("url", .text(nonEmpty: true)), .init("authorization", .text(nonEmpty: false))]),
            reload: .restart,
            doc:
                """
                Where each token is pushed (RFC 8935 push delivery): url (https; http only to a loopback host), and \
                the Authorization header as \
                "${env:NAME}" (Okta: SSWS <API token> or Bearer <access token>) or "" for none. 202 is done, 400 is \
                permanent (logged, counted), 5xx, 429 and timeouts are retried. Empty: tokens only go to \
                kafka.signals_topic. For example: [{url: "https://<org>.okta.com/security/api/v1/security-events", \
                authorization: "${env:OKTA_SSF_AUTH}"}].
                """,
            value: { config in
                .records(config.signals.receivers.map { ["url": $0.url, "authorization": $0.authorization] })
            },
            store: { config, value in
                guard case .records(let records) = value else { return [] }
                config.signals.receivers = records.compactMap { record in
                    guard let url = record["url"], let authorization = record["authorization"] else { return nil }
                    return SignalReceiver(url: url, authorization: authorization)
                }
                return []
            },
            rules: { config in
                config.signals.receivers.enumerated().flatMap { index, receiver in
                    var issues: [SettingIssue] = []
                    if let problem = ConfigValues.pushURLProblem(receiver.url) {
                        issues.append(SettingIssue("[\(index)].url", problem))
                    }
                    if !receiver.authorization.isEmpty,
                        ConfigValues.environmentReference(receiver.authorization) == nil
                    {
                        issues.append(
                            SettingIssue(
                                "[\(index)].authorization",
                                """
                                secrets must not be written in the file: use \"${env:NAME}\" and set NAME in the \
                                environment
                                """))
                    }
                    if config.signals.receivers[..<index].contains(where: { $0.url == receiver.url }) {
                        issues.append(SettingIssue("[\(index)].url", "\(receiver.redactedURL) is listed twice"))
                    }
                    return issues
                }
            }),
        .text(
            "ssf.delivery.group_id", \.signals.deliveryGroupID, nonEmpty: false, .restart,
            """
            The push transmitter's consumer group on kafka.signals_topic: its committed offsets are what was \
            delivered, so a restart or an outage loses nothing. Empty: <kafka.group_id>-ssf-push.
            """),
        .duration(
            "ssf.delivery.timeout", \.signals.pushTimeout, .seconds(1)...EventDuration.minutes(5), .restart,
            "One push attempt's deadline (connect, send, answer)."),
        .duration(
            "ssf.delivery.retry_initial_delay", \.signals.retryInitialDelay,
            EventDuration(microseconds: 10_000)...EventDuration.minutes(10), .restart,
            "Delay before the first retry; doubled after each failed attempt."),
        .duration(
            "ssf.delivery.retry_max_delay", \.signals.retryMaxDelay, .seconds(1)...EventDuration.hours(1), .restart,
            "The longest delay between two attempts at one token."),
        .duration(
            "ssf.delivery.give_up_after", \.signals.giveUpAfter, .minutes(1)...EventDuration.days(7), .restart,
            """
            A token produced longer ago than this is not pushed any more (logged, counted as expired): a receiver back \
            from a longer outage, or newly added (its group starts at the topic's beginning), gets no stale revocations.
            """),
        .text(
            "ssf.management_token_env", \.signals.managementTokenEnv, nonEmpty: false, .restart,
            """
            Environment variable holding the bearer token of the stream management endpoints (/ssf/stream, \
            /ssf/status, /ssf/verify). Empty: they answer 404.
            """,
            rules: { config in
                let name = config.signals.managementTokenEnv
                guard !name.isEmpty, !ConfigValues.isEnvironmentName(name) else { return [] }
                return [
                    SettingIssue(
                        "must be an environment variable name (A-Z a-z 0-9 _), got \(ConfigValues.quoted(name))")
                ]
            }),
    ]

    private static let httpSettings: [S] = [
        .boolean("http.enabled", \.http.enabled, .restart, "Serve the metrics and health endpoints."),
        .text(
            "http.listen", \.http.listen, .restart,
            "host:port, IPv6 in brackets ([::1]:9464). Loopback by default: expose it on purpose, not by accident.",
            rules: { config in ConfigValues.listenAddressProblem(config.http.listen).map { [SettingIssue($0)] } ?? [] }),
    ]

    private static let loggingSettings: [S] = [
        .choice("logging.format", \.logging.format, .restart, "text for people, json for log pipelines."),
        .choice("logging.level", \.logging.level, ConfigValues.logLevels, .restart, "Least severe level logged."),
    ]

    private static let securitySettings: [S] = [
        .text(
            "security.device_hash_key_env", \.security.deviceHashKeyEnv, .restart,
            """
            Environment variable holding the device-id hashing key (at least 16 bytes). The key itself is never in \
            this file.
            """,
            rules: { config in
                let name = config.security.deviceHashKeyEnv
                guard !ConfigValues.isEnvironmentName(name) else { return [] }
                return [
                    SettingIssue(
                        "must be an environment variable name (A-Z a-z 0-9 _), got \(ConfigValues.quoted(name))")
                ]
            }),
        .boolean(
            "security.allow_default_device_key", \.security.allowDefaultDeviceKey, .restart,
            """
            `vigil run` refuses to start without that key unless this is true (replay and demo use a fixed public key \
            so their output is reproducible).
            """
        ),
    ]
}
