import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// `vigil replay --partitions N` runs the staged topology with N shards per keyed stage: with MaxMind's
/// test databases, the example traffic and every scenario give the same files for every N, and a
/// snapshot (one shard per stage) is refused with more than one partition before anything runs.
@Suite struct ReplayPartitionsTests {
    static func replay(
        _ input: URL, partitions: Int, in directory: URL, config: URL
    ) throws -> (
        report: ReplayRunner.Report, files: [Data]
    ) {
        let out = directory.appendingPathComponent(
            "out-\(input.deletingPathExtension().lastPathComponent)-\(partitions)")
        let runner = ReplayRunner(
            options: .init(
                configPath: config.path, inputPath: input.path, outputDirectory: out.path,
                now: Timestamp(seconds: 1_900_000_000), partitions: partitions),
            logger: testLogger, environment: [:])
        let report = try runner.run()
        let files = try ["decisions.jsonl", "alerts.jsonl", "dead-letter.jsonl"].map {
            try Data(contentsOf: out.appendingPathComponent($0))
        }
        return (report, files)
    }

    @Test func everyPartitionCountWritesTheSameFiles() throws {
        let directory = try TestPaths.temporaryDirectory("replay-partitions")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: true)
        var inputs = [TestPaths.packageRoot.appendingPathComponent("Examples/events.jsonl")]
        inputs += try FileManager.default.contentsOfDirectory(atPath: TestPaths.scenarios.path).sorted()
            .filter { $0.hasSuffix(".jsonl") }.map { TestPaths.scenarios.appendingPathComponent($0) }
        var alerts = 0
        for input in inputs {
            let one = try Self.replay(input, partitions: 1, in: directory, config: config)
            alerts += one.report.stats.alerts.reduce(0, +)
            for count in [2, 7, 16] {
                let many = try Self.replay(input, partitions: count, in: directory, config: config)
                #expect(many.files == one.files, "\(input.lastPathComponent) with \(count) partitions")
                #expect(many.report.stats == one.report.stats, "\(input.lastPathComponent) with \(count) partitions")
            }
        }
        #expect(alerts > 5)
    }

    @Test func snapshotsNeedOnePartition() throws {
        let directory = try TestPaths.temporaryDirectory("replay-partitions-state")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let input = TestPaths.scenarios.appendingPathComponent("travel.jsonl")
        let runner = ReplayRunner(
            options: .init(
                configPath: config.path, inputPath: input.path,
                outputDirectory: directory.appendingPathComponent("out").path,
                stateOut: directory.appendingPathComponent("state.bin").path, partitions: 4),
            logger: testLogger, environment: [:])
        #expect {
            try runner.run()
        } throws: { error in
            "\(error)".contains("use --partitions 1 with --state-in and --state-out")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }
}
