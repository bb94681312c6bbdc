import Foundation
import Testing
import VigilKafka
import VigilTestSupport

/// Promises of `vigil run` an operator relies on, each end to end: the real binary against an
/// in-process mock cluster, kcat producing the input and reading the outputs, `/metrics` scraped.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct KafkaDaemonBehaviourTests {
    // MARK: SIGTERM

    /// `SIGTERM` drains the outputs, flushes the state, stores and commits every processed input: the next
    /// daemon of the group decides only the events that arrived since, repeats no decision and marks none
    /// re-emitted. Offsets are committed every 10 minutes and state flushed every 5 here, so only the
    /// shutdown can have committed what the successor skips.
    @Test func aDaemonStoppedWithSIGTERMLeavesNothingToProcessAgain() async throws {
        let fixture = try KafkaFixture(
            name: "sigterm-commit", properties: ["auto.commit.interval.ms": "600000"],
            stateSettings: ["flush_interval: 5m"])
        // One stream, in event-time order: the first 40 before the stop, the last 10 after it.
        let stream = EventLines.keyedLogins(prefix: "stop", count: 50, users: 8)
        let (before, after) = (Array(stream[..<40]), Array(stream[40...]))
        let first = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: before) }
        try await fixture.waitForDecisions(before.count, from: first, "the first daemon's decisions")
        #expect(try await blocking { try first.stop() } == 0, "\(first.log)")
        #expect(first.log.contains("stopping Kafka loop: draining outputs"), "\(first.log)")

        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: after) }
        let successor = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let awaited = Set(after.map(DurableStateRunTests.eventID))
        var decisions: [Kcat.Record] = []
        var processed: Double = 0
        try await waitUntil("the successor's decisions and its event count", timeout: .seconds(60)) {
            try successor.requireRunning()
            decisions = try fixture.decisions()
            processed = try DurableStateRunTests.metric("vigil_events_total", port: fixture.metricsPort) ?? 0
            let decided = Set(decisions.compactMap { $0.payload["event_id"] as? String })
            return decided.isSuperset(of: awaited) && processed >= Double(after.count)
        }
        // Each partition's earlier inputs come before its later ones: any input processed again was
        // counted by the time the last new one was.
        #expect(processed == Double(after.count), "the successor processed \(processed) events")
        let eventIDs = decisions.compactMap { $0.payload["event_id"] as? String }
        #expect(eventIDs.sorted() == stream.map(DurableStateRunTests.eventID).sorted())
        #expect(!decisions.contains(where: DurableStateRunTests.isMarked))
        #expect(try successor.stop() == 0, "\(successor.log)")
    }

    // MARK: Open files

    /// Started with a soft limit of 256 open files (many shells and service managers give 1,024, which
    /// Kafka clients on a large cluster pass), the daemon raises it to the hard limit before its clients
    /// connect, says from what, and decides.
    @Test func theOpenFileLimitIsRaisedToTheHardLimitAtStart() async throws {
        let fixture = try KafkaFixture(name: "open-files")
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory, softOpenFileLimit: 256)
        let lines = EventLines.keyedLogins(prefix: "files", count: 4)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        try await fixture.waitForDecisions(lines.count, from: daemon, "the decisions")
        var limits = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0)
        let hardLimit = min(UInt64(limits.rlim_max), 1 << 20)
        let raised = daemon.logged("open file limit raised")
        #expect(raised?["from"] as? String == "256", "\(daemon.log)")
        #expect(raised?["to"] as? String == "\(hardLimit)", "\(daemon.log)")
        #expect(daemon.softOpenFileLimit == hardLimit)
        #expect(try await blocking { try daemon.stop() } == 0, "\(daemon.log)")
    }

    // MARK: Geo databases

    /// A MaxMind database replaced under the running daemon (renamed over, as `geoipupdate` does) is
    /// picked up at the next check, and the next event is enriched from the new file: an address the
    /// first anonymous-IP database does not list scores `anonymous_ip` once the second, which lists it,
    /// is in place.
    @Test func aReplacedGeoDatabaseEnrichesTheNextEvent() async throws {
        let fixture = try KafkaFixture(name: "geo-swap")
        let databases = try TestPaths.temporaryDirectory("geo-swap-databases")
        let anonymous = databases.appendingPathComponent("anonymous.mmdb")
        try FileManager.default.copyItem(at: TestPaths.maxmind("GeoIP2-Anonymous-IP-Test.mmdb"), to: anonymous)
        // The fixture's config has no anonymous-IP database: point it at the copy, checked every second.
        let config = try String(contentsOf: fixture.config, encoding: .utf8)
        try config.replacingOccurrences(
            of: "anonymous_db: null", with: "anonymous_db: \(anonymous.path)\n  reload_check_interval: 1s"
        ).write(to: fixture.config, atomically: true, encoding: .utf8)

        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        // 55.0.0.4 is anonymous in GeoIP-Anonymous-Plus-Test only.
        let address = "55.0.0.4"
        let before = try await Self.decide(
            EventLines.login(id: "swap-before", time: "2026-03-02T10:00:00Z", user: "roamer", ip: address),
            key: "roamer", fixture: fixture, daemon: daemon)
        #expect(!DurableStateRunTests.signals(before).contains("anonymous_ip"), "\(before)")

        let staged = databases.appendingPathComponent("anonymous.mmdb.new")
        try FileManager.default.copyItem(at: TestPaths.maxmind("GeoIP-Anonymous-Plus-Test.mmdb"), to: staged)
        #expect(rename(staged.path, anonymous.path) == 0)
        try await waitUntil("the reload", timeout: .seconds(30)) {
            try daemon.requireRunning()
            return daemon.log.contains("geo database reloaded")
        }
        let after = try await Self.decide(
            EventLines.login(id: "swap-after", time: "2026-03-02T10:05:00Z", user: "roamer", ip: address),
            key: "roamer", fixture: fixture, daemon: daemon)
        #expect(DurableStateRunTests.signals(after).contains("anonymous_ip"), "\(after)")
        #expect(try daemon.stop() == 0, "\(daemon.log)")
    }

    /// Produces `line` keyed `key` and returns its decision.
    private static func decide(
        _ line: String, key: String, fixture: KafkaFixture, daemon: DaemonProcess
    ) async throws -> [String: Any] {
        let eventID = DurableStateRunTests.eventID(line)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: ["\(key)\t\(line)"]) }
        var decision: [String: Any]?
        try await waitUntil("the decision of \(eventID)", timeout: .seconds(60)) {
            try daemon.requireRunning()
            decision = try fixture.decisions().first { $0.payload["event_id"] as? String == eventID }?.payload
            return decision != nil
        }
        return decision ?? [:]
    }

    // MARK: Metrics

    /// `/metrics` of a daemon that processed known input counts exactly what `vigil replay` of the same
    /// input decides: events by type, decisions by action, alerts by kind, dead letters by reason.
    @Test func metricsCountWhatTheDaemonDecided() async throws {
        let fixture = try KafkaFixture(name: "metrics-counts", extra: KafkaFixture.exactVerdicts)
        let scenario = try String(
            contentsOf: TestPaths.scenarios.appendingPathComponent("push-bombing.jsonl"), encoding: .utf8
        )
        .split(separator: "\n").map { "carol\t\($0)" }
        let malformed = ["bad-1\t{not json", "bad-2\t[1, 2]", "bad-3\t{\"type\": \"login\"}", "bad-4\t{oops"]
        // Four answered logins of each of 20 users: the fourth is allowed (the baselines learned three).
        let normal = EventLines.answered(EventLines.keyedLogins(prefix: "counted", count: 80))
        let lines = normal + malformed + scenario
        let reference = try await blocking {
            try ReplayReference(lines: lines, config: fixture.config, directory: fixture.directory)
        }
        #expect(reference.status == 0, "\(reference.stderr)")
        let deadLetters = reference.deadLetters

        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        var metrics = ""
        try await waitUntil("every decision counted", timeout: .seconds(60)) {
            try daemon.requireRunning()
            guard try fixture.decisions().count >= reference.decisions.count else { return false }
            metrics = try LoopbackHTTP(port: fixture.metricsPort).get("/metrics").body
            return MetricsText.sum("vigil_decisions_total", in: metrics) ?? 0 >= Double(reference.decisions.count)
                && MetricsText.sum("vigil_dead_letters_total", in: metrics) ?? 0 >= Double(deadLetters.count)
                && MetricsText.sum("vigil_alerts_total", in: metrics) ?? 0 >= Double(reference.alerts.count)
        }
        /// Counts of `values` as the label sets of a series (`name="value"`), zeros left out.
        func counts(_ label: String, _ values: [String]) -> [String: Double] {
            values.reduce(into: [:]) { $0["\(label)=\"\($1)\"", default: 0] += 1 }
        }
        func exposed(_ name: String) -> [String: Double] {
            MetricsText.series(name, in: metrics).filter { $0.value != 0 }
        }
        #expect(
            exposed("vigil_decisions_total")
                == counts("action", reference.decisions.map { $0["action"] as? String ?? "" }))
        let accepted = (normal + scenario).map {
            let value = Data($0.split(separator: "\t", maxSplits: 1)[1].utf8)
            return (try? JSONSerialization.jsonObject(with: value) as? [String: Any])?["type"] as? String ?? ""
        }
        #expect(exposed("vigil_events_total") == counts("type", accepted))
        #expect(
            exposed("vigil_alerts_total")
                == counts("kind", reference.alerts.compactMap { Self.alertKind($0) }))
        #expect(
            exposed("vigil_dead_letters_total") == counts("reason", deadLetters.map { $0["reason"] as? String ?? "" }))
        #expect(exposed("vigil_decisions_total").count >= 2, "the input should have more than one action: \(metrics)")
        // The answered logins: each stepped-up one pending, then verified by its answer; the fourth learned at once.
        let baseline = exposed("vigil_baseline_logins_total")
        #expect(
            baseline["outcome=\"pending\""] ?? 0 >= 60 && baseline["outcome=\"verified\""] ?? 0 >= 60, "\(baseline)")
        #expect(baseline["outcome=\"learned\""] ?? 0 >= 20, "\(baseline)")
        #expect(try daemon.stop() == 0, "\(daemon.log)")
    }

    /// An alert's kind, as its analytic names it.
    private static func alertKind(_ alert: [String: Any]) -> String? {
        ((alert["finding_info"] as? [String: Any])?["analytic"] as? [String: Any])?["name"] as? String
    }

    // MARK: Backpressure

    /// Three batches' worth of events (a batch is at most 500) and a producer queue of 50: every batch
    /// fills the queue, consumption pauses, and it must resume once the queue is below half, or the later
    /// batches are never read. Every event is decided exactly once, and the backpressure ends.
    @Test func consumptionResumesAfterBackpressureAndLosesNothing() async throws {
        let fixture = try KafkaFixture(
            name: "backpressure-resume", properties: ["queue.buffering.max.messages": "50"], changelog: false)
        let lines = EventLines.keyedLogins(prefix: "resume", count: 1_500, users: 60)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let expected = lines.map(DurableStateRunTests.eventID).sorted()
        var decided: [String] = []
        try await waitUntil("a decision for every event", timeout: .seconds(120)) {
            try daemon.requireRunning()
            decided = try fixture.decisions().compactMap { $0.payload["event_id"] as? String }
            return decided.count >= expected.count
        }
        #expect(decided.sorted() == expected)
        #expect(daemon.log.contains("pausing consumption"), "\(daemon.log)")
        #expect(daemon.log.contains("producer queue has room again: consuming again"), "\(daemon.log)")
        try await waitUntil("the backpressure gauge back at 0", timeout: .seconds(30)) {
            let metrics = try LoopbackHTTP(port: fixture.metricsPort).get("/metrics").body
            return MetricsText.sum("vigil_producer_backpressure", in: metrics) == 0
                && MetricsText.sum("vigil_producer_backpressure_total", in: metrics) ?? 0 >= 1
        }
        #expect(try daemon.stop() == 0, "\(daemon.log)")
    }

    // MARK: Several input topics

    /// Two input topics (two IdPs of one tenant, say): events of both are decided, and a user's state is
    /// one whatever topic carries the event (the user stage reads every input topic's events, keyed by
    /// tenant and user id), in the running daemon and across a restart that restores it from the changelog.
    @Test func twoInputTopicsAreDecidedWithStateKeptPerTopic() async throws {
        let topics = ["auth.events", "auth.events.eu"]
        let fixture = try KafkaFixture(name: "two-topics", inputTopics: topics)
        /// A login of `user` on `topic` at `hour`:00, keyed by the user.
        func login(_ user: String, _ topic: String, _ hour: Int) -> (topic: String, line: String) {
            let line = EventLines.login(
                id: "\(topic)-\(user)-\(hour)", time: "2026-03-02T\(hour):00:00.000Z", user: user, ip: "216.160.83.58",
                tenant: "acme", device: "\(user)-laptop")
            return (topic, "\(user)\t\(line)")
        }
        func produce(_ logins: [(topic: String, line: String)]) async throws {
            for topic in topics {
                let lines = logins.filter { $0.topic == topic }.map(\.line)
                if !lines.isEmpty {
                    try await blocking { try Kcat.produce(fixture.brokers, topic: topic, lines: lines) }
                }
            }
        }
        func decisions(
            _ logins: [(topic: String, line: String)], _ daemon: DaemonProcess
        ) async throws
            -> [String: [String: Any]]
        {
            let wanted = Set(logins.map { DurableStateRunTests.eventID($0.line) })
            var found: [String: [String: Any]] = [:]
            try await waitUntil("the decisions of \(wanted.sorted())", timeout: .seconds(60)) {
                try daemon.requireRunning()
                for record in try fixture.decisions() {
                    if let id = record.payload["event_id"] as? String, wanted.contains(id) {
                        found[id] = record.payload
                    }
                }
                return found.count == wanted.count
            }
            return found
        }

        // "ana" and "cy" learn their baselines on the first topic, "bo" on the second.
        let learning = (10...14).flatMap {
            [login("ana", topics[0], $0), login("cy", topics[0], $0), login("bo", topics[1], $0)]
        }
        let first = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        // Each learning login passes its step-up (`EventLines.answered`), so the baselines learn them.
        try await produce(learning.flatMap { entry in EventLines.answered([entry.line]).map { (entry.topic, $0) } })
        let learned = try await decisions(learning, first)
        #expect(learned.count == learning.count)
        // In the running daemon already: "cy", learned on the first topic, is known on the second.
        let cyElsewhere = [login("cy", topics[1], 15)]
        try await produce(cyElsewhere)
        let cy = try await decisions(cyElsewhere, first).values.first ?? [:]
        #expect(cy["action"] as? String == "allow", "\(cy)")
        #expect(!DurableStateRunTests.signals(cy).contains("first_login"), "\(cy)")
        #expect(try first.stop() == 0, "\(first.log)")

        let next = [login("ana", topics[0], 15), login("ana", topics[1], 16), login("bo", topics[0], 16)]
        let second = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await produce(next)
        let decided = try await decisions(next, second)
        #expect(decided.count == next.count)
        for decision in decided.values {
            #expect(decision["action"] as? String == "allow", "\(decision)")
            #expect(!DurableStateRunTests.signals(decision).contains("first_login"), "\(decision)")
        }
        // A user never seen on either topic is new.
        let stranger = [login("dee", topics[1], 17)]
        try await produce(stranger)
        let dee = try await decisions(stranger, second).values.first ?? [:]
        #expect(DurableStateRunTests.signals(dee).contains("first_login"), "\(dee)")
        #expect(try second.stop() == 0, "\(second.log)")
    }
}
