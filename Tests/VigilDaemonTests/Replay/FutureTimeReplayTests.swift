import Foundation
import Testing
import VigilCore
import VigilTestSupport
import VigilWorkload

@testable import VigilDaemon

/// One line stamped far in the future, in a replay file of 20,000 events, must change nothing but
/// itself: it becomes a `future_time` dead letter, and every decision and alert is what the file
/// without it gives.
@Suite struct FutureTimeReplayTests {
    /// Generated traffic with attacks: enough repeat users and attacks for hundreds of alerts.
    static let lines: [String] = {
        var configuration = WorkloadConfiguration()
        configuration.seed = 15
        configuration.users = 2_000
        configuration.attackRate = 0.005
        return TrafficGenerator(configuration: configuration, pool: .maxMindTestCity).prefix(20_000)
            .map { String(decoding: $0.bytes, as: UTF8.self) }
    }()

    static func write(_ lines: [String], name: String) throws -> URL {
        let url = try TestPaths.temporaryDirectory("future-\(name)").appendingPathComponent("\(name).jsonl")
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: url)
        return url
    }

    /// The file with a copy of line `index` (a login), stamped `time` under a new event id, inserted after it.
    static func poisoned(at index: Int, time: String) throws -> [String] {
        let original = try #require(lines[index...].firstIndex { $0.contains(#""type":"login""#) })
        var line = lines[original].replacingOccurrences(
            of: #""time":"[^"]*""#, with: #""time":"\#(time)""#, options: .regularExpression)
        line = line.replacingOccurrences(
            of: #""event_id":"[^"]*""#, with: #""event_id":"poisoned""#, options: .regularExpression)
        return Array(lines[...original]) + [line] + Array(lines[(original + 1)...])
    }

    static func bytes(_ outcome: ScenarioTests.Outcome, _ name: String) throws -> Data {
        try Data(contentsOf: outcome.directory.appendingPathComponent(name))
    }

    @Test(arguments: ["9999-12-31T23:59:59Z", "2026-03-04T00:00:00Z"])
    func aPoisonedLineChangesNoDecisionAndNoAlert(time: String) throws {
        let clean = try ScenarioTests.replay(file: Self.write(Self.lines, name: "clean"))
        let poisoned = try ScenarioTests.replay(
            file: Self.write(try Self.poisoned(at: 5_000, time: time), name: "poisoned"))
        #expect(clean.alerts.count > 40)
        #expect(clean.deadLetters.isEmpty)
        #expect(try Self.bytes(poisoned, "alerts.jsonl") == Self.bytes(clean, "alerts.jsonl"))
        #expect(try Self.bytes(poisoned, "decisions.jsonl") == Self.bytes(clean, "decisions.jsonl"))
        try #require(poisoned.deadLetters.count == 1)
        let deadLetter = poisoned.deadLetters[0]
        #expect((deadLetter["reason"] as? String)?.hasPrefix("future_time") == true, "\(deadLetter)")
        let text = String(decoding: try Self.bytes(poisoned, "dead-letter.jsonl"), as: UTF8.self)
        #expect(text.contains(time))
        #expect(text.contains("newest accepted event time 2026-03-02T"))
    }

    /// Before any event was accepted there is no leap to measure: the replay's clock bounds the line.
    @Test func aPoisonedFirstLineLeavesTheTravelAlertIntact() throws {
        let travel = try String(
            contentsOf: TestPaths.scenarios.appendingPathComponent("travel.jsonl"), encoding: .utf8)
        let lines = travel.split(separator: "\n").map(String.init)
        let forged = lines[0].replacingOccurrences(of: "2026-03-02T09:00:00.000Z", with: "9999-12-31T23:59:59Z")
            .replacingOccurrences(of: "tr-alice-0", with: "poisoned")
        let poisoned = try ScenarioTests.replay(file: Self.write([forged] + lines, name: "poisoned-travel"))
        #expect(poisoned.alertKinds == ["impossible_travel"])
        #expect(poisoned.decisions.count == 8)
        #expect(poisoned.report.stats.lateEvents == 0)
        try #require(poisoned.deadLetters.count == 1)
        let deadLetter = poisoned.deadLetters[0]
        #expect(deadLetter["reason"] as? String == "future_time")
        #expect(deadLetter["event_id"] as? String == "poisoned")
        #expect((deadLetter["origin"] as? [String: Any])?["line"] as? Int == 1)
        #expect((deadLetter["detail"] as? String)?.contains("after the replay's clock") == true, "\(deadLetter)")
    }

    /// A replay taking an earlier time as now dead-letters what lies more than max_future_skew after it.
    @Test func nowReplacesTheWallClock() throws {
        let outcome = try ScenarioTests.replay(
            file: TestPaths.scenarios.appendingPathComponent("travel.jsonl"),
            now: Timestamp(rfc3339: "2026-03-02T09:50:30Z"))
        // 09:00, 09:01 and 10:00 are within max_future_skew (10m) of it, 10:01 and the rest are not.
        #expect(outcome.decisions.map { $0["event_id"] as? String } == ["tr-alice-0", "tr-bob-0", "tr-alice-1"])
        #expect(
            outcome.deadLetters.map { $0["event_id"] as? String } == [
                "tr-bob-1", "tr-bob-1-mfa", "tr-alice-2", "tr-alice-2-mfa", "tr-bob-2", "tr-bob-2-mfa",
                "tr-alice-boxford", "tr-bob-changchun",
            ])
        #expect(outcome.deadLetters.allSatisfy { $0["reason"] as? String == "future_time" })
    }
}
