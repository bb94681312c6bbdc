import Testing
import VigilCore
import VigilKafka
import VigilTestSupport

@testable import VigilDaemon

/// The internal topics' setup at start, on librdkafka's mock cluster: it answers metadata but neither
/// CreateTopics nor DescribeConfigs, so what is checked for those is a clear error within
/// `state.admin_timeout`, never a hang.
@Suite(.serialized, .timeLimit(.minutes(5))) struct InternalTopicsTests {
    private let changelog = "vigil-state-changelog"

    private func makeAdmin(_ cluster: MockKafkaCluster) throws -> KafkaAdmin {
        try KafkaAdmin(
            configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers]), logger: testLogger)
    }

    /// The default group `vigil` reading `inputs`, admin requests bounded by 2 s.
    private func config(
        inputs: [String] = ["auth.events"], verify: Bool = false, partitions: Int = 0, keyedByUser: Bool = false
    ) -> DaemonConfig {
        var config = DaemonConfig()
        config.kafka.inputTopics = inputs
        config.state.verifyTopicConfig = verify
        config.state.adminTimeout = .seconds(2)
        config.topology.partitions = partitions
        config.topology.inputKeyedByUser = keyedByUser
        return config
    }

    /// What `setUp` returned or threw.
    private func setUp(
        _ admin: KafkaAdmin, _ config: DaemonConfig
    ) async throws -> Result<InternalTopics.Prepared, InternalTopicError> {
        try await blocking {
            do throws(InternalTopicError) {
                return .success(try InternalTopics.setUp(admin: admin, config: config))
            } catch {
                return .failure(error)
            }
        }
    }

    @Test func namesDeriveFromTheGroupUnlessSet() {
        let derived = InternalTopics.Names(groupID: "risk")
        #expect(
            [
                derived.byUser, derived.bySource, derived.byDomain, derived.byCampaign, derived.sourceRisk,
                derived.campaigns, derived.changelog,
            ] == [
                "risk-by-user", "risk-by-source", "risk-by-domain", "risk-by-campaign", "risk-source-risk",
                "risk-campaigns", "risk-state-changelog",
            ])
        var topology = TopologySettings()
        topology.bySourceTopic = "risk.sources"
        let configured = InternalTopics.Names(groupID: "risk", topology: topology, changelogTopic: "risk.state")
        #expect(configured.bySource == "risk.sources" && configured.changelog == "risk.state")
        #expect(configured.byUser == "risk-by-user")
    }

    @Test func theCampaignTopicsExistOnlyWithCampaignDetection() {
        var config = config()
        #expect(InternalTopics.roles(for: config).filter { $0 == .byCampaign || $0 == .campaigns }.count == 2)
        config.core.engine.campaigns.enabled = false
        #expect(!InternalTopics.roles(for: config).contains { $0 == .byCampaign || $0 == .campaigns })
        #expect(InternalTopics.roles(for: config).contains(.sourceRisk))
    }

    @Test func existingTopicsWithNPartitionsAreUsedAndReported() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 3)
        try cluster.createTopic("okta.events", partitions: 5)
        let config = config(inputs: ["auth.events", "okta.events"])
        try InternalTopics.create(on: cluster, config: config, partitions: 5)
        let outcome = try await setUp(try makeAdmin(cluster), config)
        guard case .success(let prepared) = outcome else {
            Issue.record("expected the existing topics to be used, got \(outcome)")
            return
        }
        let existing = InternalTopics.Outcome.existing(verifiedConfiguration: false)
        #expect(prepared.partitions == 5 && prepared.partitionsOrigin == .largestInputTopic)
        #expect(prepared.inputPartitions == ["auth.events": 3, "okta.events": 5])
        #expect(prepared.changelog == .init(name: changelog, partitions: 5, outcome: existing))
        #expect(prepared.byUser == .init(name: "vigil-by-user", partitions: 5, outcome: existing))
        #expect(prepared.bySource == .init(name: "vigil-by-source", partitions: 5, outcome: existing))
        #expect(prepared.byDomain == .init(name: "vigil-by-domain", partitions: 5, outcome: existing))
        #expect(prepared.byCampaign == .init(name: "vigil-by-campaign", partitions: 5, outcome: existing))
        #expect(prepared.sourceRisk == .init(name: "vigil-source-risk", partitions: 1, outcome: existing))
        #expect(prepared.campaigns == .init(name: "vigil-campaigns", partitions: 1, outcome: existing))
        withExtendedLifetime(cluster) {}
    }

    @Test func keyedInputSkipsTheByUserTopicAndNeedsNPartitionsOnEveryInput() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 4)
        try cluster.createTopic("okta.events", partitions: 2)
        let keyed = config(inputs: ["auth.events"], keyedByUser: true)
        try InternalTopics.create(on: cluster, config: keyed, partitions: 4)
        let admin = try makeAdmin(cluster)
        let outcome = try await setUp(admin, keyed)
        guard case .success(let prepared) = outcome else {
            Issue.record("expected the keyed input to need no by-user topic, got \(outcome)")
            return
        }
        #expect(prepared.byUser == nil && prepared.topics.count == 6)
        #expect(try await blocking { try admin.partitionCount(of: "vigil-by-user", timeout: .seconds(30)) } == nil)

        let twoCounts = config(inputs: ["auth.events", "okta.events"], keyedByUser: true)
        guard
            case .failure(let error) = try await setUp(admin, twoCounts),
            case .keyedInputNotCoPartitioned(let topic, let partitions, let expected, .largestInputTopic) = error
        else {
            Issue.record("expected the keyed inputs to be refused")
            return
        }
        #expect(topic == "okta.events" && partitions == 2 && expected == 4)
        #expect(
            error.description
                == "input topic 'okta.events' has 2 partitions but the input topics have 4: with input.keyed_by_user: "
                + "true, input partition p is user stage partition p and keeps its state in changelog partition p, so "
                + "every input topic needs exactly 4. Give the input topics one partition count (and set "
                + "topology.partitions to it), or set input.keyed_by_user: false so that Vigil re-keys the input itself"
        )
        withExtendedLifetime(cluster) {}
    }

    @Test func aChangelogPartitionCountMismatchStopsTheStart() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 6)
        let config = config()
        try InternalTopics.create(on: cluster, config: config, partitions: 6, changelogPartitions: 4)
        let outcome = try await setUp(try makeAdmin(cluster), config)
        guard case .failure(let error) = outcome,
            case .partitionCountMismatch(.changelog, let topic, let found, let expected, .largestInputTopic) = error
        else {
            Issue.record("expected a changelog partition count mismatch, got \(outcome)")
            return
        }
        #expect(topic == changelog && found == 4 && expected == 6)
        #expect(
            error.description
                == "changelog topic 'vigil-state-changelog' has 4 partitions but the input topics have 6: input "
                + "partition p keeps its state in changelog partition p, so this changelog cannot be restored as it "
                + "is. Add partitions to 'vigil-state-changelog' until it has 6 (the input grew: users whose keys "
                + "moved to other partitions are learned again), or start with a new changelog (set "
                + "state.changelog_topic to a new name, or delete the topic) and accept that the state is learned anew")
        #expect(
            InternalTopicError.partitionCountMismatch(
                role: .changelog, topic: changelog, found: 6, expected: 4, origin: .largestInputTopic
            ).description.contains("Kafka cannot take partitions away from the input topics: start with a new"))
        withExtendedLifetime(cluster) {}
    }

    /// N set by `topology.partitions` rules over the input's count, and every repartition topic must have it.
    @Test func aRepartitionTopicWithAnotherCountThanTheConfiguredNStopsTheStart() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 2)
        let config = config(partitions: 8)
        try InternalTopics.create(on: cluster, config: config, partitions: 8)
        try cluster.createTopic("other-by-domain", partitions: 3)
        var otherDomainTopic = config
        otherDomainTopic.topology.byDomainTopic = "other-by-domain"
        let admin = try makeAdmin(cluster)
        guard case .success(let prepared) = try await setUp(admin, config) else {
            Issue.record("expected N = 8 from topology.partitions")
            return
        }
        #expect(prepared.partitions == 8 && prepared.partitionsOrigin == .configured)
        #expect(prepared.changelog?.partitions == 8)
        let outcome = try await setUp(admin, otherDomainTopic)
        guard case .failure(let error) = outcome,
            case .partitionCountMismatch(.byDomain, "other-by-domain", 3, 8, .configured) = error
        else {
            Issue.record("expected a by-domain partition count mismatch, got \(outcome)")
            return
        }
        #expect(
            error.description
                == "repartition topic 'other-by-domain' has 3 partitions but topology.partitions is 8: records are "
                + "routed to partition murmur2(key) % 8 and stage partition p keeps its state in changelog partition "
                + "p. Set topology.partitions: 3 if the changelog has 3 partitions too, or, once the group has "
                + "consumed it, delete 'other-by-domain' (Vigil creates it again with 8)")
        #expect(
            InternalTopicError.partitionCountMismatch(
                role: .changelog, topic: changelog, found: 2, expected: 8, origin: .configured
            ).description.hasPrefix(
                "changelog topic 'vigil-state-changelog' has 2 partitions but topology.partitions is 8: stage partition p"
            ))
        withExtendedLifetime(cluster) {}
    }

    @Test func verifyingTheConfigurationFailsClearlyWhereDescribeConfigsIsNotAnswered() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 2)
        let config = config(verify: true)
        try InternalTopics.create(on: cluster, config: config, partitions: 2)
        let outcome = try await setUp(try makeAdmin(cluster), config)
        guard case .failure(let error) = outcome,
            case .configurationUnverifiable(.changelog, let topic, let cause) = error,
            case .topicRequestTimedOut(let request, _, let timeout) = cause
        else {
            Issue.record("expected an unverifiable configuration, got \(outcome)")
            return
        }
        #expect(topic == changelog && request == "DescribeConfigs" && timeout == .seconds(2))
        #expect(error.description.hasPrefix("cannot check that changelog topic 'vigil-state-changelog' is compacted: "))
        #expect(error.description.hasSuffix("set state.verify_topic_config: false to skip this check"))
        let repartition = InternalTopicError.configurationUnverifiable(role: .bySource, topic: "t", cause: cause)
        #expect(repartition.description.hasPrefix("cannot check that repartition topic 't' does not compact: "))
        #expect(repartition.description.contains(". Check cleanup.policy=delete by hand and set"))
        withExtendedLifetime(cluster) {}
    }

    @Test func creatingAMissingChangelogFailsClearlyWhereCreateTopicsIsNotAnswered() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 3)
        var withoutChangelog = config()
        withoutChangelog.state.changelog = false
        try InternalTopics.create(on: cluster, config: withoutChangelog, partitions: 3)
        let admin = try makeAdmin(cluster)
        let outcome = try await setUp(admin, config())
        guard case .failure(let error) = outcome,
            case .creationFailed(.changelog, let specification, let cause) = error,
            case .topicRequestTimedOut(let request, _, _) = cause
        else {
            Issue.record("expected a failed creation, got \(outcome)")
            return
        }
        #expect(specification.name == changelog && specification.partitions == 3 && request == "CreateTopics")
        #expect(error.description.hasPrefix("cannot create changelog topic 'vigil-state-changelog': "))
        #expect(
            error.description.hasSuffix(
                "Create it by hand with 3 partitions and cleanup.policy=compact, or set state.changelog: false"))
        // The failed attempt created nothing behind the metadata's back either.
        #expect(try await blocking { try admin.partitionCount(of: changelog, timeout: .seconds(30)) } == nil)
        withExtendedLifetime(cluster) {}
    }

    /// Every existing topic is checked before a missing one is created: a wrong count is reported at once,
    /// not after a creation that would leave a half-made layout (or time out on the mock).
    @Test func existingTopicsAreCheckedBeforeMissingOnesAreCreated() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 3)
        try cluster.createTopic("vigil-by-domain", partitions: 5)
        let outcome = try await setUp(try makeAdmin(cluster), config())
        guard case .failure(.partitionCountMismatch(.byDomain, "vigil-by-domain", 5, 3, .largestInputTopic)) = outcome
        else {
            Issue.record("expected the by-domain mismatch before any creation, got \(outcome)")
            return
        }
        withExtendedLifetime(cluster) {}
    }

    @Test func repartitionTopicsDeleteByTimeAndTheTablesCompact() {
        var config = config()
        config.state.replicationFactor = 3
        config.topology.repartitionRetention = .days(2)
        let byUser = InternalTopics.specification(role: .byUser, topic: "u", partitions: 12, config: config)
        #expect(byUser.partitions == 12 && byUser.replicationFactor == 3)
        #expect(byUser.properties.map { "\($0.0)=\($0.1)" } == ["cleanup.policy=delete", "retention.ms=172800000"])
        let risk = InternalTopics.specification(role: .sourceRisk, topic: "r", partitions: 12, config: config)
        #expect(risk.partitions == 1 && risk.replicationFactor == 3)
        #expect(risk.properties.map { "\($0.0)=\($0.1)" } == ["cleanup.policy=compact"])
        let state = InternalTopics.specification(role: .changelog, topic: "c", partitions: 12, config: config)
        #expect(state.partitions == 12 && state.properties.map(\.1) == ["compact"])
        #expect(
            InternalTopicError.creationFailed(role: .byUser, specification: byUser, cause: .closed).description
                == "cannot create repartition topic 'u': Kafka consumer is closed. Create it by hand with 12 "
                + "partitions and cleanup.policy=delete, retention.ms=172800000")
    }

    /// What DescribeConfigs returns is judged without a broker (the mock cluster does not answer it).
    @Test func theTopicConfigurationMustCompactOnlyAndKeepTombstonesLongerThanSnapshots() {
        let settings = StateSettings()
        func problem(_ configuration: [String: String], _ role: InternalTopics.Role = .changelog) -> String? {
            InternalTopics.configurationProblem(
                role: role, topic: "t", configuration: configuration, settings: settings)?
                .description
        }
        #expect(problem(["cleanup.policy": "compact", "delete.retention.ms": "86400000"]) == nil)
        #expect(
            problem(["cleanup.policy": "delete"])?.hasPrefix("changelog topic 't' has cleanup.policy=delete") == true)
        #expect(
            problem(["cleanup.policy": "compact, delete", "retention.ms": "604800000"])
                == "changelog topic 't' has cleanup.policy compact,delete with retention.ms=604800000, which deletes "
                + "the state of users not seen within it: set cleanup.policy=compact, or retention.ms=-1")
        #expect(problem(["cleanup.policy": "compact,delete", "retention.ms": "-1"]) == nil)
        // The default snapshot_max_age is 12h: tombstones kept exactly that long are not enough.
        #expect(
            problem(["cleanup.policy": "compact", "delete.retention.ms": "43200000"])
                == "changelog topic 't' keeps tombstones for delete.retention.ms=43200000, not longer than "
                + "state.snapshot_max_age (12h): a local snapshot older than the tombstones would bring evicted "
                + "entries back. Lower state.snapshot_max_age or raise delete.retention.ms")
        var noSnapshots = settings
        noSnapshots.snapshotInterval = .seconds(0)
        #expect(
            InternalTopics.configurationProblem(
                role: .changelog, topic: "t",
                configuration: ["cleanup.policy": "compact", "delete.retention.ms": "1000"],
                settings: noSnapshots) == nil)
        // The source-risk table compacts like the changelog; its tombstones are not tied to snapshots.
        #expect(problem(["cleanup.policy": "compact", "delete.retention.ms": "1000"], .sourceRisk) == nil)
        #expect(
            problem(["cleanup.policy": "delete"], .sourceRisk)
                == "source-risk topic 't' has cleanup.policy=delete, which deletes old records and with them facts "
                + "still in force: set cleanup.policy=compact on the topic")
        // A repartition topic must not compact at all.
        #expect(problem(["cleanup.policy": "delete", "retention.ms": "604800000"], .byUser) == nil)
        #expect(
            problem(["cleanup.policy": "compact,delete"], .bySource)
                == "repartition topic 't' has cleanup.policy=compact,delete, which keeps only the latest record of "
                + "each key: events of one user, source or domain not yet processed would be dropped. Set "
                + "cleanup.policy=delete on the topic")
    }

    @Test func aMissingInputTopicStopsTheStart() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 3)
        let outcome = try await setUp(try makeAdmin(cluster), config(inputs: ["auth.events", "okta.events"]))
        guard case .failure(.inputTopicMissing(let topic)) = outcome else {
            Issue.record("expected a missing input topic, got \(outcome)")
            return
        }
        #expect(topic == "okta.events")
        withExtendedLifetime(cluster) {}
    }
}
