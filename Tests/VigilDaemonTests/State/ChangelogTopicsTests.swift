import Testing
import VigilCore
import VigilKafka
import VigilTestSupport

@testable import VigilDaemon

/// The changelog topic's setup at start, on librdkafka's mock cluster: it answers metadata but neither
/// CreateTopics nor DescribeConfigs, so what is checked for those is a clear error within
/// `state.admin_timeout`, never a hang.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChangelogTopicsTests {
    private let changelog = "vigil-state-changelog"

    private func makeAdmin(_ cluster: MockKafkaCluster) throws -> KafkaAdmin {
        try KafkaAdmin(
            configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers]), logger: testLogger)
    }

    private func settings(verify: Bool) -> StateSettings {
        var settings = StateSettings()
        settings.verifyTopicConfig = verify
        settings.adminTimeout = .seconds(2)
        return settings
    }

    /// What `ensure` returned or threw.
    private func ensure(
        _ admin: KafkaAdmin, partitions: Int, settings: StateSettings
    ) async throws -> Result<ChangelogTopics.Outcome, ChangelogTopicError> {
        try await blocking {
            do throws(ChangelogTopicError) {
                return .success(
                    try ChangelogTopics.ensure(
                        admin: admin, topic: changelog, partitions: partitions, settings: settings))
            } catch {
                return .failure(error)
            }
        }
    }

    @Test func anExistingChangelogWithTheInputsPartitionCountIsUsed() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 3)
        try cluster.createTopic("okta.events", partitions: 5)
        try cluster.createTopic(changelog, partitions: 5)
        let admin = try makeAdmin(cluster)
        let partitions = try await blocking {
            try ChangelogTopics.inputPartitionCount(
                admin: admin, inputTopics: ["auth.events", "okta.events"], timeout: .seconds(30))
        }
        #expect(partitions == 5)
        let outcome = try await ensure(admin, partitions: partitions, settings: settings(verify: false))
        guard case .success(let found) = outcome else {
            Issue.record("expected the existing changelog to be used, got \(outcome)")
            return
        }
        #expect(found == .existing(verifiedConfiguration: false))

        var config = DaemonConfig()
        config.kafka.inputTopics = ["auth.events", "okta.events"]
        config.state = settings(verify: false)
        let prepared = try await blocking { try ChangelogTopics.setUp(admin: admin, config: config) }
        #expect(
            prepared == .init(name: changelog, partitions: 5, outcome: .existing(verifiedConfiguration: false)))
        withExtendedLifetime(cluster) {}
    }

    @Test func aPartitionCountMismatchStopsTheStart() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic(changelog, partitions: 4)
        let admin = try makeAdmin(cluster)
        let outcome = try await ensure(admin, partitions: 6, settings: settings(verify: false))
        let error = ChangelogTopicError.partitionCountMismatch(
            topic: changelog, changelogPartitions: 4, inputPartitions: 6)
        guard case .failure(.partitionCountMismatch(let topic, let found, let expected)) = outcome else {
            Issue.record("expected a partition count mismatch, got \(outcome)")
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
            !ChangelogTopicError.partitionCountMismatch(topic: changelog, changelogPartitions: 6, inputPartitions: 4)
                .description.contains("give the input"))
        withExtendedLifetime(cluster) {}
    }

    @Test func verifyingTheConfigurationFailsClearlyWhereDescribeConfigsIsNotAnswered() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic(changelog, partitions: 2)
        let admin = try makeAdmin(cluster)
        let outcome = try await ensure(admin, partitions: 2, settings: settings(verify: true))
        guard case .failure(.configurationUnverifiable(let topic, let cause)) = outcome,
            case .topicRequestTimedOut(let request, _, let timeout) = cause
        else {
            Issue.record("expected an unverifiable configuration, got \(outcome)")
            return
        }
        #expect(topic == changelog && request == "DescribeConfigs" && timeout == .seconds(2))
        let message = ChangelogTopicError.configurationUnverifiable(topic: topic, cause: cause).description
        #expect(message.hasPrefix("cannot check that changelog topic 'vigil-state-changelog' is compacted: "))
        #expect(message.hasSuffix("set state.verify_topic_config: false to skip this check"))
        withExtendedLifetime(cluster) {}
    }

    @Test func creatingAMissingChangelogFailsClearlyWhereCreateTopicsIsNotAnswered() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        let admin = try makeAdmin(cluster)
        let outcome = try await ensure(admin, partitions: 3, settings: settings(verify: false))
        guard case .failure(.creationFailed(let topic, let partitions, let cause)) = outcome,
            case .topicRequestTimedOut(let request, _, _) = cause
        else {
            Issue.record("expected a failed creation, got \(outcome)")
            return
        }
        #expect(topic == changelog && partitions == 3 && request == "CreateTopics")
        let message = ChangelogTopicError.creationFailed(topic: topic, partitions: partitions, cause: cause).description
        #expect(message.hasPrefix("cannot create changelog topic 'vigil-state-changelog': "))
        #expect(
            message.hasSuffix(
                "Create it by hand with 3 partitions and cleanup.policy=compact, or set state.changelog: false"))
        // The failed attempt created nothing behind the metadata's back either.
        #expect(try await blocking { try admin.partitionCount(of: changelog, timeout: .seconds(30)) } == nil)
        withExtendedLifetime(cluster) {}
    }

    /// What DescribeConfigs returns is judged without a broker (the mock cluster does not answer it).
    @Test func theTopicConfigurationMustCompactOnlyAndKeepTombstonesLongerThanSnapshots() {
        let settings = StateSettings()
        func problem(_ configuration: [String: String]) -> String? {
            ChangelogTopics.configurationProblem(topic: "t", configuration: configuration, settings: settings)?
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
            ChangelogTopics.configurationProblem(
                topic: "t", configuration: ["cleanup.policy": "compact", "delete.retention.ms": "1000"],
                settings: noSnapshots) == nil)
    }

    @Test func aMissingInputTopicStopsTheStart() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 3)
        let admin = try makeAdmin(cluster)
        let outcome = try await blocking { () -> ChangelogTopicError? in
            do throws(ChangelogTopicError) {
                _ = try ChangelogTopics.inputPartitionCount(
                    admin: admin, inputTopics: ["auth.events", "okta.events"], timeout: .seconds(30))
                return nil
            } catch {
                return error
            }
        }
        guard case .inputTopicMissing(let topic) = outcome else {
            Issue.record("expected a missing input topic, got \(String(describing: outcome))")
            return
        }
        #expect(topic == "okta.events")
        withExtendedLifetime(cluster) {}
    }
}
