import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// `vigil replay` as an operator runs it: the binary, a JSONL file with hostile lines between valid
/// events, exit status 0, a summary, and one dead letter per bad line with the right reason.
@Suite struct ReplayCommandTests {
    static func valid(_ id: String, minute: Int) -> String {
        let time = "2026-03-02T09:\(String(format: "%02d", minute)):00Z"
        return EventLines.login(id: id, time: time, user: "u-\(id)", device: "d")
    }

    /// Each malformed line with the reason code its dead letter must carry.
    static let corpus: [(line: [UInt8], reason: String)] = {
        var cases: [(String, String)] = [
            (#"{"event_id":"t1","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"x"#, "invalid_json"),
            (
                #"{"event_id":42,"type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"x"},"ip":"1.2.3.4","outcome":"success"}"#,
                "invalid_type:event_id"
            ),
            (
                #"{"event_id":"t3","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":7},"ip":"1.2.3.4","outcome":"success"}"#,
                "invalid_type:user.id"
            ),
            (
                #"{"event_id":"t4","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"x"},"ip":"1.2.3.999","outcome":"success"}"#,
                "invalid_ip"
            ),
            (
                #"{"event_id":"t5","type":"login","time":"2026-03-02T09:00:00Z","user":{},"ip":"1.2.3.4","outcome":"success"}"#,
                "missing_field:user.id"
            ),
            (
                #"{"event_id":"t6","type":"login","time":"2026-03-02T09:00:00","user":{"id":"x"},"ip":"1.2.3.4","outcome":"success"}"#,
                "invalid_time"
            ),
            (
                #"{"event_id":"t7","type":"teleport","time":"2026-03-02T09:00:00Z","user":{"id":"x"},"ip":"1.2.3.4"}"#,
                "invalid_value:type"
            ),
            (
                #"{"event_id":"t8","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"x"},"outcome":"success"}"#,
                "missing_field:ip"
            ),
            (#"[1,2,3]"#, "not_an_object"),
            (
                #"{"event_id":"t10","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"x"},"ip":"1.2.3.4","outcome":"success","x":"#
                    + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}", "too_deep"
            ),
        ]
        var out = cases.map { (Array($0.0.utf8), $0.1) }
        // Invalid UTF-8 inside a string value.
        var utf8 = Array(#"{"event_id":"t11","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"x"#.utf8)
        utf8 += [0xC3, 0x28]
        utf8 += Array(#""},"ip":"1.2.3.4","outcome":"success"}"#.utf8)
        out.append((utf8, "invalid_utf8"))
        // A 10 MB line.
        out.append(
            (
                Array(#"{"event_id":"big","pad":""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 10_000_000)
                    + Array(#""}"#.utf8), "too_large"
            ))
        return out
    }()

    @Test func malformedLinesBecomeDeadLettersAndValidOnesAreProcessed() throws {
        let directory = try TestPaths.temporaryDirectory("replay-cli")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        var input: [UInt8] = []
        for (index, bad) in Self.corpus.enumerated() {
            input += Array(Self.valid("ok\(index)", minute: index).utf8) + [0x0A]
            input += bad.line + [0x0A]
        }
        input += Array(Self.valid("ok-last", minute: 59).utf8)  // no trailing newline
        let events = directory.appendingPathComponent("events.jsonl")
        try Data(input).write(to: events)
        let out = directory.appendingPathComponent("out")

        let result = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", config.path, "--out", out.path, events.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("events read"))
        let summaryLine = result.stdout.split(separator: "\n").first { $0.hasPrefix("dead letters") }
        #expect(summaryLine?.split(separator: " ").last.map(String.init) == "\(Self.corpus.count)")

        let deadLetters = try readJSONLines(out.appendingPathComponent("dead-letter.jsonl"))
        #expect(deadLetters.map { $0["reason"] as! String } == Self.corpus.map(\.reason))
        let lines = deadLetters.map { ($0["origin"] as! [String: Any])["line"] as! Int }
        #expect(lines == Self.corpus.indices.map { 2 * $0 + 2 })
        let big = try #require(deadLetters.last)
        #expect(big["size"] as? Int == Self.corpus.last!.line.count)
        #expect(big["truncated"] as? Bool == true)
        #expect((big["payload"] as! String).utf8.count <= 65_536)
        let binary = deadLetters.first { $0["reason"] as? String == "invalid_utf8" }
        #expect(binary?["payload_encoding"] as? String == "base64")

        let decisions = try readJSONLines(out.appendingPathComponent("decisions.jsonl"))
        #expect(decisions.count == Self.corpus.count + 1)
        #expect(decisions.last?["event_id"] as? String == "ok-last")
    }

    @Test func readsStandardInput() throws {
        let directory = try TestPaths.temporaryDirectory("replay-stdin")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let out = directory.appendingPathComponent("out")
        let input = Data((Self.valid("a", minute: 1) + "\n" + Self.valid("b", minute: 2) + "\n").utf8)
        let result = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", config.path, "--out", out.path, "-"], stdin: input)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try readJSONLines(out.appendingPathComponent("decisions.jsonl")).count == 2)
    }

    @Test func aMissingInputFileIsAClearError() throws {
        let directory = try TestPaths.temporaryDirectory("replay-missing")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let result = try ChildProcess.run(
            TestPaths.vigilBinary,
            ["replay", "--config", config.path, "--out", directory.path + "/out", "/nonexistent.jsonl"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/nonexistent.jsonl"))
    }

    @Test func aBrokenDatabaseIsAClearStartupError() throws {
        let directory = try TestPaths.temporaryDirectory("replay-broken-db")
        let broken = TestPaths.maxmind.appendingPathComponent("GeoIP2-City-Test-Invalid-Node-Count.mmdb").path
        let config = directory.appendingPathComponent("vigil.yaml")
        try "geo:\n  city_db: \(broken)\n".write(to: config, atomically: true, encoding: .utf8)
        let events = directory.appendingPathComponent("e.jsonl")
        try Self.valid("x", minute: 1).write(to: events, atomically: true, encoding: .utf8)
        let result = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", config.path, "--out", directory.path + "/out", events.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("GeoIP2-City-Test-Invalid-Node-Count.mmdb"))
    }

    @Test func nowIsTheReplaysClock() throws {
        let directory = try TestPaths.temporaryDirectory("replay-now")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let out = directory.appendingPathComponent("out")
        // Dated in the future of any wall clock this test runs under: only a --now after it lets it in.
        let input = Data(
            (EventLines.login(id: "later", time: "2999-01-01T00:00:00Z", user: "u", device: "d") + "\n").utf8)
        for (now, decided) in [(nil, false), ("2999-01-01T00:00:00Z", true), ("2998-12-31T23:49:59Z", false)] {
            let result = try ChildProcess.run(
                TestPaths.vigilBinary,
                ["replay", "--config", config.path, "--out", out.path] + (now.map { ["--now", $0] } ?? []) + ["-"],
                stdin: input)
            #expect(result.status == 0, "\(result.stderr)")
            let decisions = try readJSONLines(out.appendingPathComponent("decisions.jsonl"))
            let deadLetters = try readJSONLines(out.appendingPathComponent("dead-letter.jsonl"))
            #expect(decisions.count == (decided ? 1 : 0), "--now \(now ?? "absent")")
            #expect(deadLetters.map { $0["reason"] as? String } == (decided ? [] : ["future_time"]))
        }
    }

    @Test func aNowThatIsNoTimeIsAClearError() throws {
        let directory = try TestPaths.temporaryDirectory("replay-bad-now")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: false)
        let result = try ChildProcess.run(
            TestPaths.vigilBinary,
            ["replay", "--config", config.path, "--out", directory.path + "/out", "--now", "yesterday", "-"],
            stdin: Data())
        #expect(result.status != 0)
        #expect(result.stderr.contains("--now takes an RFC 3339 time"), "\(result.stderr)")
    }
}
