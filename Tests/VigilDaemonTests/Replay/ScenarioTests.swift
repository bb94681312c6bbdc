import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// Scenario streams under Tests/VigilDaemonTests/Scenarios run through `vigil replay`'s runner, with
/// MaxMind's test databases; each asserts the decisions and alerts an analyst would expect.
@Suite struct ScenarioTests {
    struct Outcome {
        var report: ReplayRunner.Report
        var decisions: [[String: Any]]
        var alerts: [[String: Any]]
        var deadLetters: [[String: Any]]
        var directory: URL

        func decision(_ eventID: String) -> [String: Any]? {
            decisions.first { $0["event_id"] as? String == eventID }
        }

        var alertKinds: [String] {
            alerts.map { (($0["finding_info"] as! [String: Any])["types"] as! [String])[0] }
        }

        func reasons(_ eventID: String) -> [String] {
            ((decision(eventID)?["risk"] as? [String: Any])?["reasons"] as? [[String: Any]] ?? []).map {
                $0["signal"] as! String
            }
        }
    }

    static func replay(_ scenario: String, anonymousDatabase: Bool = false, extra: String = "") throws -> Outcome {
        try replay(
            file: TestPaths.scenarios.appendingPathComponent(scenario), anonymousDatabase: anonymousDatabase,
            extra: extra)
    }

    /// `vigil replay` of any JSONL file of `format` (nil: as `--format` left out), with MaxMind's test
    /// databases, taking `now` as now when given.
    static func replay(
        file: URL, anonymousDatabase: Bool = false, extra: String = "", now: Timestamp? = nil,
        format: InputFormat? = .vigil
    ) throws -> Outcome {
        let directory = try TestPaths.temporaryDirectory(file.deletingPathExtension().lastPathComponent)
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: anonymousDatabase, extra: extra)
        let out = directory.appendingPathComponent("out")
        let runner = ReplayRunner(
            options: .init(
                configPath: config.path, inputPath: file.path, outputDirectory: out.path, now: now, format: format),
            logger: testLogger, environment: [:])
        let report = try runner.run()
        return Outcome(
            report: report, decisions: try readJSONLines(out.appendingPathComponent("decisions.jsonl")),
            alerts: try readJSONLines(out.appendingPathComponent("alerts.jsonl")),
            deadLetters: try readJSONLines(out.appendingPathComponent("dead-letter.jsonl")), directory: out)
    }

    @Test func londonToBoxfordIsQuietLondonToChangchunAlerts() throws {
        let outcome = try Self.replay("travel.jsonl")
        #expect(outcome.decisions.count == 8)
        // Six learning logins, each verified by its TOTP success; Boxford allowed; Changchun never verified.
        let stats = outcome.report.stats
        #expect(
            BaselineLearning.allCases.map { stats.count($0) } == [1, 7, 6, 0],
            "learned, pending, verified, denied: \(outcome.report.summary)")
        #expect(outcome.report.summary.contains("learned 1, pending 7, verified 6, denied 0"))
        #expect(outcome.alertKinds == ["impossible_travel"])
        #expect(!outcome.reasons("tr-alice-boxford").contains("impossible_travel"))
        #expect(outcome.reasons("tr-bob-changchun").contains("impossible_travel"))
        let evidence = outcome.alerts[0]["evidences"] as! [[String: Any]]
        let cities = evidence.compactMap {
            (($0["src_endpoint"] as? [String: Any])?["location"] as? [String: Any])?["city"] as? String
        }
        #expect(cities == ["London", "Changchun"])
        let data = evidence.last!["data"] as! [String: Any]
        #expect((data["speed_kmh"] as! Double) > 900)
        #expect(data["previous_accuracy_radius_km"] as? Double == 10)
        #expect(data["current_accuracy_radius_km"] as? Double == 100)
    }

    @Test func anonymousLondonIsReportedAsAnonymousNotTravel() throws {
        // MaxMind's Anonymous-IP test database flags 81.2.69.0/24 (London in the City test database).
        let outcome = try Self.replay("travel.jsonl", anonymousDatabase: true)
        #expect(!outcome.alertKinds.contains("impossible_travel"))
        #expect(outcome.reasons("tr-bob-changchun").contains("anonymous_ip"))
        #expect(!outcome.reasons("tr-bob-changchun").contains("impossible_travel"))
    }

    @Test func pushBombingEndingInAnApproval() throws {
        let outcome = try Self.replay("push-bombing.jsonl")
        #expect(outcome.alertKinds == ["push_bombing", "mfa_fatigue_accepted"])
        let fatigue = outcome.alerts[1]
        #expect(fatigue["severity_id"] as? Int == 5)
        let attacks = (fatigue["finding_info"] as! [String: Any])["attacks"] as! [[String: Any]]
        #expect((attacks[0]["technique"] as! [String: Any])["uid"] as? String == "T1621")
        let after = try #require(outcome.decision("pb-login-after"))
        let factors = after["factors"] as! [String]
        #expect(!factors.contains("push_number_match"))
        #expect(outcome.reasons("pb-login-after").contains("push_burst"))
    }

    @Test func resetWaveFromOneSourceThenTakeover() throws {
        let outcome = try Self.replay("reset-wave.jsonl")
        #expect(outcome.alertKinds == ["reset_abuse", "takeover_after_reset"])
        let unmapped = outcome.alerts[0]["unmapped"] as! [String: Any]
        #expect(unmapped["vigil_scope"] as? String == "source_ip")
        #expect(unmapped["vigil_subject"] as? String == "198.51.100.23")
        #expect((outcome.alerts[0]["count"] as? Int) == 10)
        let takeover = try #require(outcome.decision("rw-takeover"))
        #expect(takeover["action"] as? String != "allow")
        #expect(outcome.reasons("rw-takeover").contains("recent_password_reset"))
    }

    @Test func credentialStuffingFromOneIPv6Network() throws {
        let outcome = try Self.replay("credential-stuffing.jsonl")
        #expect(outcome.alertKinds == ["credential_stuffing"])
        let reasons = outcome.reasons("cs-success")
        #expect(reasons.contains("source_ip_spraying"))
        #expect(reasons.contains("failed_attempts"))
    }

    @Test func roleTiersAndHardRules() throws {
        let outcome = try Self.replay("roles.jsonl", anonymousDatabase: true)
        #expect(outcome.decision("ro-admin-tor")?["action"] as? String == "deny")
        #expect(outcome.decision("ro-fin-export")?["action"] as? String == "step_up_hard")
        #expect(outcome.decision("ro-svc-bad")?["action"] as? String == "deny")
        #expect(outcome.decision("ro-ctr-normal")?["action"] as? String == "step_up_soft")
        let contractorFactors = outcome.decision("ro-ctr-normal")?["factors"] as? [String] ?? []
        #expect(!contractorFactors.isEmpty && !contractorFactors.contains("sms"))
        #expect(outcome.reasons("ro-unknown-action").contains("unknown_sensitive_action"))
        #expect(outcome.alertKinds.contains("service_account_high_risk"))
    }

    /// The attack scenarios hold only well-formed events: each line is read as an event, none is
    /// dead-lettered.
    @Test(arguments: [
        "travel.jsonl", "push-bombing.jsonl", "reset-wave.jsonl", "credential-stuffing.jsonl", "roles.jsonl",
    ])
    func everyScenarioLineIsAnEvent(scenario: String) throws {
        let outcome = try Self.replay(scenario, anonymousDatabase: scenario == "roles.jsonl")
        let lines = try String(contentsOf: TestPaths.scenarios.appendingPathComponent(scenario), encoding: .utf8)
            .split(separator: "\n")
        #expect(outcome.deadLetters.isEmpty, "\(outcome.deadLetters)")
        #expect(outcome.report.stats.deadLetterTotal == 0)
        #expect(outcome.report.stats.eventsByType.reduce(0, +) == lines.count)
        #expect(outcome.decisions.count == outcome.report.stats.decisions.reduce(0, +))
    }

    /// `dead-letters.jsonl`: a bad line after every good one, each breaking another rule, and then a
    /// line over `input.max_event_bytes` (64 KiB; generated, not stored) and a last good one. Each bad
    /// line is dead-lettered with the reason of the rule it broke, where it came from, its `event_id` when
    /// one was read, and its bytes (the head of the oversized one); the good lines around it are decided
    /// as usual.
    @Test func eachBadLineIsDeadLetteredWithTheRuleItBroke() throws {
        // Bytes, not text: line 22 is not UTF-8 and must reach the replay as it is stored.
        let stored = try Data(contentsOf: TestPaths.scenarios.appendingPathComponent("dead-letters.jsonl"))
        let first = String(decoding: stored.prefix { $0 != UInt8(ascii: "\n") }, as: UTF8.self)
        let oversized = first.replacingOccurrences(of: "dl-ok-0", with: "dl-too-large")
            .replacingOccurrences(
                of: #""tenant": "acme""#, with: #""pad": "\#(String(repeating: "x", count: 70_000))""#)
        let last = first.replacingOccurrences(of: "dl-ok-0", with: "dl-ok-13")
            .replacingOccurrences(of: "2026-03-02T09:00:00.000Z", with: "2026-03-02T09:13:00.000Z")
        let input = try TestPaths.temporaryDirectory("dead-letters-input").appendingPathComponent("dead-letters.jsonl")
        try (stored + Data((oversized + "\n" + last + "\n").utf8)).write(to: input)
        let lines = try Data(contentsOf: input).split(separator: UInt8(ascii: "\n")).map {
            String(decoding: $0, as: UTF8.self)
        }
        let outcome = try Self.replay(file: input)
        let expected: [(line: Int, reason: String, eventID: String?)] = [
            (2, "invalid_json", nil), (4, "not_an_object", nil), (6, "missing_field:event_id", nil),
            (8, "invalid_ip", "dl-bad-ip"), (10, "invalid_time", "dl-bad-time"),
            (12, "invalid_value:type", "dl-bad-type"), (14, "duplicate_field:event_id", "dl-dup-again"),
            (16, "missing_field:user", "dl-no-user"), (18, "invalid_type:time", "dl-int-time"),
            (20, "too_deep", "dl-deep"), (22, "invalid_utf8", nil), (24, "future_time", "dl-future"),
            (26, "too_large", nil),
        ]
        let found = outcome.deadLetters.map {
            (
                line: ($0["origin"] as? [String: Any])?["line"] as? Int ?? 0, reason: $0["reason"] as? String ?? "",
                eventID: $0["event_id"] as? String
            )
        }
        #expect(found.map(\.line) == expected.map(\.line))
        #expect(found.map(\.reason) == expected.map(\.reason))
        #expect(found.map(\.eventID) == expected.map(\.eventID))
        for letter in outcome.deadLetters where letter["payload_encoding"] as? String == "utf8" {
            let line = lines[((letter["origin"] as? [String: Any])?["line"] as? Int ?? 0) - 1]
            let payload = letter["payload"] as? String ?? ""
            if letter["truncated"] as? Bool == true {
                #expect(payload.utf8.count == 65_536 && line.hasPrefix(payload), "the head of \(letter["origin"]!)")
                #expect(letter["size"] as? Int == line.utf8.count)
            } else {
                #expect(payload == line, "\(letter["origin"]!)")
            }
        }
        #expect(outcome.deadLetters.allSatisfy { ($0["detail"] as? String)?.isEmpty == false })
        #expect(outcome.decisions.map { $0["event_id"] as? String } == (0...13).map { "dl-ok-\($0)" })
    }

    /// The second replay runs in a process of its own (the `vigil` binary): per-process seeds (hashing,
    /// random numbers) must not reach the outputs.
    @Test(arguments: [
        "travel.jsonl", "push-bombing.jsonl", "reset-wave.jsonl", "credential-stuffing.jsonl", "roles.jsonl",
        "dead-letters.jsonl",
    ])
    func replayIsByteIdenticalAcrossProcesses(scenario: String) throws {
        let first = try Self.replay(scenario, anonymousDatabase: true)
        let input = TestPaths.scenarios.appendingPathComponent(scenario)
        let directory = try TestPaths.temporaryDirectory("second-\(scenario)")
        let config = try TestPaths.writeConfig(in: directory, anonymousDatabase: true)
        let out = directory.appendingPathComponent("out")
        // The in-process replay gets an empty environment: the child gets no device key either.
        let second = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", config.path, "--out", out.path, input.path],
            environment: ["VIGIL_DEVICE_HASH_KEY": nil])
        #expect(second.status == 0, "\(second.stderr)")
        for file in ["decisions.jsonl", "alerts.jsonl", "dead-letter.jsonl"] {
            let a = try Data(contentsOf: first.directory.appendingPathComponent(file))
            let b = try Data(contentsOf: out.appendingPathComponent(file))
            #expect(a == b, "\(file) differs between two replays of \(scenario)")
        }
    }

    @Test(arguments: [
        "travel.jsonl", "push-bombing.jsonl", "reset-wave.jsonl", "credential-stuffing.jsonl", "roles.jsonl",
    ])
    func outputsValidateAgainstTheirSchemas(scenario: String) throws {
        let outcome = try Self.replay(scenario, anonymousDatabase: scenario == "roles.jsonl")
        let decisions = outcome.directory.appendingPathComponent("decisions.jsonl").path
        let alerts = outcome.directory.appendingPathComponent("alerts.jsonl").path
        let schemas = TestPaths.packageRoot.appendingPathComponent("schemas")
        let validate = TestPaths.packageRoot.appendingPathComponent("scripts/validate-json.py").path
        let ocsf = TestPaths.packageRoot.appendingPathComponent("scripts/validate-ocsf.py").path
        let checks = [
            [validate, schemas.appendingPathComponent("decision.schema.json").path, decisions],
            [validate, schemas.appendingPathComponent("alert.schema.json").path, alerts],
            [ocsf, alerts],
        ]
        for arguments in checks {
            let result = try ChildProcess.run(tool: "python3", arguments)
            #expect(result.status == 0, "\(arguments.joined(separator: " ")):\n\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains(" 0 invalid"))
        }
    }

    @Test(arguments: ["push-bombing.jsonl", "reset-wave.jsonl", "credential-stuffing.jsonl", "travel.jsonl"])
    func ocsfSemanticsTheSchemaCannotCheck(scenario: String) throws {
        let outcome = try Self.replay(scenario)
        #expect(!outcome.alerts.isEmpty)
        for alert in outcome.alerts {
            #expect(alert["type_uid"] as? Int == (alert["class_uid"] as! Int) * 100 + (alert["activity_id"] as! Int))
            let info = alert["finding_info"] as! [String: Any]
            let time = alert["time"] as! Int
            // Epoch milliseconds of 2026, not seconds or microseconds.
            #expect(time > 1_767_225_600_000 && time < 1_798_761_600_000)
            #expect((info["first_seen_time"] as! Int) <= (info["last_seen_time"] as! Int))
            #expect((info["related_events"] as! [Any]).count == alert["count"] as? Int)
            let metadata = alert["metadata"] as! [String: Any]
            #expect((metadata["product"] as! [String: Any])["version"] as? String == VigilVersion.current)
        }
        // Same events again: same finding uids (SIEM deduplication).
        let again = try Self.replay(scenario)
        let uids = outcome.alerts.map { ($0["finding_info"] as! [String: Any])["uid"] as! String }
        let uidsAgain = again.alerts.map { ($0["finding_info"] as! [String: Any])["uid"] as! String }
        #expect(uids == uidsAgain)
        #expect(Set(uids).count == uids.count)
    }
}
