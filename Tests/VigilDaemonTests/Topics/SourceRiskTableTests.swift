import MetricsTestKit
import Testing
import VigilKafka
import VigilTestSupport

@testable import VigilDaemon

/// The source-risk table as `vigil run` opens it: on the topic `setUp` prepared, reporting to the daemon's
/// metrics.
@Suite(.serialized, .timeLimit(.minutes(5))) struct SourceRiskTableTests {
    @Test func readsThePreparedTopicAndReportsToTheDaemonsMetrics() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("auth.events", partitions: 2)
        var config = DaemonConfig()
        config.kafka.groupID = "risk"
        config.state.verifyTopicConfig = false
        try InternalTopics.create(on: cluster, config: config, partitions: 2)
        let connection = KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers])
        let prepared = try await blocking {
            try InternalTopics.setUp(
                admin: try KafkaAdmin(configuration: connection, logger: testLogger), config: config)
        }
        _ = try Kcat.run(
            ["-b", cluster.bootstrapServers, "-P", "-t", "risk-source-risk", "-K:", "-p", "0"],
            input: "10.0.0.1:spraying\n")
        let recorded = TestMetrics()
        let table = try InternalTopics.globalTable(
            .sourceRisk, prepared: prepared, connection: connection, config: config,
            metrics: DaemonMetrics(factory: recorded).sourceRiskTable,
            logger: testLogger, decodeKey: { String(decoding: $0, as: UTF8.self) },
            decodeValue: { String(decoding: $0, as: UTF8.self) })
        table.start()
        let applied = try recorded.expectCounter(
            "vigil_global_table_records_total", [("table", "source-risk"), ("result", "applied")])
        // The entry is applied first, then reported.
        try await waitUntil("the fact and its count", timeout: .seconds(60)) {
            table.value(forKey: "10.0.0.1") == "spraying" && applied.totalValue == 1
        }
        #expect(table.topic == "risk-source-risk")
        _ = try await blocking { table.stop() }
        withExtendedLifetime(cluster) {}
    }
}
