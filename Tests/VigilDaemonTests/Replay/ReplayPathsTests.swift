import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// `vigil replay` refuses, before it reads or writes anything, a run whose files collide or cannot be
/// written, says which file it cannot read, and reads an input with a byte-order mark or a long first
/// line as it reads any other.
@Suite struct ReplayPathsTests {
    static let example = TestPaths.packageRoot.appendingPathComponent("Examples/events.jsonl")

    static func runner(
        input: String, out: String, stateIn: String? = nil, stateOut: String? = nil, partitions: Int = 1
    ) -> ReplayRunner {
        ReplayRunner(
            options: .init(
                configPath: TestPaths.packageRoot.appendingPathComponent("Examples/vigil.yaml").path,
                inputPath: input, outputDirectory: out, stateIn: stateIn, stateOut: stateOut,
                now: Timestamp(seconds: 1_900_000_000), partitions: partitions, format: nil),
            logger: testLogger, environment: [:])
    }

    static func refusal(_ runner: ReplayRunner) -> String {
        do {
            _ = try runner.run()
            return "ran"
        } catch { return "\(error)" }
    }

    /// A first run's outputs in `out` of a fresh folder named `name`: the folder, the decisions file and
    /// its bytes, for a second run to leave as they are.
    static func previousRun(_ name: String) throws -> (directory: URL, out: URL, decisions: URL, before: Data) {
        let directory = try TestPaths.temporaryDirectory(name)
        let out = directory.appendingPathComponent("out")
        _ = try runner(input: example.path, out: out.path).run()
        let decisions = out.appendingPathComponent("decisions.jsonl")
        return (directory, out, decisions, try Data(contentsOf: decisions))
    }

    @Test func anInputAmongTheOutputsIsRefusedAndKept() throws {
        let directory = try TestPaths.temporaryDirectory("replay-paths-input")
        let input = directory.appendingPathComponent("decisions.jsonl")
        try FileManager.default.copyItem(at: Self.example, to: input)
        let before = try Data(contentsOf: input)
        let refused = Self.refusal(Self.runner(input: input.path, out: directory.path))
        #expect(refused.contains("--out holds the input"), "\(refused)")
        #expect(try Data(contentsOf: input) == before)
    }

    /// Compared as files: a hard link to an output is the output, and a symbolic link at an output is
    /// refused before anything is truncated.
    @Test func aHardLinkedInputAndALinkedOutputAreRefused() throws {
        let (directory, out, decisions, before) = try Self.previousRun("replay-paths-links")
        let hard = directory.appendingPathComponent("hard.jsonl")
        try FileManager.default.linkItem(at: decisions, to: hard)
        let refused = Self.refusal(Self.runner(input: hard.path, out: out.path))
        #expect(refused.contains("--out holds the input"), "\(refused)")
        #expect(try Data(contentsOf: decisions) == before)

        let linked = directory.appendingPathComponent("linked")
        try FileManager.default.createDirectory(at: linked, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(
            atPath: linked.appendingPathComponent("alerts.jsonl").path, withDestinationPath: decisions.path)
        let refusedLink = Self.refusal(Self.runner(input: Self.example.path, out: linked.path))
        #expect(refusedLink.contains("it is a symbolic link"), "\(refusedLink)")
        #expect(try Data(contentsOf: decisions) == before)
    }

    @Test func aSnapshotOnAnOutputOrTheInputIsRefused() throws {
        let directory = try TestPaths.temporaryDirectory("replay-paths-state")
        let out = directory.appendingPathComponent("out").path
        for clash in [out + "/decisions.jsonl", out + "/../out/alerts.jsonl", Self.example.path, directory.path] {
            let refused = Self.refusal(Self.runner(input: Self.example.path, out: out, stateOut: clash))
            #expect(
                refused.contains("--state-out") || refused.hasSuffix("it is a directory"), "\(clash): \(refused)")
        }
        // Into the output folder, which the run creates, under another name: fine.
        let fresh = directory.appendingPathComponent("fresh").path
        let report = try Self.runner(input: Self.example.path, out: fresh, stateOut: fresh + "/state.snap").run()
        #expect(report.stateOut != nil)
    }

    @Test func aSnapshotWhoseFolderIsMissingIsRefusedBeforeAnyOutput() throws {
        let directory = try TestPaths.temporaryDirectory("replay-paths-folder")
        let out = directory.appendingPathComponent("out")
        let refused = Self.refusal(
            Self.runner(
                input: Self.example.path, out: out.path, stateOut: directory.path + "/missing/state.snap"))
        #expect(refused.contains("its folder does not exist"), "\(refused)")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("decisions.jsonl").path))
    }

    /// A directory as input is named as one, and the previous run's outputs stay as they were.
    @Test func anUnreadableInputLeavesThePreviousOutputs() throws {
        let (directory, out, decisions, before) = try Self.previousRun("replay-paths-keep")
        #expect(!before.isEmpty)
        let refused = Self.refusal(Self.runner(input: directory.path, out: out.path))
        #expect(refused == "cannot read \(directory.path): it is a directory")
        #expect(try Data(contentsOf: decisions) == before)
    }

    @Test(arguments: [0, ReplayRunner.maxPartitions + 1])
    func partitionCountsOutOfRangeAreRefused(count: Int) throws {
        let directory = try TestPaths.temporaryDirectory("replay-paths-partitions")
        let refused = Self.refusal(Self.runner(input: Self.example.path, out: directory.path, partitions: count))
        #expect(refused == "--partitions takes a count from 1 to \(ReplayRunner.maxPartitions), not \(count)")
    }

    /// A byte-order mark before the first record is skipped, for the format's detection and the record
    /// alike; a first line far longer than one read is still looked at whole (and refused as too large).
    @Test func aByteOrderMarkAndALongFirstLine() throws {
        let directory = try TestPaths.temporaryDirectory("replay-paths-bom")
        let okta = TestPaths.scenarios.appendingPathComponent("okta/push-bombing.jsonl")
        let marked = directory.appendingPathComponent("marked.jsonl")
        try (Data(LineReader.byteOrderMark) + Data(contentsOf: okta)).write(to: marked)
        let plain = try Self.runner(input: okta.path, out: directory.path + "/plain").run()
        let report = try Self.runner(input: marked.path, out: directory.path + "/marked").run()
        #expect(report.format == .okta && report.formatDetected)
        #expect(report.stats == plain.stats)
        #expect(report.stats.deadLetters.isEmpty)

        let long = directory.appendingPathComponent("long.jsonl")
        let first = #"{"event_id":"big","note":""# + String(repeating: "x", count: 300_000) + "\"}\n"
        try (Data(first.utf8) + Data(contentsOf: okta)).write(to: long)
        let longReport = try Self.runner(input: long.path, out: directory.path + "/long").run()
        #expect(longReport.format == .vigil)
        #expect(longReport.stats.deadLetters["too_large"] == 1)
    }
}
