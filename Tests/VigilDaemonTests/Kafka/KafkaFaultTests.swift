import Foundation
import Testing
import VigilKafka
import VigilTestSupport

/// `vigil run` when Kafka refuses it for good: the real binary against a mock cluster told to fail
/// requests. The daemon gives up with exit status 1 and a log that says why, and marks nothing it did not
/// deliver as done, so a successor consumes it again.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct KafkaFaultTests {
    /// A Kafka protocol error a broker answers a request whose messages it will never take: permanent, so
    /// librdkafka fails them at once instead of retrying them itself (and, unlike an authorization error,
    /// it does not make every later produce call to the topic fail).
    static let messageSizeTooLarge = KafkaErrorCode(rawValue: 10)
    /// What a broker answers a producer that may not use idempotence: a fatal error of the producer.
    static let clusterAuthorizationFailed = KafkaErrorCode(rawValue: 31)

    /// Every output delivery fails: each is produced three times (`maxDeliveryAttempts`), then the daemon
    /// stops with exit status 1 naming the topic and the attempts, having stored no offset. Once the
    /// broker accepts writes again, the next daemon in the group decides every one of the events. (The
    /// input is keyed by user, so the user stage runs on the input partitions and its decisions are the
    /// first records produced.)
    @Test func outputsThatCannotBeDeliveredStopTheDaemonWithNothingMarkedDone() async throws {
        let fixture = try KafkaFixture(
            name: "fault-delivery", extra: "input:\n  keyed_by_user: true", changelog: false)
        let lines = EventLines.keyedLogins(prefix: "undeliverable", count: 6, users: 3)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        // Far more failures than three attempts of every output need, however librdkafka batches them.
        fixture.cluster.failNextRequests(.produce, with: Self.messageSizeTooLarge, count: 200)
        let doomed = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        #expect(try await doomed.waitForExit(timeout: .seconds(90)) == 1, "\(doomed.log)")
        #expect(doomed.log.contains("output delivery to auth.decisions failed; producing it again"), "\(doomed.log)")
        #expect(doomed.log.contains("delivery to auth.decisions failed 3 times"), "\(doomed.log)")
        #expect(doomed.log.contains("MSG_SIZE_TOO_LARGE"), "\(doomed.log)")
        #expect(try await blocking { try fixture.decisions() }.isEmpty)

        fixture.cluster.clearRequestFailures(.produce)
        try await Self.expectTheSuccessorDecidesEachEventOnce(lines, fixture)
    }

    /// A stage record whose delivery fails is not produced again (behind the records produced since, it
    /// would reorder its partition): the daemon stops with exit status 1 naming the repartition topic,
    /// having stored no offset, and the next daemon decides every event once.
    @Test func aStageRecordThatCannotBeDeliveredStopsTheDaemon() async throws {
        let fixture = try KafkaFixture(name: "fault-stage-record", changelog: false)
        let lines = EventLines.keyedLogins(prefix: "unrouted", count: 6, users: 3)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        fixture.cluster.failNextRequests(.produce, with: Self.messageSizeTooLarge, count: 200)
        let doomed = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        #expect(try await doomed.waitForExit(timeout: .seconds(90)) == 1, "\(doomed.log)")
        #expect(doomed.log.contains("delivery of a stage record to vigil-by-user failed"), "\(doomed.log)")
        #expect(!doomed.log.contains("producing it again"), "\(doomed.log)")
        #expect(try await blocking { try fixture.decisions() }.isEmpty)

        fixture.cluster.clearRequestFailures(.produce)
        try await Self.expectTheSuccessorDecidesEachEventOnce(lines, fixture)
    }

    /// Once the broker takes writes again, a new daemon in the group decides each of `lines` exactly once:
    /// the failed one stored no offset and produced no decision.
    static func expectTheSuccessorDecidesEachEventOnce(_ lines: [String], _ fixture: KafkaFixture) async throws {
        let successor = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let expected = Set(lines.map(DurableStateRunTests.eventID))
        var decided: [String] = []
        try await waitUntil("a decision for every event", timeout: .seconds(60)) {
            try successor.requireRunning()
            decided = try fixture.decisions().compactMap { $0.payload["event_id"] as? String }
            return Set(decided).isSuperset(of: expected)
        }
        #expect(decided.sorted() == expected.sorted(), "each event decided once by the successor")
        #expect(try successor.stop() == 0, "\(successor.log)")
    }

    /// A fatal error of a Kafka client (here the idempotent producer refused its producer id) ends the
    /// daemon with exit status 1 and the error in its critical log line, so a supervisor restarts it.
    @Test func aFatalKafkaErrorExitsWithStatusOne() async throws {
        let fixture = try KafkaFixture(name: "fault-fatal", properties: ["enable.idempotence": "true"])
        try await blocking {
            try Kcat.produce(
                fixture.brokers, topic: "auth.events", lines: EventLines.keyedLogins(prefix: "fatal", count: 4))
        }
        // The changelog's admin client may ask for a producer id first (it shares the properties): one
        // refusal each, and a spare.
        fixture.cluster.failNextRequests(.initProducerID, with: Self.clusterAuthorizationFailed, count: 3)
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        #expect(try await daemon.waitForExit(timeout: .seconds(60)) == 1, "\(daemon.log)")
        let stopped = daemon.log.split(separator: "\n").first { $0.contains("vigil stopped on a fatal error") }
        #expect(stopped?.contains("fatal Kafka error CLUSTER_AUTHORIZATION_FAILED") == true, "\(daemon.log)")
        #expect(try await blocking { try fixture.decisions() }.isEmpty)
    }
}
