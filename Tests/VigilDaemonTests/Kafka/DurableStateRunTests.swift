import Foundation
import Testing
import VigilKafka
import VigilTestSupport
import VigilWorkload

@testable import VigilCore

/// Durable state of `vigil run` end to end: the real binary against an in-process mock cluster, with kcat
/// as the independent producer and reader: crashes (`SIGKILL`) at several points against an uninterrupted
/// replay, a second instance joining and the first dying, and the documented ways state is refused. The
/// graceful restart and the damaged snapshot are `KafkaRunTests`'.
@Suite(.serialized, .timeLimit(.minutes(10)))
struct DurableStateRunTests {
    // MARK: Crashes

    /// Generated traffic (attacks included) from 300 users; every line keyed by its user.
    static let crashStream: [String] = {
        var configuration = WorkloadConfiguration()
        configuration.seed = 9
        configuration.users = 300
        configuration.attackRate = 0.02
        return TrafficGenerator(configuration: configuration, pool: .maxMindTestCity).prefix(crashStreamLength).map {
            "\($0.key ?? "")\t" + String(decoding: $0.bytes, as: UTF8.self)
        }
    }()

    /// Scaled down from the issue's 20,000: the mock broker keeps only about 5 MiB per partition and the
    /// input here is one partition (so that `vigil replay` of the same lines is the exact reference);
    /// 8,000 generated events are about 2.5 MB, and the test stays within a few minutes on two cores.
    static let crashStreamLength = 8_000

    /// Heavy (45 s on an idle machine, more under load). The stream is produced in four parts to a
    /// one-partition input; the daemon is killed with `SIGKILL` three times (as soon as it processes
    /// anything, right after its restore, and once it answered everything so far), restarted each time,
    /// and finally stopped. Against `vigil replay` of the same lines: every decision and alert id
    /// appears; every copy of a decision has the replay's id; the unmarked copies (every first copy is
    /// one) are exactly the replay's decisions and alerts, field for field (none excluded: an output
    /// carries only what the event and the state give); a marked copy (`vigil-reemitted`) says so in its
    /// payload too; the state figures at the end are the replay's.
    @Test func killsAtSeveralPointsEndInTheStateOfAnUninterruptedReplay() async throws {
        // Offsets committed every 5 s rather than every 0.5 s: the first two kills, within a second or
        // two of the daemon's first events, then surely come before a commit, so input is re-emitted;
        // flushes still come every second, so restarts restore state and guard the replayed input.
        let fixture = try KafkaFixture(
            name: "durable-kill", partitions: 1, outputPartitions: 8, extra: KafkaFixture.exactVerdicts,
            properties: ["auto.commit.interval.ms": "5000"])
        let lines = Self.crashStream
        let reference = try await blocking {
            try ReplayReference(lines: lines, config: fixture.config, directory: fixture.directory)
        }
        #expect(reference.status == 0, "\(reference.stderr)")
        #expect(!reference.alerts.isEmpty)

        let parts = [0, 2_500, 4_500, 6_000, lines.count]
        var daemon: DaemonProcess?
        for part in 0..<4 {
            try await blocking {
                try Kcat.produce(
                    fixture.brokers, topic: "auth.events", lines: Array(lines[parts[part]..<parts[part + 1]]))
            }
            let running = try DaemonProcess(config: fixture.config, directory: fixture.directory)
            daemon = running
            guard part < 3 else { break }
            switch part {
            case 0:
                try await waitUntil("the first events processed", timeout: .seconds(60)) {
                    try running.requireRunning()
                    // The metrics endpoint may not listen yet.
                    return ((try? Self.metric("vigil_events_total", port: fixture.metricsPort)) ?? nil ?? 0) > 0
                }
            case 1:
                try await waitUntil("the restore", timeout: .seconds(60)) {
                    try running.requireRunning()
                    return running.log.contains("partition state restored")
                }
            default:
                let decided = Set(reference.decisions.map { $0["event_id"] as! String })
                let answered = Set(lines[..<parts[part + 1]].map(Self.eventID)).intersection(decided)
                try await waitUntil("every event so far answered", timeout: .seconds(90)) {
                    try running.requireRunning()
                    return Set(try fixture.decisions().map { $0.payload["event_id"] as? String ?? "" })
                        .isSuperset(of: answered)
                }
            }
            try await blocking { try running.kill() }
        }
        let last = try #require(daemon)
        var decisions: [Kcat.Record] = []
        var alerts: [Kcat.Record] = []
        let decisionIDs = Set(reference.decisions.map { $0["decision_id"] as! String })
        let alertIDs = Set(reference.alerts.compactMap(Self.alertID))
        try await waitUntil("every decision and alert of the replay", timeout: .seconds(120)) {
            try last.requireRunning()
            decisions = try fixture.decisions()
            alerts = try fixture.alerts()
            return Set(decisions.compactMap { $0.payload["decision_id"] as? String }).isSuperset(of: decisionIDs)
                && Set(alerts.compactMap { Self.alertID($0.payload) }).isSuperset(of: alertIDs)
        }
        // The figures are published at most once a second: wait for them to reach the replay's.
        var figures: [Int?] = []
        try? await waitUntil("the state figures of the replay", timeout: .seconds(30)) {
            figures = try ["vigil_users_in_state", "vigil_sources_in_state", "vigil_email_domains_in_state"].map {
                try Self.metric($0, port: fixture.metricsPort).map { Int($0) }
            }
            return figures == reference.stateFigures.map(Optional.some)
        }
        #expect(figures == reference.stateFigures.map(Optional.some), "users, sources, domains")
        last.signal(SIGTERM)
        #expect(try await last.waitForExit() == 0, "\(last.log)")

        // Every copy has the replay's decision_id; the first copy of each (unmarked) is the replay's
        // decision, and so is every other unmarked copy; a marked copy says so in header and payload.
        let referenceIDs = Dictionary(
            uniqueKeysWithValues: reference.decisions.map { ($0["event_id"] as! String, $0["decision_id"] as! String) })
        #expect(Set(decisions.compactMap { $0.payload["event_id"] as? String }) == Set(referenceIDs.keys))
        let wrongIDs = decisions.filter {
            $0.payload["decision_id"] as? String != referenceIDs[$0.payload["event_id"] as? String ?? ""]
        }
        #expect(wrongIDs.isEmpty, "\(wrongIDs.count) copies have another decision_id than the replay's")
        let unmarked = decisions.filter { !Self.isMarked($0) }
        let expected = Set(reference.decisions.map(ReplayReference.canonical))
        let differing = unmarked.filter { !expected.contains(ReplayReference.canonical($0.payload)) }
        #expect(
            differing.isEmpty,
            "\(differing.count) unmarked decisions differ from the replay's, e.g. \(differing.first.map { "\($0.payload)" } ?? "")"
        )
        #expect(
            Set(unmarked.map { ReplayReference.canonical($0.payload) }) == expected, "an event has no unmarked copy")
        let marked = decisions.count - unmarked.count
        #expect(
            decisions.allSatisfy { Self.isMarked($0) == ($0.payload["reemitted"] as? Bool == true) },
            "the vigil-reemitted header and the payload's reemitted member disagree")
        // The kills land before commits, so the stream is consumed again: copies exist, marked or not.
        #expect(decisions.count > reference.decisions.count, "no decision was re-emitted: the kills tested nothing")
        // Alerts: the unmarked ones are exactly the replay's; a marked one may be new (scored against
        // state that already counted its event).
        let unmarkedAlerts = Set(alerts.filter { !Self.isMarked($0) }.map { ReplayReference.canonical($0.payload) })
        #expect(unmarkedAlerts == Set(reference.alerts.map(ReplayReference.canonical)), "\(marked) marked decisions")
    }

    /// Whether an output is marked as a re-emitted copy (`vigil-reemitted: true`).
    static func isMarked(_ record: Kcat.Record) -> Bool { record.headers["vigil-reemitted"] == "true" }

    // MARK: Two instances

    /// A second instance joins the group of a 4-partition input and takes partitions: it restores them
    /// and decides for the moved users with their baselines; then the first is killed and the second
    /// takes everything back, again with the baselines.
    @Test func aSecondInstanceTakesOverPartitionsWithTheirBaselines() async throws {
        let fixture = try KafkaFixture(name: "durable-group", partitions: 4)
        let users = (0..<24).map { "member-\($0)" }
        let learning = (0..<5).flatMap { round in users.map { Self.login("\($0)-learn-\(round)", $0, "09:0\(round)") } }
        let first = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "auth.events", lines: EventLines.answered(learning))
        }
        try await fixture.waitForDecisions(learning.count, from: first, "the learning logins' decisions")

        let home = try fixture.secondInstance("durable-group-second")
        let second = try DaemonProcess(config: home.config, directory: home.directory)
        try await waitUntil("the second instance's restored partitions", timeout: .seconds(60)) {
            try first.requireRunning()
            try second.requireRunning()
            return second.log.contains("partition state restored")
        }
        let joined = users.map { Self.login("\($0)-joined", $0, "09:30") }
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: joined) }
        let afterJoin = try await Self.decisions(for: joined, fixture: fixture, running: [first, second])
        Self.expectKnown(afterJoin)
        let decidedBySecond = try Self.metric("vigil_decisions_total", port: home.metricsPort) ?? 0
        #expect(decidedBySecond > 0, "the second instance decided for none of the moved users")

        try await blocking { try first.kill() }
        let rejoined = users.map { Self.login("\($0)-alone", $0, "09:45") }
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: rejoined) }
        let alone = try await Self.decisions(for: rejoined, fixture: fixture, running: [second])
        Self.expectKnown(alone)
        let decidedAlone = try Self.metric("vigil_decisions_total", port: home.metricsPort) ?? 0
        #expect(decidedAlone - decidedBySecond >= Double(users.count), "the second instance took everything back")
        second.signal(SIGTERM)
        #expect(try await second.waitForExit() == 0, "\(second.log)")
    }

    /// Waits for a decision for each of `lines` and returns one per event.
    private static func decisions(
        for lines: [String], fixture: KafkaFixture, running: [DaemonProcess]
    ) async throws -> [[String: Any]] {
        let wanted = Set(lines.map { Self.eventID($0) })
        var found: [String: [String: Any]] = [:]
        try await waitUntil("a decision for each event", timeout: .seconds(90)) {
            for daemon in running { try daemon.requireRunning() }
            for decision in try fixture.decisions().map(\.payload) {
                if let id = decision["event_id"] as? String, wanted.contains(id) { found[id] = decision }
            }
            return found.count == wanted.count
        }
        return Array(found.values)
    }

    /// Every decision is an ordinary `allow` of a known user: its baseline was there.
    private static func expectKnown(_ decisions: [[String: Any]]) {
        for decision in decisions {
            #expect(decision["action"] as? String == "allow", "\(decision)")
            #expect(!signals(decision).contains("first_login"), "\(decision)")
        }
    }

    // MARK: Refused state

    /// A `state.dir` that does not exist yet is created (parents included) and used.
    @Test func aMissingStateDirectoryIsCreated() async throws {
        let base = try TestPaths.temporaryDirectory("durable-missing-dir")
        let missing = base.appendingPathComponent("not/yet/there")
        let fixture = try KafkaFixture(name: "durable-missing", stateDirectory: missing)
        #expect(!FileManager.default.fileExists(atPath: missing.path))
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let lines = [Self.login("dave-0", "dave", "09:00")]
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        _ = try await Self.decisions(for: lines, fixture: fixture, running: [daemon])
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
        let files = try FileManager.default.contentsOfDirectory(atPath: missing.path)
        #expect(files.filter { $0.hasSuffix(".snapshot") }.count == 1, "\(files)")
        #expect(files.contains(".lock"), "\(files)")
    }

    /// A `state.dir` that cannot be created stops the start with a message naming the path.
    @Test func anUncreatableStateDirectoryStopsTheStart() async throws {
        let base = try TestPaths.temporaryDirectory("durable-bad-dir")
        let file = base.appendingPathComponent("a-file")
        try Data("not a directory".utf8).write(to: file)
        let fixture = try KafkaFixture(name: "durable-bad", stateDirectory: file.appendingPathComponent("state"))
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        #expect(try await daemon.waitForExit(timeout: .seconds(60)) == 1)
        #expect(daemon.log.contains("cannot use state directory \(file.path)/state"), "\(daemon.log)")
        #expect(daemon.log.contains("exists and is not a directory; set state.dir elsewhere"), "\(daemon.log)")
    }

    /// A changelog topic with another partition count than the input stops the start with a message
    /// naming the topic, both counts and the ways out.
    @Test func aChangelogWithTheWrongPartitionCountStopsTheStart() async throws {
        let fixture = try KafkaFixture(name: "durable-partitions", partitions: 2, changelogPartitions: 3)
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        #expect(try await daemon.waitForExit(timeout: .seconds(60)) == 1)
        #expect(
            daemon.log.contains(
                "changelog topic '\(KafkaFixture.changelogTopic)' has 3 partitions but the input topics have 2"),
            "\(daemon.log)")
        #expect(daemon.log.contains("set state.changelog_topic to a new name"), "\(daemon.log)")
    }

    /// A changelog record of an unknown format version (crafted here, produced with kcat from a file)
    /// stops the restore, and with it the daemon, with a message saying what to do; no decision is made
    /// on half-restored state.
    @Test func aChangelogRecordOfAnUnknownVersionStopsTheRestore() async throws {
        let fixture = try KafkaFixture(name: "durable-version", partitions: 1)
        var engine = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault)
        engine.recordsChanges = true
        let event = AuthEvent(
            eventID: "crafted", type: .login, time: Timestamp(seconds: 1_772_442_000), tenant: "acme",
            user: User(id: "erin"), ip: nil, device: nil, outcome: .success)
        _ = engine.process(event, intel: nil)
        // In the user stage's scope: its shard of the by-user topic restores it.
        let records = engine.takeChangelogFlush(stamp: 0, scope: ChangelogScope(inputTopic: "vigil-by-user"))
        // The first record after the flush begin is the user's entry; its first value byte is the version.
        var value = try #require(records[1].value)
        let unknown = StateEntryCodec.formatVersion + 1
        value[0] = unknown
        let (keySeparator, end) = ("#vigil-key#", "#vigil-end#")
        let file = fixture.directory.appendingPathComponent("crafted.bin")
        let message = records[1].key + Array(keySeparator.utf8) + value + Array(end.utf8)
        #expect(
            message.firstRange(of: Array(keySeparator.utf8)) == records[1].key
                .endIndex..<(records[1].key.count + keySeparator.utf8.count))
        try Data(message).write(to: file)
        _ = try await blocking {
            try Kcat.run([
                "-b", fixture.brokers, "-P", "-t", KafkaFixture.changelogTopic, "-p", "0", "-K", keySeparator, "-D",
                end,
                "-l", file.path,
            ])
        }

        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let lines = [Self.login("erin-next", "erin", "09:30")]
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        #expect(try await daemon.waitForExit(timeout: .seconds(60)) == 1)
        #expect(daemon.log.contains("restoring the state of vigil-by-user[0] failed"), "\(daemon.log)")
        #expect(
            daemon.log.contains(
                "a state changelog record has format version \(unknown), this Vigil reads versions 1 to \(unknown - 1)"),
            "\(daemon.log)")
        #expect(daemon.log.contains("delete the changelog topic to start with empty state"), "\(daemon.log)")
        #expect(try fixture.decisions().isEmpty, "a decision was made without the restored state")
    }

    // MARK: Helpers

    /// A `key<TAB>value` login of `user` from its laptop in London at `time` (HH:MM on 2026-03-02).
    static func login(_ id: String, _ user: String, _ time: String) -> String {
        "\(user)\t"
            + EventLines.login(
                id: id, time: "2026-03-02T\(time):00.000Z", user: user, ip: "81.2.69.142", tenant: "acme",
                device: "\(user)-laptop")
    }

    /// The `event_id` of a `key<TAB>value` line.
    static func eventID(_ line: String) -> String {
        let marker = #""event_id":""#
        guard let start = line.range(of: marker)?.upperBound else { return "" }
        return String(line[start...].prefix { $0 != "\"" })
    }

    static func signals(_ decision: [String: Any]) -> [String] {
        ((decision["risk"] as? [String: Any])?["reasons"] as? [[String: Any]] ?? []).compactMap {
            $0["signal"] as? String
        }
    }

    static func alertID(_ alert: [String: Any]) -> String? {
        (alert["finding_info"] as? [String: Any])?["uid"] as? String
    }

    static func metric(_ name: String, port: Int) throws -> Double? {
        MetricsText.sum(name, in: try LoopbackHTTP(port: port).get("/metrics").body)
    }
}
