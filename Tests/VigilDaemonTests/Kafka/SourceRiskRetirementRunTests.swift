import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// `vigil run` withdraws a spraying source's fact from the source-risk topic (a tombstone, which
/// compaction then drops with the fact) once its source stage has forgotten the source.
@Suite(.serialized) struct SourceRiskRetirementRunTests {
    /// The source-risk topic's records: partition, offset, key length, and whether there is a value (false:
    /// a tombstone). Keys and facts are binary, so kcat prints lengths (`%S` is -1 for no value).
    static func sourceRiskRecords(
        _ brokers: String
    ) throws -> [(partition: Int, offset: Int, keyBytes: Int, hasValue: Bool)] {
        let output = try Kcat.run([
            "-b", brokers, "-C", "-t", "vigil-source-risk", "-o", "beginning", "-e", "-q", "-f", "%p %o %K %S\n",
        ])
        return output.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ").compactMap { Int($0) }
            guard fields.count == 4 else { return nil }
            return (fields[0], fields[1], fields[2], fields[3] >= 0)
        }
    }

    @Test func aForgottenSpraySourcesFactIsWithdrawn() async throws {
        // One partition: the later event reaches the shard that holds the spraying source and moves its time on.
        let fixture = try KafkaFixture(name: "retire", partitions: 1, extra: KafkaFixture.exactVerdicts)
        let spray = (0..<5).map {
            EventLines.login(
                id: "spray-\($0)", time: "2026-03-02T09:0\($0):00Z", user: "victim-\($0)", ip: "198.51.100.7",
                outcome: "failure")
        }
        // Two hours on: past the longest cross-user window (1 h) and the next sweep.
        let later = EventLines.login(
            id: "later", time: "2026-03-02T11:05:00Z", user: "other", ip: "203.0.113.9", outcome: "failure")
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: spray) }
        try await waitUntil("the spraying source's fact", timeout: .seconds(60)) {
            try daemon.requireRunning()
            return try Self.sourceRiskRecords(fixture.brokers).contains { $0.hasValue }
        }
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: [later]) }
        try await waitUntil("its tombstone", timeout: .seconds(60)) {
            try daemon.requireRunning()
            return try Self.sourceRiskRecords(fixture.brokers).contains { !$0.hasValue }
        }
        #expect(try daemon.stop() == 0, "\(daemon.log)")
        let records = try Self.sourceRiskRecords(fixture.brokers)
        let tombstones = records.filter { !$0.hasValue }
        #expect(tombstones.count == 1)
        #expect(records.allSatisfy { $0.keyBytes == 8 })
        // Only the spraying source published, all on its key's partition, and the tombstone comes last.
        let tombstone = try #require(tombstones.first)
        #expect(records.allSatisfy { $0.partition == tombstone.partition })
        #expect(records.map(\.offset).max() == tombstone.offset)
    }
}
