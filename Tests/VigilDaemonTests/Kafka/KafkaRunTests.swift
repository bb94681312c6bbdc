import Foundation
import Testing
import VigilKafka
import VigilTestSupport

/// `vigil run` end to end: the real binary against an in-process mock cluster, with kcat as the
/// independent producer and reader.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct KafkaRunTests {
    /// What `vigil replay` decides for the same input: the reference for the daemon's outputs.
    private static func replayReference(
        _ fixture: KafkaFixture, values: [String]
    ) throws -> (decisions: [String], deadLetters: Int) {
        let out = fixture.directory.appendingPathComponent("replay")
        let result = try ChildProcess.run(
            TestPaths.vigilBinary, ["replay", "--config", fixture.config.path, "--out", out.path, "-"],
            stdin: Data((values.joined(separator: "\n") + "\n").utf8))
        #expect(result.status == 0, "\(result.stderr)")
        let decisions = try readJSONLines(out.appendingPathComponent("decisions.jsonl")).map {
            $0["event_id"] as! String
        }
        let deadLetters = try readJSONLines(out.appendingPathComponent("dead-letter.jsonl")).count
        return (decisions, deadLetters)
    }

    private static func eventIDs(_ records: [Kcat.Record]) -> [String] {
        records.map { $0.payload["event_id"] as? String ?? "" }
    }

    @Test func mixedStreamGetsOneAnswerPerEventAndStopsCleanly() async throws {
        let fixture = try KafkaFixture(name: "kafka-mixed")
        let pushBombing = try String(
            contentsOf: TestPaths.scenarios.appendingPathComponent("push-bombing.jsonl"), encoding: .utf8
        )
        .split(separator: "\n").map { "carol\t\($0)" }
        let malformed = ["bad-1\t{not json", "bad-2\t[1, 2", "bad-3\t{\"type\": \"login\"}"]
        let lines = EventLines.keyedLogins(prefix: "mixed", count: 60) + malformed + pushBombing
        let reference = try await blocking {
            try Self.replayReference(fixture, values: lines.map { String($0.split(separator: "\t", maxSplits: 1)[1]) })
        }
        #expect(reference.deadLetters == malformed.count)

        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        var decisions: [Kcat.Record] = []
        var deadLetters: [Kcat.Record] = []
        var alerts: [Kcat.Record] = []
        defer {
            if decisions.count < reference.decisions.count || alerts.isEmpty {
                Issue.record(
                    "decisions \(decisions.count)/\(reference.decisions.count), dead letters \(deadLetters.count), alerts \(alerts.count); daemon log:\n\(daemon.log)"
                )
            }
        }
        try await waitUntil("every answer", timeout: .seconds(60)) {
            try daemon.requireRunning()
            decisions = try fixture.decisions()
            deadLetters = try fixture.deadLetters()
            alerts = try fixture.alerts()
            return decisions.count >= reference.decisions.count && deadLetters.count >= malformed.count
                && !alerts.isEmpty
        }
        #expect(Self.eventIDs(decisions).sorted() == reference.decisions.sorted())
        #expect(deadLetters.count == malformed.count)
        for record in deadLetters {
            #expect(record.headers["vigil-reason"]?.isEmpty == false)
            #expect(record.headers["vigil-source-topic"] == "auth.events")
            #expect(record.headers["vigil-source-offset"] != nil)
        }
        for record in decisions {
            #expect(record.headers["content-type"] == "application/json")
            #expect(record.headers["vigil-policy-version"] == record.payload["policy_version"] as? String)
            #expect(record.key == record.payload["user_id"] as? String)
        }
        #expect(
            alerts.contains {
                ($0.payload["finding_info"] as? [String: Any])?["analytic"].flatMap {
                    ($0 as? [String: Any])?["name"] as? String
                } == "push_bombing"
            })

        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
    }

    @Test func killedDaemonLosesNothingAndRepeatsOnlyIdenticalDecisions() async throws {
        let fixture = try KafkaFixture(name: "kafka-kill", partitions: 4)
        let first = EventLines.keyedLogins(prefix: "kill-a", count: 1500, users: 100)
        let second = EventLines.keyedLogins(prefix: "kill-b", count: 500, users: 100)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: first) }
        let victim = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await waitUntil("first decisions", timeout: .seconds(60)) {
            try victim.requireRunning()
            return try !fixture.decisions().isEmpty
        }
        victim.signal(SIGKILL)
        _ = try await victim.waitForExit()

        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: second) }
        let successor = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        var decisions: [Kcat.Record] = []
        let expected = Set((first + second).map { String($0.split(separator: "\t")[1].split(separator: "\"")[3]) })
        try await waitUntil("a decision for every event", timeout: .seconds(90)) {
            try successor.requireRunning()
            decisions = try fixture.decisions()
            return Set(Self.eventIDs(decisions)).isSuperset(of: expected)
        }
        let idsByEvent = Dictionary(grouping: decisions) { $0.payload["event_id"] as? String ?? "" }
            .mapValues { Set($0.map { $0.payload["decision_id"] as? String ?? "" }) }
        #expect(idsByEvent.values.allSatisfy { $0.count == 1 }, "a repeated event got a different decision_id")
        // Copies not marked re-emitted are the first one; a marked copy says so in header and payload.
        for (event, copies) in Dictionary(grouping: decisions, by: { $0.payload["event_id"] as? String ?? "" }) {
            let marked = copies.filter { $0.headers["vigil-reemitted"] != nil }
            #expect(
                marked.allSatisfy {
                    $0.headers["vigil-reemitted"] == "true" && $0.payload["reemitted"] as? Bool == true
                })
            let unmarked = copies.filter { $0.headers["vigil-reemitted"] == nil }.map {
                NSDictionary(dictionary: $0.payload)
            }
            #expect(!unmarked.isEmpty && unmarked.allSatisfy { $0 == unmarked[0] }, "\(event): \(unmarked)")
            #expect(unmarked.allSatisfy { $0["reemitted"] == nil })
        }
        successor.signal(SIGTERM)
        #expect(try await successor.waitForExit() == 0, "\(successor.log)")
    }

    /// A keyed login of `user` at `time` (`HH:MM` on 2026-03-02) from `ip`, always from the same device.
    private static func login(_ user: String, _ time: String, _ ip: String = "216.160.83.58") -> String {
        "\(user)\t"
            + EventLines.login(
                id: "\(user)-\(time)", time: "2026-03-02T\(time):00.000Z", user: user, ip: ip, tenant: "acme",
                device: "\(user)-laptop")
    }

    /// Five logins of each of `users`, enough to learn their baselines, hour by hour: a partition's
    /// event time must not run ahead of a user's first logins (late events teach no baseline).
    private static func learningLogins(_ users: [String]) -> [String] {
        (10...14).flatMap { hour in users.map { login($0, "\(hour):00") } }
    }

    /// Runs `vigil run` until each of `users` has five logins decided (enough to learn a baseline),
    /// then stops it with `SIGTERM`: the daemon that ran, for its log.
    @discardableResult
    private static func learn(_ users: [String], _ fixture: KafkaFixture) async throws -> DaemonProcess {
        let learning = learningLogins(users)
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: learning) }
        try await waitUntil("the learning logins' decisions", timeout: .seconds(60)) {
            try daemon.requireRunning()
            return try fixture.decisions().count >= learning.count
        }
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
        return daemon
    }

    /// The signals of a decision's risk reasons.
    private static func signals(_ decision: [String: Any]?) -> [String] {
        let risk = decision?["risk"] as? [String: Any]
        return (risk?["reasons"] as? [[String: Any]] ?? []).compactMap { $0["signal"] as? String }
    }

    /// The learned baselines survive a graceful restart: after `SIGTERM` the next instance restores
    /// the users' state from the changelog (and the snapshot written at shutdown), so an ordinary login
    /// is allowed instead of being scored as a first login, and an impossible-travel pair spanning the
    /// restart raises its alert.
    @Test func learnedUsersAreStillKnownAfterARestart() async throws {
        let fixture = try KafkaFixture(name: "kafka-restart")
        try await Self.learn(["homebody", "traveller"], fixture)

        // London twenty minutes after the last login near Seattle (what `vigil replay` of the whole
        // stream flags as impossible travel).
        let afterRestart = [Self.login("homebody", "15:00"), Self.login("traveller", "14:20", "81.2.69.142")]
        let second = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: afterRestart) }
        var decisions: [String: [String: Any]] = [:]
        var travelAlerts: [Kcat.Record] = []
        try await waitUntil("the decisions and the alert after the restart", timeout: .seconds(60)) {
            try second.requireRunning()
            for record in try fixture.decisions() {
                if let id = record.payload["event_id"] as? String { decisions[id] = record.payload }
            }
            travelAlerts = try fixture.alerts().filter {
                (($0.payload["finding_info"] as? [String: Any])?["analytic"] as? [String: Any])?["name"] as? String
                    == "impossible_travel"
            }
            return decisions["homebody-15:00"] != nil && decisions["traveller-14:20"] != nil && !travelAlerts.isEmpty
        }
        #expect(decisions["homebody-15:00"]?["action"] as? String == "allow", "\(second.log)")
        #expect(!Self.signals(decisions["homebody-15:00"]).contains("first_login"))
        #expect(Self.signals(decisions["traveller-14:20"]).contains("impossible_travel"))
        #expect(!Self.signals(decisions["traveller-14:20"]).contains("first_login"))
        #expect(travelAlerts.count == 1)
        #expect(second.log.contains("partition state restored"), "\(second.log)")
        second.signal(SIGTERM)
        #expect(try await second.waitForExit() == 0, "\(second.log)")
    }

    /// A second instance joins the group and decides for the users of the partitions it takes over
    /// with their restored baselines; once the first is killed the second owns everything, the other
    /// partition restored. The partition that stays is never read again: with the eager protocol
    /// (`range`, the default) every partition is revoked and the one handed back is kept in memory;
    /// with the cooperative one it is not revoked at all.
    @Test(arguments: ["range", "cooperative-sticky"])
    func partitionsMovingBetweenInstancesKeepTheirState(strategy: String) async throws {
        let fixture = try KafkaFixture(
            name: "kafka-move-\(strategy)", properties: ["partition.assignment.strategy": strategy])
        let eager = strategy == "range"
        let users = (0..<8).map { "mover-\($0)" }
        let first = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let learning = Self.learningLogins(users)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: learning) }
        try await waitUntil("the learning logins' decisions", timeout: .seconds(60)) {
            try first.requireRunning()
            return try fixture.decisions().count >= learning.count
        }

        let instance = try fixture.secondInstance("kafka-move-second-\(strategy)")
        let second = try DaemonProcess(config: instance.config, directory: instance.directory)
        try await waitUntil("the second instance restoring its partitions", timeout: .seconds(60)) {
            try second.requireRunning()
            return second.log.contains("partition state restored")
        }
        /// Every user's login at `time` is decided `allow`, without `first_login`.
        func expectKnown(at time: String, _ running: DaemonProcess) async throws {
            try await blocking {
                try Kcat.produce(fixture.brokers, topic: "auth.events", lines: users.map { Self.login($0, time) })
            }
            var decisions: [[String: Any]] = []
            try await waitUntil("the decisions at \(time)", timeout: .seconds(90)) {
                try running.requireRunning()
                decisions = try fixture.decisions().map(\.payload).filter {
                    ($0["event_id"] as? String)?.hasSuffix("-\(time)") == true
                }
                return Set(decisions.compactMap { $0["event_id"] as? String }).count == users.count
            }
            for decision in decisions {
                #expect(decision["action"] as? String == "allow", "\(decision)")
                #expect(!Self.signals(decision).contains("first_login"), "\(decision)")
            }
        }
        try await expectKnown(at: "15:00", second)
        // Its two restores at the start, and no other.
        #expect(first.log.contains("kept partition state across the rebalance") == eager, "\(first.log)")
        #expect(first.log.components(separatedBy: "partition state restored").count - 1 == 2, "\(first.log)")
        first.signal(SIGKILL)
        _ = try await first.waitForExit()
        try await expectKnown(at: "16:00", second)
        #expect(second.log.contains("kept partition state across the rebalance") == eager, "\(second.log)")
        second.signal(SIGTERM)
        #expect(try await second.waitForExit() == 0, "\(second.log)")
    }

    /// A graceful stop writes a local snapshot per partition; a damaged one is discarded with a warning
    /// at the next start, and the state comes back from the changelog alone.
    @Test func aDamagedSnapshotIsDiscardedAndTheChangelogRestoresTheState() async throws {
        let fixture = try KafkaFixture(name: "kafka-snapshot")
        let first = try await Self.learn(["snapshotted"], fixture)
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: fixture.stateDirectory.path)
            .filter { $0.hasSuffix(".snapshot") }
        #expect(!snapshots.isEmpty, "\(first.log)")
        for name in snapshots {
            let url = fixture.stateDirectory.appendingPathComponent(name)
            var bytes = [UInt8](try Data(contentsOf: url))
            bytes[bytes.count / 2] ^= 0xFF
            try Data(bytes).write(to: url)
        }

        let second = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "auth.events", lines: [Self.login("snapshotted", "15:00")])
        }
        var decision: [String: Any]?
        try await waitUntil("the decision after the restart", timeout: .seconds(60)) {
            try second.requireRunning()
            decision = try fixture.decisions().first { $0.payload["event_id"] as? String == "snapshotted-15:00" }?
                .payload
            return decision != nil
        }
        #expect(decision?["action"] as? String == "allow", "\(second.log)")
        #expect(!Self.signals(decision).contains("first_login"))
        #expect(second.log.contains("local snapshot discarded"), "\(second.log)")
        second.signal(SIGTERM)
        #expect(try await second.waitForExit() == 0, "\(second.log)")
    }

    /// A producer queue of 5 messages cannot hold one batch's outputs: the daemon pauses consumption
    /// until deliveries make room, instead of failing, and answers every event.
    @Test func fullProducerQueueAppliesBackpressure() async throws {
        let fixture = try KafkaFixture(name: "kafka-backpressure", properties: ["queue.buffering.max.messages": "5"])
        let lines = EventLines.keyedLogins(prefix: "narrow", count: 400, users: 40)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let expected = Set(lines.map { String($0.split(separator: "\t")[1].split(separator: "\"")[3]) })
        try await waitUntil("a decision for every event", timeout: .seconds(120)) {
            try daemon.requireRunning()
            return Set(Self.eventIDs(try fixture.decisions())).isSuperset(of: expected)
        }
        let metrics = try await blocking { try LoopbackHTTP(port: fixture.metricsPort).get("/metrics").body }
        let episodes =
            metrics.split(separator: "\n").first { $0.hasPrefix("vigil_producer_backpressure_total ") }
            .flatMap { Int($0.split(separator: " ")[1]) } ?? 0
        #expect(episodes > 0, "\(metrics)")
        #expect(daemon.log.contains("pausing consumption"))
        // Only librdkafka's own consumer and producer properties reach each client.
        #expect(!daemon.log.contains("will be ignored"), "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
    }

    @Test func missingDeviceKeyIsAFatalStartupError() async throws {
        let fixture = try KafkaFixture(name: "kafka-nokey")
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory, deviceKey: nil)
        #expect(try await daemon.waitForExit(timeout: .seconds(20)) != 0)
        #expect(daemon.log.contains("VIGIL_DEVICE_HASH_KEY"))
    }

    @Test func demoRunsEndToEndAndSummarises() async throws {
        let directory = try TestPaths.temporaryDirectory("demo")
        let config = try TestPaths.writeConfig(
            in: directory, anonymousDatabase: false, extra: "http:\n  listen: \"127.0.0.1:\(try freeLoopbackPort())\"")
        let result = try await blocking {
            try ChildProcess.run(
                TestPaths.vigilBinary, ["demo", "--config", config.path, "--users", "50", "--events", "800"],
                timeout: .seconds(90))
        }
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("events produced: 800"))
        #expect(result.stdout.contains("DECISION "))
        #expect(!result.stdout.contains("timed out"), "\(result.stdout.suffix(500))")
    }

    @Test func demoStopsPromptlyOnControlC() async throws {
        let directory = try TestPaths.temporaryDirectory("demo-stop")
        let config = try TestPaths.writeConfig(
            in: directory, anonymousDatabase: false, extra: "http:\n  listen: \"127.0.0.1:\(try freeLoopbackPort())\"")
        let demo = try DaemonProcess(
            "demo", config: config, directory: directory, arguments: ["--users", "500", "--events", "100000"],
            deviceKey: nil)
        try await waitUntil("the demo's first outputs", timeout: .seconds(90)) { demo.output.contains("DECISION ") }
        demo.signal(SIGINT)
        // The demo's own timeout is 60 s: a stop well inside it proves Ctrl-C ended the demo.
        try await waitUntil("the demo to exit after SIGINT", timeout: .seconds(40)) { !demo.isRunning }
        let text = demo.output
        #expect(text.contains("stopped before every event was answered"), "\(text.suffix(500))")
    }

    @Test func sighupAppliesANewPolicyAndKeepsRunningOnABadOne() async throws {
        let fixture = try KafkaFixture(name: "kafka-reload")
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let batchA = EventLines.keyedLogins(prefix: "reload-a", count: 10)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: batchA) }
        var decisions: [Kcat.Record] = []
        try await waitUntil("first decisions", timeout: .seconds(60)) {
            try daemon.requireRunning()
            decisions = try fixture.decisions()
            return decisions.count >= 10
        }
        let oldVersion = try #require(decisions.first?.payload["policy_version"] as? String)

        try fixture.writeConfig(extra: "policy:\n  medium_from: 35")
        daemon.signal(SIGHUP)
        try await waitUntil("the new config in force", timeout: .seconds(20)) {
            daemon.log.contains("new configuration in force")
        }
        let batchB = EventLines.keyedLogins(prefix: "reload-b", count: 10)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: batchB) }
        try await waitUntil("later decisions", timeout: .seconds(30)) {
            decisions = try fixture.decisions()
            return decisions.count >= 20
        }
        let later = decisions.filter { ($0.payload["event_id"] as? String)?.hasPrefix("reload-b") == true }
        #expect(later.count == 10)
        #expect(later.allSatisfy { ($0.payload["policy_version"] as? String).map { $0 != oldVersion } == true })

        try "policy:\n  medium_from: 500\n".write(to: fixture.config, atomically: true, encoding: .utf8)
        daemon.signal(SIGHUP)
        try await waitUntil("the failed reload in metrics", timeout: .seconds(20)) {
            let body = try LoopbackHTTP(port: fixture.metricsPort).get("/metrics").body
            return body.contains("vigil_config_reloads_total{result=\"failed\"} 1")
        }
        #expect(daemon.isRunning)
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
    }
}
