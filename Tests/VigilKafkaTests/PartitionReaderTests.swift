import Testing
import VigilKafka
import VigilTestSupport

/// Restore reads of one partition: records written by kcat (the independent client), tombstones
/// included, read back in order up to the end the partition had when the read started.
@Suite(.serialized, .timeLimit(.minutes(5))) struct PartitionReaderTests {
    private func makeReader(
        _ cluster: MockKafkaCluster, partition: Int32, from offset: Int64? = nil
    ) throws -> KafkaPartitionReader {
        try KafkaPartitionReader(
            configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers]),
            partition: KafkaTopicPartition(topic: "changelog", partition: partition), from: offset,
            logger: testLogger)
    }

    /// Reads until the end (small batches, so several calls are needed); throws after a minute
    /// without reaching it.
    private func readAll(_ reader: KafkaPartitionReader) throws -> [KafkaMessage] {
        var messages: [KafkaMessage] = []
        try waitUntil("the end of \(reader.partition)", timeout: .seconds(60)) {
            guard let batch = try reader.next(maxMessages: 2, timeout: .milliseconds(100)) else { return true }
            messages += batch
            return false
        }
        return messages
    }

    /// `kcat -Z` sends an empty value as a null one (a tombstone).
    private func produce(_ cluster: MockKafkaCluster, partition: Int32, _ lines: [String]) throws {
        _ = try Kcat.run(
            ["-b", cluster.bootstrapServers, "-P", "-t", "changelog", "-p", "\(partition)", "-K:", "-Z"],
            input: lines.joined(separator: "\n") + "\n")
    }

    @Test func readsKeysValuesAndTombstonesInOrderUpToTheEndAtStart() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("changelog", partitions: 3)
        try await blocking {
            try produce(cluster, partition: 1, ["user-a:1", "user-b:2", "user-a:", "user-c:3", "user-b:"])
            try produce(cluster, partition: 0, ["elsewhere:9"])
        }
        let reader = try await blocking { try makeReader(cluster, partition: 1) }
        #expect(reader.endOffset == 5)
        // Written after the read started: beyond its end.
        try await blocking { try produce(cluster, partition: 1, ["user-d:4"]) }
        let messages = try await blocking { try readAll(reader) }

        #expect(messages.map(\.offset) == [0, 1, 2, 3, 4])
        #expect(messages.map(\.keyString) == ["user-a", "user-b", "user-a", "user-c", "user-b"])
        #expect(messages.map(\.isNullValue) == [false, false, true, false, true])
        #expect(messages.map { String(decoding: $0.value, as: UTF8.self) } == ["1", "2", "", "3", ""])
        #expect(messages.allSatisfy { $0.partition == 1 })
        #expect(reader.progress.records == 5)
        #expect(reader.progress.bytes == 3 + 6 * 5)
        #expect(reader.progress.position == 5)
        #expect(try reader.next(maxMessages: 10, timeout: .zero) == nil)
        withExtendedLifetime(cluster) {}
    }

    @Test func readsFromAnOffsetAndEndsAtOnceOnAnEmptyPartition() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("changelog", partitions: 2)
        try await blocking { try produce(cluster, partition: 0, ["k0:a", "k1:b", "k2:c", "k3:d"]) }
        let (fromTwo, empty) = try await blocking {
            (try readAll(try makeReader(cluster, partition: 0, from: 2)), try makeReader(cluster, partition: 1))
        }
        #expect(fromTwo.map(\.offset) == [2, 3])
        #expect(fromTwo.map(\.keyString) == ["k2", "k3"])
        #expect(empty.endOffset == 0)
        #expect(try empty.next(maxMessages: 10, timeout: .zero) == nil)
        #expect(empty.progress.records == 0)
        withExtendedLifetime(cluster) {}
    }

    /// A restore asks the loop's consumer for a changelog partition's watermarks: the reader reads up
    /// to the high one given, and opens no client at all when there is nothing to read. A property
    /// librdkafka refuses shows which: creating a client with it throws.
    @Test func givenWatermarksItReadsToTheirEndAndOpensNoClientWhenNothingIsLeft() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("changelog", partitions: 2)
        try await blocking { try produce(cluster, partition: 0, ["k0:a", "k1:b", "k2:c"]) }
        let consumer = try KafkaConsumer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": cluster.bootstrapServers, "group.id": "reader-test",
            ]),
            logger: testLogger)
        let (zero, one) = try await blocking {
            (
                try consumer.watermarks(
                    of: KafkaTopicPartition(topic: "changelog", partition: 0), timeout: .seconds(10)),
                try consumer.watermarks(
                    of: KafkaTopicPartition(topic: "changelog", partition: 1), timeout: .seconds(10))
            )
        }
        #expect(zero.low == 0 && zero.high == 3)
        #expect(one.low == 0 && one.high == 0)
        func reader(
            _ partition: Int32, from offset: Int64?, _ watermarks: (low: Int64, high: Int64), refused: Bool
        )
            throws -> KafkaPartitionReader
        {
            var configuration = KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers])
            if refused { configuration["no.such.property"] = "1" }
            return try KafkaPartitionReader(
                configuration: configuration,
                partition: KafkaTopicPartition(topic: "changelog", partition: partition), from: offset,
                watermarks: watermarks, logger: testLogger)
        }
        let messages = try await blocking { try readAll(try reader(0, from: 1, zero, refused: false)) }
        #expect(messages.map(\.keyString) == ["k1", "k2"])
        // Nothing to read (an empty partition, or a start at the end): no client, so no refusal.
        let empty = try reader(1, from: nil, one, refused: true)
        #expect(try empty.next(maxMessages: 10, timeout: .zero) == nil)
        let atEnd = try reader(0, from: 3, zero, refused: true)
        #expect(atEnd.progress.position == 3)
        #expect(try atEnd.next(maxMessages: 10, timeout: .zero) == nil)
        #expect(throws: KafkaError.self) { try reader(0, from: 2, zero, refused: true) }
        try consumer.close()
        withExtendedLifetime(cluster) {}
    }
}
