import Foundation
import Testing
import VigilCore
import VigilTestSupport
import VigilWorkload

@testable import VigilDaemon

/// Three `vigil run` instances in one group on a 16-partition input: one is killed with `SIGKILL`
/// mid-stream, and the other two take its partitions over (input, repartition topics and state) and
/// lose nothing. Against `vigil replay` of the same lines: every decision and alert is there; every
/// decision not marked `vigil-reemitted` is the replay's, field for field (the survivors decide the
/// dead instance's users with their restored baselines, and the input the dead one had processed
/// without committing changes no state twice); cross-user alerts, which gather events of users on many
/// input partitions, are compared by kind and subject (`StagedTopologyRunTests` says why).
@Suite(.serialized, .timeLimit(.minutes(8)))
struct InstanceFailoverRunTests {
    /// About 3,000 events of 200 users keyed by user, with attacks of each kind.
    static let lines = StagedTopologyRunTests.campaignTraffic(seed: 23, users: 200, events: 3_000, meanGap: 1_000_000)
        .map { "\($0.key)\t\($0.value)" }

    /// A decision's event, action and reasons, beside the replay's.
    static func describe(_ decision: [String: Any], _ replayed: [String: [String: Any]]) -> String {
        func summary(_ decision: [String: Any]?) -> String {
            guard let decision else { return "none" }
            let risk = decision["risk"] as? [String: Any]
            let reasons = (risk?["reasons"] as? [[String: Any]] ?? []).map { "\($0["signal"] ?? "")" }
            return "\(decision["action"] ?? "") \(reasons)"
        }
        let id = decision["decision_id"] as? String ?? ""
        return
            "\(decision["event_id"] ?? "") of \(decision["user_id"] ?? ""): \(summary(decision)), replay: \(summary(replayed[id]))"
    }

    @Test func killingOneOfThreeInstancesMidStreamLosesNothing() async throws {
        let fixture = try KafkaFixture(
            name: "failover", partitions: 16, outputPartitions: 4, extra: KafkaFixture.exactVerdicts)
        let reference = try await blocking {
            try ReplayReference(lines: Self.lines, config: fixture.config, directory: fixture.directory)
        }
        #expect(reference.status == 0, "\(reference.stderr)")
        let others = try ["failover-b", "failover-c"].map { try fixture.secondInstance($0) }
        let instances =
            try [DaemonProcess(config: fixture.config, directory: fixture.directory)]
            + others.map { try DaemonProcess(config: $0.config, directory: $0.directory) }
        try await waitUntil("each instance owning partitions", timeout: .seconds(90)) {
            for instance in instances { try instance.requireRunning() }
            return instances.allSatisfy { $0.log.contains("partition state restored") }
        }

        let half = Self.lines.count / 2
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "auth.events", lines: Array(Self.lines[..<half]))
        }
        try await waitUntil("a third of the decisions", timeout: .seconds(120)) {
            try fixture.decisions().count >= reference.decisions.count / 3
        }
        let survivors = [instances[0], instances[2]]
        let restores = { survivors.map { $0.log.components(separatedBy: "partition state restored").count - 1 } }
        let restoresBefore = restores().reduce(0, +)
        let victim = instances[1]
        victim.signal(SIGKILL)
        _ = try await victim.waitForExit()
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "auth.events", lines: Array(Self.lines[half...]))
        }

        let decisionIDs = Set(reference.decisions.compactMap { $0["decision_id"] as? String })
        let alertSubjects = Set(reference.alerts.map(StagedTopologyRunTests.kindAndSubject))
        var decisions: [Kcat.Record] = []
        var alerts: [Kcat.Record] = []
        try await waitUntil("every decision and alert of the replay", timeout: .seconds(240)) {
            for survivor in survivors { try survivor.requireRunning() }
            decisions = try fixture.decisions()
            alerts = try fixture.alerts()
            return Set(decisions.compactMap { $0.payload["decision_id"] as? String }).isSuperset(of: decisionIDs)
                && Set(alerts.map { StagedTopologyRunTests.kindAndSubject($0.payload) }).isSuperset(of: alertSubjects)
        }
        for survivor in survivors { #expect(try survivor.stop() == 0, "\(survivor.log)") }
        // The dead instance's stage partitions were restored by the survivors.
        #expect(restores().reduce(0, +) > restoresBefore, "\(survivors.map(\.log))")

        let unmarked = decisions.filter { $0.headers["vigil-reemitted"] == nil }.map(\.payload)
        let replayed = Dictionary(
            reference.decisions.map { ($0["decision_id"] as? String ?? "", $0) },
            uniquingKeysWith: { first, _ in first })
        let differing = unmarked.filter { decision in
            replayed[decision["decision_id"] as? String ?? ""].map {
                ReplayReference.canonical($0) != ReplayReference.canonical(decision)
            } ?? true
        }
        #expect(
            differing.isEmpty,
            "\(differing.count) unmarked decisions differ from the replay's, e.g. \(differing.prefix(2).map { Self.describe($0, replayed) })"
        )
        #expect(Set(decisions.compactMap { $0.payload["decision_id"] as? String }) == decisionIDs)
        #expect(Set(alerts.map { StagedTopologyRunTests.kindAndSubject($0.payload) }) == alertSubjects)
        let perUser = { (alerts: [[String: Any]]) in
            Set(
                alerts.filter { !StagedTopologyRunTests.crossUserKinds.contains(StagedTopologyRunTests.kind($0)) }
                    .map(ReplayReference.canonical))
        }
        let unmarkedAlerts = alerts.filter { $0.headers["vigil-reemitted"] == nil }.map(\.payload)
        #expect(perUser(unmarkedAlerts) == perUser(reference.alerts))
    }
}
