import Foundation
import Testing
import VigilKafka
import VigilTestSupport

/// `vigil run` under broker outages: `/readyz` follows the brokers of each direction whether or not
/// events flow, nothing is lost or duplicated across an outage, and a shutdown during an outage ends
/// by its deadline with an exit status and a log that say what stays uncommitted. Every wait is on a
/// condition (generous limits: the machine is loaded); the broker's state is what the test changes.
@Suite(.serialized, .timeLimit(.minutes(4)))
struct KafkaHealthRunTests {
    /// `/readyz`'s status and reason.
    private static func readiness(_ fixture: KafkaFixture) throws -> (status: Int, reason: String) {
        let response = try LoopbackHTTP(port: fixture.metricsPort).get("/readyz")
        return (response.status, response.body)
    }

    /// Waits until `/readyz` answers `status` with a body containing `reason`; returns that body.
    @discardableResult
    private static func waitForReadiness(
        _ status: Int, reason: String = "", _ fixture: KafkaFixture, _ daemon: DaemonProcess,
        timeout: Duration = .seconds(60)
    ) async throws -> String {
        var last = (status: 0, reason: "")
        do {
            try await waitUntil("/readyz \(status) \(reason)", timeout: timeout) {
                try daemon.requireRunning()
                // Until the HTTP server listens, the connection is refused: not an answer yet.
                guard let answer = try? readiness(fixture) else { return false }
                last = answer
                return last.status == status && (reason.isEmpty || last.reason.contains(reason))
            }
        } catch {
            throw TestFailure("\(error); last /readyz: \(last.status) \(last.reason); daemon log:\n\(daemon.log)")
        }
        return last.reason
    }

    private static func eventID(_ line: String) -> String {
        String(line.split(separator: "\t")[1].split(separator: "\"")[3])
    }

    /// The sum of a metric's series on the daemon's `/metrics`.
    private static func metric(_ name: String, _ fixture: KafkaFixture) throws -> Double {
        MetricsText.sum(name, in: try LoopbackHTTP(port: fixture.metricsPort).get("/metrics").body) ?? 0
    }

    /// No event at all: readiness still goes to 503 when the broker goes down and back to 200 when it
    /// returns, from the clients' own view of their brokers.
    @Test func idleDaemonIsNotReadyDuringAnOutageAndReadyAfterIt() async throws {
        let fixture = try KafkaFixture(name: "health-idle")
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await Self.waitForReadiness(200, fixture, daemon)

        try fixture.cluster.setBrokerDown(id: 1)
        // Both clients lose the one broker, in either order; the input side's reason comes first once both know.
        _ = try await Self.waitForReadiness(503, reason: "input brokers unreachable", fixture, daemon)
        try await waitUntil("no broker up in the metrics", timeout: .seconds(60)) {
            try Self.metric("vigil_kafka_brokers_up", fixture) == 0
        }

        try fixture.cluster.setBrokerUp(id: 1)
        try await Self.waitForReadiness(200, fixture, daemon)
        try await waitUntil("both clients' brokers up in the metrics", timeout: .seconds(60)) {
            try Self.metric("vigil_kafka_brokers_up", fixture) >= 2
        }
        #expect(daemon.log.contains("input brokers reachable again"), "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
    }

    /// Two brokers: the inputs, the internal topics (repartition, changelog, global tables) and the group live
    /// on broker 1, the outputs on broker 2.
    /// Broker 2 goes down after one decision, before the other events arrive, so their outputs are still
    /// unacknowledged when broker 1 goes down as well: outputs are in flight at the outage by
    /// construction. Readiness names the output side while only it is down, the input side once
    /// both are, and is back once both return. Every event gets exactly one unmarked decision.
    @Test func outageWithOutputsInFlightLosesNothingAndReadinessNamesTheDirection() async throws {
        let fixture = try KafkaFixture(name: "health-outage", brokers: 2)
        for partition: Int32 in 0..<2 {
            for topic in [
                "auth.events", KafkaFixture.changelogTopic, "vigil-by-user", "vigil-by-source", "vigil-by-domain",
                "vigil-by-campaign",
            ] {
                try fixture.cluster.setPartitionLeader(topic: topic, partition: partition, broker: 1)
            }
            for topic in ["auth.decisions", "auth.alerts", "auth.events.dlq"] {
                try fixture.cluster.setPartitionLeader(topic: topic, partition: partition, broker: 2)
            }
        }
        try fixture.cluster.setPartitionLeader(topic: "vigil-source-risk", partition: 0, broker: 1)
        try fixture.cluster.setPartitionLeader(topic: "vigil-campaigns", partition: 0, broker: 1)
        try fixture.cluster.setGroupCoordinator(group: "vigil", broker: 1)
        let before = EventLines.keyedLogins(prefix: "outage-a", count: 2000, users: 100)
        let after = EventLines.keyedLogins(prefix: "outage-b", count: 100, users: 30)

        let warmUp = EventLines.keyedLogins(prefix: "outage-w", count: 1)
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await Self.waitForReadiness(200, fixture, daemon)
        // A first decision: the producer knows the output topic's leaders from then on.
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: warmUp) }
        try await waitUntil("the first decision", timeout: .seconds(60)) {
            try daemon.requireRunning()
            return try !fixture.decisions().isEmpty
        }
        // Output side down, input side up: the events are consumed and decided, never acknowledged.
        try fixture.cluster.setBrokerDown(id: 2)
        try await Self.waitForReadiness(503, reason: "output brokers unreachable", fixture, daemon)
        // Readiness is read while those events are consumed, too: traffic must not make it ready.
        async let produced: Void = blocking {
            try Kcat.produce(fixture.brokers, topic: "auth.events", lines: before)
        }
        var whileConsuming: [(status: Int, reason: String)] = []
        try await blocking {
            try waitUntil("every first event decided", timeout: .seconds(60), pause: .milliseconds(20)) {
                try daemon.requireRunning()
                let decided = try Self.metric("vigil_events_total", fixture) >= Double(warmUp.count + before.count)
                if !decided { whileConsuming.append(try Self.readiness(fixture)) }
                return decided
            }
        }
        try await produced
        #expect(whileConsuming.allSatisfy { $0.status == 503 }, "\(whileConsuming.filter { $0.status != 503 })")
        let outstanding = try Self.readiness(fixture)
        #expect(
            outstanding.status == 503 && outstanding.reason.contains("output brokers unreachable"), "\(outstanding)")

        // Now everything is down, with those outputs in flight. Events keep coming meanwhile: queued by
        // this producer until the brokers are back.
        try fixture.cluster.setBrokerDown(id: 1)
        try await Self.waitForReadiness(503, reason: "input brokers unreachable", fixture, daemon)
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(["bootstrap.servers": fixture.brokers]), logger: testLogger)
        for line in after {
            let parts = line.split(separator: "\t", maxSplits: 1).map(String.init)
            try producer.produce(topic: "auth.events", key: parts[0], value: Array(parts[1].utf8))
        }

        try fixture.cluster.setBrokerUp(id: 1)
        try fixture.cluster.setBrokerUp(id: 2)
        _ = try await blocking { () throws in producer.flush(timeout: .seconds(60)) }
        #expect(producer.pendingCount == 0)
        let expected = Set((warmUp + before + after).map(Self.eventID))
        var decisions: [Kcat.Record] = []
        try await waitUntil("a decision for every event", timeout: .seconds(120)) {
            try daemon.requireRunning()
            decisions = try fixture.decisions()
            return Set(decisions.compactMap { $0.payload["event_id"] as? String }).isSuperset(of: expected)
        }
        try await Self.waitForReadiness(200, fixture, daemon)
        // Nothing duplicated: one unmarked decision per event (a re-emission would say so).
        let unmarked = Dictionary(
            grouping: decisions.filter { $0.headers["vigil-reemitted"] == nil },
            by: { $0.payload["event_id"] as? String ?? "" })
        #expect(Set(unmarked.keys) == expected)
        let copied = unmarked.filter { $0.value.count != 1 }.keys.sorted()
        #expect(copied.isEmpty, "decided more than once: \(copied.prefix(10))")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
    }

    /// A daemon whose offsets only the final commit commits (`enable.auto.commit: false`), once every
    /// one of the `events` events produced before it started is done and its offset stored (each
    /// output acknowledged; no changelog, which would hold the offsets until its next flush);
    /// `properties` adds librdkafka's.
    private static func daemonWithoutAutoCommit(
        _ name: String, properties: [String: String] = [:]
    ) async throws -> (fixture: KafkaFixture, daemon: DaemonProcess, events: Int) {
        let fixture = try KafkaFixture(
            name: name, properties: properties.merging(["enable.auto.commit": "false"]) { $1 }, changelog: false)
        let lines = EventLines.keyedLogins(prefix: name, count: 40, users: 10)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await waitUntil("every event done", timeout: .seconds(60)) {
            try daemon.requireRunning()
            // Refused until the HTTP server listens.
            let done = try? Self.metric("vigil_processing_latency_seconds_count", fixture)
            return (done ?? 0) >= Double(lines.count)
        }
        return (fixture, daemon, lines.count)
    }

    /// Offsets are committed only by the final commit here (`enable.auto.commit: false`), so a
    /// shutdown during an outage cannot commit what was processed: the commit and the group leave
    /// wait on the coordinator until their share of the deadline, and the daemon still exits by it
    /// (`shutdown_timeout` 10 s plus a 5 s margin; asserted loosely, the machine is loaded), with
    /// status 3, naming each partition left uncommitted.
    @Test func shutdownDuringAnOutageEndsByTheDeadlineAndSaysWhatStaysUncommitted() async throws {
        // librdkafka's default session timeout: the group does not drop the member during the test, so
        // the commit and the group leave wait on the coordinator until their timeouts.
        let (fixture, daemon, _) = try await Self.daemonWithoutAutoCommit(
            "health-shutdown", properties: ["session.timeout.ms": "45000"])
        try fixture.cluster.setBrokerDown(id: 1)
        try await Self.waitForReadiness(503, reason: "brokers unreachable", fixture, daemon)

        let stoppedAt = ContinuousClock.now
        daemon.signal(SIGTERM)
        let status = try await daemon.waitForExit(timeout: .seconds(90))
        let took = ContinuousClock.now - stoppedAt
        #expect(status == 3, "\(daemon.log)")
        #expect(took < .seconds(30), "exited after \(took)")
        let uncommitted = daemon.log.split(separator: "\n").filter { $0.contains("partition left uncommitted") }
        #expect(!uncommitted.isEmpty, "\(daemon.log)")
        // Input partitions and the stages' repartition partitions alike.
        #expect(
            uncommitted.allSatisfy {
                ($0.contains("auth.events[") || $0.contains("vigil-by-")) && $0.contains("none committed")
            }, "\(uncommitted)")
        #expect(uncommitted.contains { $0.contains("auth.events[") }, "\(uncommitted)")
        #expect(daemon.log.contains("final commit failed"), "\(daemon.log)")
        #expect(daemon.log.contains("did not finish by the shutdown deadline"), "\(daemon.log)")
        // Every step kept to its timeout: the watchdog had nothing to do.
        #expect(!daemon.log.contains("exiting now"), "\(daemon.log)")
    }

    /// The same daemon without an outage: the final commit is the only one, it succeeds, the exit
    /// status is 0, and the group's committed offsets cover every event.
    @Test func cleanShutdownCommitsEverythingAndExitsZero() async throws {
        let (fixture, daemon, events) = try await Self.daemonWithoutAutoCommit("health-clean-stop")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
        #expect(!daemon.log.contains("partition left uncommitted"), "\(daemon.log)")
        #expect(!daemon.log.contains("did not finish by the shutdown deadline"), "\(daemon.log)")

        let partitions = (0..<2).map { KafkaTopicPartition(topic: "auth.events", partition: Int32($0)) }
        let committed = try await blocking {
            let consumer = try KafkaConsumer(
                configuration: KafkaConfiguration(["bootstrap.servers": fixture.brokers, "group.id": "vigil"]),
                logger: testLogger)
            return try consumer.committed(partitions, timeout: .seconds(20))
        }
        let total = partitions.reduce(Int64(0)) { $0 + ((committed[$1] ?? nil) ?? 0) }
        #expect(total == Int64(events), "\(committed)")
    }
}
