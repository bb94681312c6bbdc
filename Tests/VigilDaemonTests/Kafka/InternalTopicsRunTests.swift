import Testing
import VigilTestSupport

/// `vigil run` prepares its internal topics before it consumes anything, with or without the changelog.
@Suite(.serialized, .timeLimit(.minutes(5))) struct InternalTopicsRunTests {
    /// A repartition topic with another count than `topology.partitions` stops the start (exit 1) with a
    /// message naming the topic, both counts and the way out; nothing is consumed.
    @Test func aRepartitionTopicWithAnotherCountThanNStopsTheStart() async throws {
        let fixture = try KafkaFixture(
            name: "topics-partitions", partitions: 2, extra: "topology:\n  partitions: 3", changelog: false)
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        #expect(try await daemon.waitForExit(timeout: .seconds(60)) == 1)
        #expect(
            daemon.log.contains("repartition topic 'vigil-by-user' has 2 partitions but topology.partitions is 3"),
            "\(daemon.log)")
        #expect(daemon.log.contains("delete 'vigil-by-user' (Vigil creates it again with 3)"), "\(daemon.log)")
        #expect(!daemon.log.contains("partitions assigned"), "\(daemon.log)")
    }
}
