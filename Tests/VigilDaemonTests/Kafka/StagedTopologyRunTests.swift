import Foundation
import Testing
import VigilCore
import VigilTestSupport
import VigilWorkload

@testable import VigilDaemon

/// `vigil run` gives `vigil replay`'s verdicts whatever the input's partition count and keying: generated
/// traffic with one campaign of each kind (push bombing, impossible travel, a reset wave, credential
/// stuffing), produced unkeyed or keyed by email domain (an IdP's organisation, not the user) to 1, 4 or
/// 16 input partitions, against `vigil replay` of the same lines. `source_ip_spraying` and `campaign_active`
/// are off (`KafkaFixture.exactVerdicts`): they are the signals that lag, by the global tables' delay.
///
/// What must match depends on what the keying keeps in order. A stage applies its records in its
/// partition's order; with one input partition, or keyed so that each user's events share one, every
/// decision and every per-user alert is the replay's, field for field. Cross-user alerts (credential
/// stuffing, reset abuse) gather events of many users, which reach their stage in the order the input
/// partitions are read side by side: which event crosses the threshold, and so the window the alert
/// names, may follow that order; they are compared by kind and subject. An unkeyed topic spreads one
/// user's events over partitions too: every decision is still made exactly once and each kind of alert
/// raised, and the cross-user alerts are the replay's by kind and subject, but a per-user alert that
/// needs two of a user's events in their order (a login after a reset: `takeover_after_reset`) follows
/// the order they arrived in (README, "The pipeline": order).
@Suite(.serialized, .timeLimit(.minutes(8)))
struct StagedTopologyRunTests {
    enum Keying: String { case none, emailDomain }

    /// About 1,500 events of 120 users over 50 minutes of event time, with one attack of each kind.
    static let lines = campaignTraffic(seed: 17, users: 120, events: 2_400, meanGap: 2_000_000).map(\.value)

    /// Generated traffic with one campaign of each kind (push bombing, impossible travel, a reset wave,
    /// credential stuffing) injected in turn every `events / 10` events: each line with its user (the
    /// generator's key) and its bytes. `meanGap` in microseconds of event time.
    static func campaignTraffic(seed: UInt64, users: Int, events: Int, meanGap: Int64) -> [(key: String, value: String)]
    {
        var configuration = WorkloadConfiguration()
        configuration.seed = seed
        configuration.users = users
        configuration.attackRate = 0
        configuration.meanGap = EventDuration(microseconds: meanGap)
        var generator = TrafficGenerator(configuration: configuration, pool: .maxMindTestCity)
        let attacks: [AttackKind] = [.pushBombing, .impossibleTravel, .passwordResetWave, .credentialStuffing]
        let spacing = max(1, events / 10)
        return (0..<events).map { index in
            if index % spacing == spacing / 2 { generator.inject(attacks[index / spacing % attacks.count]) }
            let event = generator.nextEvent()
            return (event.key ?? "", String(decoding: event.bytes, as: UTF8.self))
        }
    }

    static let crossUserKinds: Set<String> = ["credential_stuffing", "reset_abuse"]

    /// Per-user alerts that need a user's events in their order (a login after a reset, an approval after
    /// denied pushes, a login far from the last *verified* one, which its MFA result verifies after it):
    /// on an unkeyed input they follow the order the events arrive in, and may not be raised at all (seen:
    /// 16 unkeyed partitions, the attacker's login read before the MFA result that verified the user's
    /// own, so no anchor to travel from).
    static let orderDependentKinds: Set<String> = ["takeover_after_reset", "mfa_fatigue_accepted", "impossible_travel"]

    /// The kind of an OCSF alert, from its analytic's name.
    static func kind(_ alert: [String: Any]) -> String {
        ((alert["finding_info"] as? [String: Any])?["analytic"] as? [String: Any])?["name"] as? String ?? ""
    }

    /// Kind and subject (`unmapped.vigil_subject`: the user, source or email domain).
    static func kindAndSubject(_ alert: [String: Any]) -> String {
        "\(kind(alert)) \((alert["unmapped"] as? [String: Any])?["vigil_subject"] as? String ?? "")"
    }

    /// The line's Kafka key under `keying`, as `key<TAB>value` for kcat, or the bare value.
    static func keyed(_ line: String, _ keying: Keying) -> String {
        guard keying == .emailDomain else { return line }
        let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        let domain = (object?["user"] as? [String: Any])?["email_domain"] as? String ?? "no-domain"
        return "\(domain)\t\(line)"
    }

    /// Partitions, keying and `engine.threads`: one thread, as many as this machine's cores, and more.
    @Test(arguments: [(1, Keying.none, 1), (4, .emailDomain, 2), (16, .emailDomain, 1), (16, .none, 4)])
    func theReplaysVerdictsAtAnyPartitionCountKeyingAndThreadCount(
        partitions: Int, keying: Keying, threads: Int
    ) async throws {
        let fixture = try KafkaFixture(
            name: "staged-\(partitions)-\(keying.rawValue)-\(threads)", partitions: partitions, outputPartitions: 4,
            extra: KafkaFixture.exactVerdicts(threads: threads))
        let reference = try await blocking {
            try ReplayReference(lines: Self.lines, config: fixture.config, directory: fixture.directory)
        }
        #expect(reference.status == 0, "\(reference.stderr)")
        let referenceKinds = Set(reference.alerts.map(Self.kind))
        #expect(
            referenceKinds.isSuperset(of: ["push_bombing", "impossible_travel", "reset_abuse", "credential_stuffing"]),
            "\(referenceKinds)")

        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        try await blocking {
            try Kcat.produce(fixture.brokers, topic: "auth.events", lines: Self.lines.map { Self.keyed($0, keying) })
        }
        let decisionIDs = Set(reference.decisions.compactMap { $0["decision_id"] as? String })
        let userOrderKept = keying == .emailDomain || partitions == 1
        /// What is compared of the alerts: kind and subject; only the cross-user ones, with the kinds of
        /// the others that do not depend on a user's order, when that order is not kept.
        func comparable(_ alerts: [[String: Any]]) -> Set<String> {
            guard !userOrderKept else { return Set(alerts.map(Self.kindAndSubject)) }
            let kinds = alerts.map(Self.kind).filter { !Self.orderDependentKinds.contains($0) }
            return Set(alerts.filter { Self.crossUserKinds.contains(Self.kind($0)) }.map(Self.kindAndSubject))
                .union(kinds.map { "kind \($0)" })
        }
        let alertSubjects = comparable(reference.alerts)
        var decisions: [[String: Any]] = []
        var alerts: [[String: Any]] = []
        do {
            try await waitUntil("every decision and alert of the replay", timeout: .seconds(180)) {
                try daemon.requireRunning()
                decisions = try fixture.decisions().map(\.payload)
                alerts = try fixture.alerts().map(\.payload)
                return Set(decisions.compactMap { $0["decision_id"] as? String }).isSuperset(of: decisionIDs)
                    && comparable(alerts).isSuperset(of: alertSubjects)
            }
        } catch {
            let published = comparable(alerts)
            let decided = Set(decisions.compactMap { $0["decision_id"] as? String })
            let message: String =
                "missing alerts \(alertSubjects.subtracting(published).sorted()); extra "
                + "\(published.subtracting(alertSubjects).sorted()); "
                + "\(decisionIDs.subtracting(decided).count) decisions missing"
            Issue.record(Comment(rawValue: message))
            throw error
        }
        // Nothing more than the replay's: a second to let a stray extra output arrive.
        try await Task.sleep(for: .seconds(1))
        decisions = try fixture.decisions().map(\.payload)
        alerts = try fixture.alerts().map(\.payload)
        #expect(try daemon.stop() == 0, "\(daemon.log)")

        #expect(decisions.count == reference.decisions.count)
        #expect(Set(decisions.compactMap { $0["decision_id"] as? String }) == decisionIDs)
        #expect(comparable(alerts) == alertSubjects)
        guard userOrderKept else { return }
        // Each user's events in order: decisions and per-user alerts are the replay's, field for field.
        let published = Set(decisions.map(ReplayReference.canonical))
        let expected = Set(reference.decisions.map(ReplayReference.canonical))
        #expect(published == expected, "\(published.symmetricDifference(expected).first ?? "")")
        let perUser = { (alerts: [[String: Any]]) in
            Set(alerts.filter { !Self.crossUserKinds.contains(Self.kind($0)) }.map(ReplayReference.canonical))
        }
        #expect(perUser(alerts) == perUser(reference.alerts))
        guard partitions == 1 else { return }
        #expect(Set(alerts.map(ReplayReference.canonical)) == Set(reference.alerts.map(ReplayReference.canonical)))
    }
}
