import Synchronization
import Testing
import VigilKafka
import VigilTestSupport

/// A compacted topic read whole into memory: records written by kcat (the independent client), with
/// tombstones and a record the caller's decoder rejects, on librdkafka's mock cluster.
@Suite(.serialized, .timeLimit(.minutes(5))) struct GlobalTableTests {
    private struct NotANumber: Error {}

    /// What the table reported, from its reader's thread.
    private final class UpdateLog: Sendable {
        let durations = Mutex<[Duration]>([])
        let statuses = Mutex<[KafkaGlobalTableStatus]>([])
    }

    /// Keys are text, values decimal numbers: anything else is rejected.
    private func makeTable(
        _ cluster: MockKafkaCluster, log: UpdateLog? = nil
    ) throws -> KafkaGlobalTable<String, Int> {
        try KafkaGlobalTable(
            configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers, "group.id": "vigil"]),
            topic: "risk",
            decodeKey: { String(decoding: $0, as: UTF8.self) },
            decodeValue: { bytes in
                guard let number = Int(String(decoding: bytes, as: UTF8.self)) else { throw NotANumber() }
                return number
            },
            requestTimeout: .seconds(5), logger: testLogger,
            onUpdate: { update in
                log?.durations.withLock { $0 += update.delays }
                log?.statuses.withLock { $0.append(update.status) }
            })
    }

    /// `kcat -Z` sends an empty value as a null one (a tombstone).
    private func produce(_ cluster: MockKafkaCluster, partition: Int32, _ lines: [String]) throws {
        _ = try Kcat.run(
            ["-b", cluster.bootstrapServers, "-P", "-t", "risk", "-p", "\(partition)", "-K:", "-Z"],
            input: lines.joined(separator: "\n") + "\n")
    }

    private func waitForCatchUp(_ table: KafkaGlobalTable<String, Int>) throws -> KafkaGlobalTableStatus {
        var status = table.status
        try waitUntil("the table to catch up (\(status))", timeout: .seconds(60), pause: .milliseconds(50)) {
            status = table.status
            return status.isCaughtUp
        }
        return status
    }

    @Test func readsEveryPartitionFromTheBeginningThenFollows() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("risk", partitions: 3)
        let written = (0..<300).map { "source-\($0):\($0)" }
        try await blocking {
            try produce(cluster, partition: 0, Array(written[..<150]) + ["source-1:", "source-2:1002"])
            try produce(cluster, partition: 2, Array(written[150...]))
        }
        let log = UpdateLog()
        let table = try makeTable(cluster, log: log)
        table.start()
        // Caught up means: everything written before the start is in, from the first report that says so.
        _ = try await blocking { try waitForCatchUp(table) }
        let atCatchUp = try #require(log.statuses.withLock { $0.first { $0.isCaughtUp } })
        #expect(atCatchUp.recordsApplied == 302 && atCatchUp.entries == 299 && atCatchUp.partitions == 3)
        #expect(atCatchUp.recordsRejected == 0 && atCatchUp.problem == nil)
        #expect(table.value(forKey: "source-0") == 0 && table.value(forKey: "source-299") == 299)
        #expect(table.value(forKey: "source-1") == nil, "a tombstone removes its key")
        #expect(table.value(forKey: "source-2") == 1002, "the latest record of a key wins")

        // Followed after the catch-up: a new fact, then its removal.
        try await blocking { try produce(cluster, partition: 1, ["source-new:7"]) }
        try await waitUntil("the new record", timeout: .seconds(60)) { table.value(forKey: "source-new") == 7 }
        try await blocking { try produce(cluster, partition: 1, ["source-new:"]) }
        // A batch is applied, then counted, then reported.
        try await waitUntil("the tombstone, counted and reported", timeout: .seconds(60)) {
            table.value(forKey: "source-new") == nil && log.statuses.withLock { $0.last?.recordsApplied == 304 }
        }
        let status = table.status
        #expect(status.recordsApplied == 304 && status.entries == 299 && status.lag == 0)
        // kcat's records carry their create time: each applied record has its propagation delay.
        #expect(log.durations.withLock { $0.count } == 304)
        #expect(log.durations.withLock { $0.allSatisfy { $0 >= .zero && $0 < .seconds(300) } })
        await stop(table)
        withExtendedLifetime(cluster) {}
    }

    @Test func aRejectedRecordIsCountedAndSkipped() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("risk", partitions: 1)
        try await blocking { try produce(cluster, partition: 0, ["a:1", "b:not-a-number", "c:3"]) }
        let table = try makeTable(cluster)
        table.start()
        let status = try await blocking { try waitForCatchUp(table) }
        #expect(status.recordsRejected == 1 && status.recordsApplied == 2 && status.entries == 2)
        #expect(table.value(forKey: "a") == 1 && table.value(forKey: "b") == nil && table.value(forKey: "c") == 3)
        // The reader goes on after it.
        try await blocking { try produce(cluster, partition: 0, ["d:4"]) }
        try await waitUntil("the next record", timeout: .seconds(60)) { table.value(forKey: "d") == 4 }
        await stop(table)
        withExtendedLifetime(cluster) {}
    }

    /// No offset is committed: a new reader (a restart) reads everything again, an empty topic is caught
    /// up at once.
    @Test func aRestartReadsEverythingAgain() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("risk", partitions: 2)
        let first = try makeTable(cluster)
        first.start()
        #expect(try await blocking { try waitForCatchUp(first) }.recordsApplied == 0)
        try await blocking { try produce(cluster, partition: 1, ["a:1", "b:2", "a:3"]) }
        try await waitUntil("the records", timeout: .seconds(60)) { first.status.recordsApplied == 3 }
        await stop(first)

        let second = try makeTable(cluster)
        second.start()
        let status = try await blocking { try waitForCatchUp(second) }
        #expect(status.recordsApplied == 3 && status.entries == 2)
        #expect(second.value(forKey: "a") == 3 && second.value(forKey: "b") == 2)
        await stop(second)
        withExtendedLifetime(cluster) {}
    }

    /// A broker outage shows in the status; the reader reconnects by itself and goes on.
    @Test func survivesABrokerOutage() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        try cluster.createTopic("risk", partitions: 1)
        try await blocking { try produce(cluster, partition: 0, ["a:1"]) }
        let table = try makeTable(cluster)
        table.start()
        _ = try await blocking { try waitForCatchUp(table) }
        try cluster.setBrokerDown(id: 1)
        try await waitUntil("the outage in the status", timeout: .seconds(60)) {
            table.status.brokerHealth?.isReachable == false
        }
        try cluster.setBrokerUp(id: 1)
        try await blocking { try produce(cluster, partition: 0, ["b:2"]) }
        try await waitUntil("the record written after the outage", timeout: .seconds(120)) {
            table.value(forKey: "b") == 2
        }
        try await waitUntil("the recovery in the status", timeout: .seconds(60)) {
            table.status.brokerHealth?.isReachable == true
        }
        await stop(table)
        withExtendedLifetime(cluster) {}
    }

    /// A topic that does not exist yet is reported, and read once it does.
    @Test func aMissingTopicIsReportedUntilItExists() async throws {
        let cluster = try MockKafkaCluster(brokers: 1, logger: testLogger)
        let table = try makeTable(cluster)
        table.start()
        try await waitUntil("the problem in the status", timeout: .seconds(60)) {
            table.status.problem == "topic 'risk' does not exist"
        }
        #expect(!table.status.isCaughtUp)
        try cluster.createTopic("risk", partitions: 1)
        try await blocking { try produce(cluster, partition: 0, ["a:1"]) }
        try await waitUntil("the record", timeout: .seconds(60)) { table.value(forKey: "a") == 1 }
        #expect(table.status.problem == nil)
        await stop(table)
        withExtendedLifetime(cluster) {}
    }

    private func stop(_ table: KafkaGlobalTable<String, Int>) async {
        _ = try? await blocking { table.stop() }
    }
}
