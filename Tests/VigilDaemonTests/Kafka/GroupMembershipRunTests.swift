import Foundation
import Testing
import VigilKafka
import VigilTestSupport

/// `vigil run` as a static group member against the mock cluster. librdkafka 2.0.2's mock reads
/// `group.instance.id` but ignores it (a restarted member joins as a new one and the old one stays until
/// its session times out), so what static membership saves on a real broker cannot be seen here; what
/// can: the id a daemon joins with, that it is the same after a crash, that decisions resume, and what
/// happens when the brokers say another instance took the id.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct GroupMembershipRunTests {
    /// The `consumer group membership` log line's fields, once logged.
    private static func membership(_ daemon: DaemonProcess) -> [String: Any]? {
        daemon.logged("consumer group membership")
    }

    private static func awaitDecisions(
        for lines: [String], fixture: KafkaFixture, running daemon: DaemonProcess
    ) async throws {
        let wanted = Set(
            lines.compactMap { line in
                line.firstRange(of: #""event_id":""#).map { String(line[$0.upperBound...].prefix { $0 != "\"" }) }
            })
        try await waitUntil("a decision for each of \(wanted.count) events", timeout: .seconds(120)) {
            try daemon.requireRunning()
            let decided = Set(try fixture.decisions().compactMap { $0.payload["event_id"] as? String })
            return decided.isSuperset(of: wanted)
        }
    }

    /// A daemon started on a new fixture once it decided `count` logins: joined, its partitions assigned.
    private static func deciding(
        _ name: String, count: Int
    ) async throws -> (fixture: KafkaFixture, daemon: DaemonProcess, joined: [String: Any]) {
        let fixture = try KafkaFixture(name: name)
        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let lines = EventLines.keyedLogins(prefix: name, count: count, users: 8)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        try await awaitDecisions(for: lines, fixture: fixture, running: daemon)
        return (fixture, daemon, try #require(membership(daemon)))
    }

    /// Killed with `SIGKILL` and started again with the same config, a daemon joins with the same derived
    /// `group.instance.id` (host name and state directory) and the session timeout it was given, gets the
    /// partitions back and decides the events produced while it was down.
    @Test func aKilledMemberRestartsWithItsIdAndResumes() async throws {
        let (fixture, first, joined) = try await Self.deciding("static-member", count: 40)
        let id = try #require(joined["group_instance_id"] as? String)
        let host = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(id.hasPrefix("\(host)-") && id.count == host.count + 9, "derived from the host name: \(id)")
        #expect(joined["session_timeout_ms"] as? String == "6000", "the fixture's kafka.properties win")
        try await blocking { try first.kill() }

        let during = EventLines.keyedLogins(prefix: "static-after-kill", count: 40, users: 8)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: during) }
        let second = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await Self.awaitDecisions(for: during, fixture: fixture, running: second)
        #expect(Self.membership(second)?["group_instance_id"] as? String == id, "the same id after the restart")
        second.signal(SIGTERM)
        #expect(try await second.waitForExit() == 0, "\(second.log)")
    }

    /// The brokers fence a member when another joins with its `group.instance.id`. The mock never does
    /// (it ignores the id), so it is told to answer a heartbeat with `FENCED_INSTANCE_ID`: the daemon
    /// stops with exit status 1 and says which id and which setting.
    @Test func aFencedMemberStopsWithAClearError() async throws {
        let (fixture, daemon, joined) = try await Self.deciding("static-fenced", count: 10)
        let id = try #require(joined["group_instance_id"] as? String)

        fixture.cluster.failNextRequests(.heartbeat, with: .fencedInstanceID)
        #expect(try await daemon.waitForExit(timeout: .seconds(60)) == 1, "\(daemon.log)")
        let stopped = try #require(
            daemon.log.split(separator: "\n").last { $0.contains("vigil stopped on a fatal error") }, "\(daemon.log)")
        #expect(stopped.contains("'\(id)'") && stopped.contains("kafka.group_instance_id"), "\(stopped)")
        #expect(stopped.contains("FENCED_INSTANCE_ID"), "\(stopped)")
    }
}
