import Testing
import VigilKafka
import VigilTestSupport

/// The admin calls on librdkafka's mock cluster: metadata works, CreateTopics and DescribeConfigs
/// are never answered there, so what is checked for them is that they fail with the typed error
/// naming the request and the topic instead of hanging.
@Suite(.serialized, .timeLimit(.minutes(5))) struct AdminTests {
    private func makeAdmin(_ cluster: MockKafkaCluster) throws -> KafkaAdmin {
        try KafkaAdmin(
            configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers]), logger: testLogger)
    }

    @Test func partitionCountReadsMetadataWithoutCreatingTheTopic() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("users-changelog", partitions: 6)
        let admin = try makeAdmin(cluster)
        let (existing, missing, missingAgain) = try await blocking {
            (
                try admin.partitionCount(of: "users-changelog", timeout: .seconds(30)),
                try admin.partitionCount(of: "absent-changelog", timeout: .seconds(30)),
                try admin.partitionCount(of: "absent-changelog", timeout: .seconds(30))
            )
        }
        #expect(existing == 6)
        // Asked twice: a metadata request naming the topic would have made the mock create it (4 partitions).
        #expect(missing == nil)
        #expect(missingAgain == nil)
        withExtendedLifetime(cluster) {}
    }

    @Test func createTopicFailsWithTheTypedTimeoutOnTheMock() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        let admin = try makeAdmin(cluster)
        let specification = KafkaTopicSpecification.compacted(
            name: "users-changelog", partitions: 3, replicationFactor: 1)
        #expect(specification.properties.map { "\($0.0)=\($0.1)" } == ["cleanup.policy=compact"])
        // The code a lost creation race ends in, named for callers that tolerate it.
        #expect(KafkaErrorCode.topicAlreadyExists.name == "TOPIC_ALREADY_EXISTS")
        let error = try await blocking { () -> KafkaError? in
            do throws(KafkaError) {
                try admin.createTopic(specification, timeout: .seconds(2))
                return nil
            } catch {
                return error
            }
        }
        guard case let .topicRequestTimedOut(request, topic, timeout) = error else {
            Issue.record("expected a timed-out CreateTopics, got \(String(describing: error))")
            return
        }
        #expect(request == "CreateTopics" && topic == "users-changelog" && timeout == .seconds(2))
        #expect(error?.description.contains("'users-changelog'") == true)
        #expect(error?.description.contains("create and check the topic by hand") == true)
        withExtendedLifetime(cluster) {}
    }

    @Test func topicConfigurationFailsWithTheTypedTimeoutOnTheMock() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("users-changelog", partitions: 3)
        let admin = try makeAdmin(cluster)
        let error = try await blocking { () -> KafkaError? in
            do throws(KafkaError) {
                _ = try admin.topicConfiguration(of: "users-changelog", timeout: .seconds(2))
                return nil
            } catch {
                return error
            }
        }
        guard case let .topicRequestTimedOut(request, topic, _) = error else {
            Issue.record("expected a timed-out DescribeConfigs, got \(String(describing: error))")
            return
        }
        #expect(request == "DescribeConfigs" && topic == "users-changelog")
        withExtendedLifetime(cluster) {}
    }
}
