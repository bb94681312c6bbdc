import Foundation
import Testing
import VigilCore
import VigilTestSupport
import VigilWorkload

/// `vigil replay --state-out` then `--state-in`, through the binary: yesterday's traffic replayed on
/// top of the state it left gives what one replay of both days gives, and a damaged, foreign or newer
/// snapshot is refused before anything runs.
@Suite struct ReplayStateTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var out: URL

        func file(_ name: String) throws -> Data { try Data(contentsOf: out.appendingPathComponent(name)) }

        /// The summary rows describing the state at the end.
        var stateRows: [String] {
            stdout.split(separator: "\n").map(String.init).filter {
                $0.hasPrefix("users in state") || $0.hasPrefix("sources / email domains")
                    || $0.contains("failed logins")
                    || $0.contains("failing users") || $0.contains("reset requests")
            }
        }
    }

    static func replay(
        _ lines: ArraySlice<String>, in directory: URL, name: String, config: URL, arguments: [String] = [],
        key: String? = nil
    ) throws -> Run {
        let input = directory.appendingPathComponent("\(name).jsonl")
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: input)
        let out = directory.appendingPathComponent("out-\(name)")
        let result = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", config.path, "--out", out.path] + arguments + [input.path],
            environment: ["VIGIL_DEVICE_HASH_KEY": key])
        return Run(status: result.status, stdout: result.stdout, stderr: result.stderr, out: out)
    }

    /// Generated traffic with attacks and malformed lines, then the travel scenario.
    static let lines: [String] = {
        var configuration = WorkloadConfiguration()
        configuration.seed = 11
        configuration.users = 300
        configuration.attackRate = 0.02
        configuration.malformedRate = 0.01
        let generated = TrafficGenerator(configuration: configuration, pool: .maxMindTestCity).prefix(2_500)
            .map { String(decoding: $0.bytes, as: UTF8.self) }
        let travel = try! String(
            contentsOf: TestPaths.scenarios.appendingPathComponent("travel.jsonl"), encoding: .utf8)
        return generated + travel.split(separator: "\n").map(String.init)
    }()

    /// Dead letters name the file and line they came from, which differ between one file and two.
    static func withoutOrigin(_ data: Data) -> String {
        String(decoding: data, as: UTF8.self).replacingOccurrences(
            of: #""origin":\{[^}]*\}"#, with: "", options: .regularExpression)
    }

    @Test(arguments: [1, 800, 2_499, 2_503])
    func splitReplayEqualsOneReplay(split: Int) throws {
        let directory = try TestPaths.temporaryDirectory("replay-state-\(split)")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: true)
        let whole = try Self.replay(Self.lines[...], in: directory, name: "whole", config: config)
        let state = directory.appendingPathComponent("state.bin").path
        let first = try Self.replay(
            Self.lines[..<split], in: directory, name: "first", config: config, arguments: ["--state-out", state])
        let second = try Self.replay(
            Self.lines[split...], in: directory, name: "second", config: config, arguments: ["--state-in", state])
        for run in [whole, first, second] { #expect(run.status == 0, "\(run.stderr)") }
        #expect(first.stdout.contains("state out: "))
        #expect(second.stdout.contains("state in: "))

        for name in ["decisions.jsonl", "alerts.jsonl"] {
            #expect(try first.file(name) + second.file(name) == whole.file(name), "\(name) differs")
        }
        let deadLetters = try Self.withoutOrigin(first.file("dead-letter.jsonl") + second.file("dead-letter.jsonl"))
        #expect(deadLetters == Self.withoutOrigin(try whole.file("dead-letter.jsonl")))
        #expect(!deadLetters.isEmpty)
        #expect(try !whole.file("alerts.jsonl").isEmpty)
        #expect(second.stateRows == whole.stateRows)
        #expect(second.stateRows.count == 5)
    }

    @Test func learnedUserIsAllowedWithoutFirstLoginAfterTheRestore() throws {
        let directory = try TestPaths.temporaryDirectory("replay-state-learned")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let state = directory.appendingPathComponent("state.bin").path
        let learning = EventLines.answered(
            (0..<5).map {
                EventLines.login(
                    id: "learn-\($0)", time: "2026-03-02T09:0\($0):00Z", user: "carol", device: "carol-laptop")
            })
        #expect(
            try Self.replay(
                learning[...], in: directory, name: "day1", config: config, arguments: ["--state-out", state]
            ).status == 0)
        let next = [
            EventLines.login(id: "next-day", time: "2026-03-03T09:00:00Z", user: "carol", device: "carol-laptop")
        ]
        let restored = try Self.replay(
            next[...], in: directory, name: "day2", config: config, arguments: ["--state-in", state])
        let fresh = try Self.replay(next[...], in: directory, name: "fresh", config: config)

        let decision = try #require(try readJSONLines(restored.out.appendingPathComponent("decisions.jsonl")).first)
        #expect(decision["action"] as? String == "allow")
        #expect(Self.signals(decision).isEmpty)
        let without = try #require(try readJSONLines(fresh.out.appendingPathComponent("decisions.jsonl")).first)
        #expect(Self.signals(without).contains("first_login"))
    }

    static func signals(_ decision: [String: Any]) -> [String] {
        ((decision["risk"] as? [String: Any])?["reasons"] as? [[String: Any]] ?? []).compactMap {
            $0["signal"] as? String
        }
    }

    enum Damage: String, CaseIterable {
        case flippedByte, truncated, foreignKey, unknownVersion
    }

    @Test(arguments: Damage.allCases)
    func damagedSnapshotIsRefusedBeforeAnythingRuns(damage: Damage) throws {
        let directory = try TestPaths.temporaryDirectory("replay-state-\(damage)")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let state = directory.appendingPathComponent("state.bin")
        let writerKey = damage == .foreignKey ? "another-deployment-secret-0123456789" : nil
        let written = try Self.replay(
            Self.lines[..<300], in: directory, name: "first", config: config, arguments: ["--state-out", state.path],
            key: writerKey)
        #expect(written.status == 0, "\(written.stderr)")
        var bytes = try [UInt8](Data(contentsOf: state))
        switch damage {
        case .flippedByte: bytes[bytes.count / 2] ^= 0x01
        case .truncated: bytes.removeLast(bytes.count / 3)
        case .foreignKey: break
        case .unknownVersion: bytes[8] = 2
        }
        try Data(bytes).write(to: state)

        let refused = try Self.replay(
            Self.lines[300...], in: directory, name: "second", config: config, arguments: ["--state-in", state.path])
        #expect(refused.status == 3)
        let expected: String =
            switch damage {
            case .flippedByte: "the state snapshot is corrupt or not a snapshot (checksum mismatch"
            case .truncated: "the state snapshot is corrupt or not a snapshot (checksum mismatch"
            case .foreignKey: "the state snapshot was written under another device hash key"
            case .unknownVersion: "the state snapshot has format version 2, this Vigil reads version 1"
            }
        #expect(
            refused.stderr.contains("vigil replay: cannot start from \(state.path): \(expected)"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: refused.out.path))
    }

    @Test func stateOutReplacesTheFileAtomically() throws {
        let directory = try TestPaths.temporaryDirectory("replay-state-atomic")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let state = directory.appendingPathComponent("state.bin")
        try Data("old".utf8).write(to: state)
        let run = try Self.replay(
            Self.lines[..<100], in: directory, name: "run", config: config, arguments: ["--state-out", state.path])
        #expect(run.status == 0)
        #expect(try Data(contentsOf: state).prefix(8) == Data("VIGILSNP".utf8))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter {
            $0.contains(".tmp-")
        }
        #expect(leftovers.isEmpty)
    }
}
