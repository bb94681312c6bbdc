import Foundation
import Testing
import VigilTestSupport
import VigilWorkload
import _VigilMachinery

@testable import VigilCore

/// The staged topology in one process: whatever the partition count, its outputs are byte for byte a
/// whole pipeline's (one shard holding every stage), on the example traffic, every scenario file, a
/// generated workload with campaigns, and at and around every cross-user threshold.
@Suite struct PartitionedPipelineTests {
    static let counts = [1, 2, 7, 16]
    static let clock = Timestamp(seconds: 1_900_000_000)

    /// What one run wrote: every message in order, and the counts.
    struct Run: Equatable {
        var messages: [OutputMessage]
        var stats: PipelineStats

        func payloads(_ stream: VigilCore.OutputStream) -> [String] {
            messages.filter { $0.stream == stream }.map { String(decoding: $0.payload, as: UTF8.self) }
        }
    }

    static func whole(_ lines: [[UInt8]], config: VigilConfig = VigilConfig(), enricher: Enricher? = nil) -> Run {
        var pipeline = Pipeline(
            config: config, policyVersion: "test", enricher: enricher, deviceKey: .publicDefault, replayClock: clock)
        var messages: [OutputMessage] = []
        for (index, line) in lines.enumerated() {
            pipeline.process(line, origin: .file(path: "in", line: index + 1), into: &messages)
        }
        return Run(messages: messages, stats: pipeline.stats)
    }

    static func staged(
        _ lines: [[UInt8]], partitions: Int, config: VigilConfig = VigilConfig(), enricher: Enricher? = nil
    ) -> Run {
        var pipeline = PartitionedPipeline(
            config: config, policyVersion: "test", enricher: enricher, deviceKey: .publicDefault, replayClock: clock,
            partitionCount: partitions)
        var messages: [OutputMessage] = []
        for (index, line) in lines.enumerated() {
            pipeline.process(line, origin: .file(path: "in", line: index + 1), into: &messages)
        }
        return Run(messages: messages, stats: pipeline.stats)
    }

    /// Asserts every partition count gives the whole pipeline's outputs; returns them.
    @discardableResult
    static func expectSameAtEveryCount(
        _ lines: [[UInt8]], config: VigilConfig = VigilConfig(), enricher: Enricher? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Run {
        let reference = whole(lines, config: config, enricher: enricher)
        for count in counts {
            let run = staged(lines, partitions: count, config: config, enricher: enricher)
            #expect(run.messages == reference.messages, "\(count) partitions", sourceLocation: sourceLocation)
            #expect(run.stats == reference.stats, "\(count) partitions", sourceLocation: sourceLocation)
        }
        return reference
    }

    /// The file's lines as bytes (a scenario may hold bytes that are not UTF-8, on purpose).
    static func lines(of url: URL) throws -> [[UInt8]] {
        try Data(contentsOf: url).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true).map {
            Array($0)
        }
    }

    @Test func theExampleTrafficAndEveryScenarioFile() throws {
        var files = [TestPaths.packageRoot.appendingPathComponent("Examples/events.jsonl")]
        let scenarios = TestPaths.packageRoot.appendingPathComponent("Tests/VigilDaemonTests/Scenarios")
        files += try FileManager.default.contentsOfDirectory(atPath: scenarios.path).sorted()
            .filter { $0.hasSuffix(".jsonl") }.map { scenarios.appendingPathComponent($0) }
        #expect(files.count >= 7)
        for file in files {
            let run = Self.expectSameAtEveryCount(try Self.lines(of: file))
            #expect(!run.messages.isEmpty, "\(file.lastPathComponent)")
        }
    }

    /// The first `count` events of a generated workload dense in attacks (seed 42, 300 users, 2% attack
    /// steps, some malformed), and an enricher that places the pool's addresses.
    static func generatedWorkload(count: Int = 5_000) -> (events: [GeneratedEvent], enricher: Enricher) {
        var configuration = WorkloadConfiguration()
        configuration.seed = 42
        configuration.users = 300
        configuration.attackRate = 0.02
        configuration.malformedRate = 0.002
        let pool = IPPool.maxMindTestCity
        var table: [IPAddress: IPIntelligence] = [:]
        for location in pool.locations {
            for address in location.addresses {
                table[address] = IPIntelligence(
                    location: GeoLocation(
                        countryCode: location.countryCode, city: location.city, latitude: location.latitude,
                        longitude: location.longitude, accuracyRadiusKm: 20))
            }
        }
        let events = Array(TrafficGenerator(configuration: configuration, pool: pool).prefix(count))
        return (events, Enricher(geo: TableLookup(table: table)))
    }

    @Test func aGeneratedWorkloadWithCampaigns() {
        let (events, enricher) = Self.generatedWorkload()
        let run = Self.expectSameAtEveryCount(events.map(\.bytes), enricher: enricher)
        // The campaigns raised the cross-user alerts the partitioning could have split.
        #expect(run.stats.count(.credentialStuffing) > 0)
        #expect(run.stats.count(.resetAbuse) > 0)
        #expect(run.stats.count(.pushBombing) > 0)
        #expect(run.payloads(.decisions).contains { $0.contains("source_ip_spraying") })
    }

    /// The replay summary's "last 15m" figures: at every partition count the global windows end at the
    /// newest event of the whole input, so shards whose users went quiet earlier show nothing recent.
    /// A user's failures in the first hour and only successful logins in the next three: one shard or
    /// sixteen, nothing is recent at the end.
    @Test func theGlobalWindowsOfEveryCountEndAtTheNewestEvent() {
        var lines: [[UInt8]] = []
        for index in 0..<12 {
            let time = Self.clock - .hours(4) + .minutes(Int64(index))
            lines.append(
                Array(
                    EventLines.login(id: "f\(index)", time: time.rfc3339, user: "early\(index)", outcome: "failure")
                        .utf8))
        }
        for index in 0..<40 {
            let time = Self.clock - .hours(3) + .minutes(Int64(index * 4))
            lines.append(Array(EventLines.login(id: "s\(index)", time: time.rfc3339, user: "late\(index % 5)").utf8))
        }
        let expected = GlobalFigures()
        for count in Self.counts {
            var pipeline = PartitionedPipeline(
                config: VigilConfig(), policyVersion: "test", enricher: nil, deviceKey: .publicDefault,
                replayClock: Self.clock, partitionCount: count)
            var messages: [OutputMessage] = []
            for (index, line) in lines.enumerated() {
                pipeline.process(line, origin: .file(path: "in", line: index + 1), into: &messages)
            }
            #expect(pipeline.figures.global == expected, "\(count) partitions")
        }
        // The same failures within the window are counted, at every count.
        for count in Self.counts {
            var pipeline = PartitionedPipeline(
                config: VigilConfig(), policyVersion: "test", enricher: nil, deviceKey: .publicDefault,
                replayClock: Self.clock, partitionCount: count)
            var messages: [OutputMessage] = []
            for (index, line) in lines.prefix(12).enumerated() {
                pipeline.process(line, origin: .file(path: "in", line: index + 1), into: &messages)
            }
            #expect(pipeline.figures.global.failures == 12, "\(count) partitions")
        }
    }

    /// The events as a consumer of `partitions` input partitions could receive them: each user's events
    /// (the generator's key) in one partition and in order, and each partition behind real time by its
    /// own lag of up to `maxLag` (seeded), so that partitions overtake one another by up to that much.
    static func interleaved(_ events: [GeneratedEvent], partitions: Int, maxLag: EventDuration) -> [GeneratedEvent] {
        var random = WorkloadRandom(seed: 7)
        let lags = (0..<partitions).map { _ in
            EventDuration(microseconds: Int64(random.int(in: 0...Int(maxLag.microseconds))))
        }
        func partition(_ event: GeneratedEvent) -> Int {
            guard let key = event.key else { return 0 }
            return Murmur2.partition(forKey: Array(key.utf8), partitionCount: partitions)
        }
        return events.enumerated()
            .map { (arrival: $0.element.time + lags[partition($0.element)], index: $0.offset, event: $0.element) }
            .sorted { ($0.arrival, $0.index) < ($1.arrival, $1.index) }
            .map(\.event)
    }

    /// The finding uids of a run's cross-user alerts (every scope but `account`), with their kind and scope
    /// (`finding_info.types`).
    static func crossUserFindings(_ run: Run) -> Set<String> {
        Set(
            run.payloads(.alerts).compactMap { payload in
                guard !payload.contains(#""scope:account""#) else { return nil }
                let info = payload.range(of: #""finding_info":\{"uid":"[^"]+""#, options: .regularExpression)
                let types = payload.range(of: #""types":\[[^\]]+\]"#, options: .regularExpression)
                return (info.map { String(payload[$0]) } ?? "no uid") + (types.map { String(payload[$0]) } ?? "")
            })
    }

    /// A cross-user stage reads its records from every input partition in whatever order they arrive. With
    /// each user's events in order and partitions overtaking one another by up to `lag` (well within
    /// `engine.allowed_lateness`), every cross-user alert keeps its uid: a source's stuffing or reset wave,
    /// a domain's reset wave, a network's or tenant's campaign are named by their window or slot, not by
    /// the event that happened to cross the threshold. Decisions, and through them the baselines that
    /// account alerts read, may differ: a login reads the source-risk and campaign tables as they stand
    /// when it arrives (README, "Pipeline": order).
    @Test(arguments: [EventDuration.seconds(2), .seconds(30)])
    func crossUserAlertUIDsDoNotDependOnHowInputPartitionsInterleave(lag: EventDuration) {
        let (events, enricher) = Self.generatedWorkload(count: 20_000)
        let inOrder = Self.staged(events.map(\.bytes), partitions: 16, enricher: enricher)
        let shuffled = Self.interleaved(events, partitions: 16, maxLag: lag)
        #expect(shuffled.map(\.eventID) != events.map(\.eventID))
        let interleaved = Self.staged(shuffled.map(\.bytes), partitions: 16, enricher: enricher)
        let expected = Self.crossUserFindings(inOrder)
        let found = Self.crossUserFindings(interleaved)
        #expect(expected.count > 40 && !expected.contains { $0.hasPrefix("no uid") })
        #expect(
            expected.contains { $0.contains("scope:tenant") } && expected.contains { $0.contains("scope:email_domain") }
        )
        #expect(expected.subtracting(found).sorted() == [], "in order only")
        #expect(found.subtracting(expected).sorted() == [], "interleaved only")
    }

    // MARK: thresholds through the staged path

    static func at(_ minute: Int, _ second: Int = 0) -> String {
        let m = minute < 10 ? "0\(minute)" : "\(minute)"
        let s = second < 10 ? "0\(second)" : "\(second)"
        return "2026-03-02T09:\(m):\(s)Z"
    }

    static func failedLogins(users: Int, attempts: Int, ip: String = "81.2.69.142") -> [[UInt8]] {
        (0..<attempts).map { index in
            Array(
                EventLines.login(
                    id: "f\(index)", time: at(index / 6, index % 6 * 10), user: "victim\(index % users)", ip: ip,
                    outcome: "failure"
                ).utf8)
        }
    }

    /// Reset requests for `accounts` accounts of one domain, a minute apart, from one address or (with
    /// `oneSource` false) each from its own.
    static func resetRequests(accounts: Int, oneSource: Bool = true, domain: String = "example.com") -> [[UInt8]] {
        (0..<accounts).map { index in
            let ip = oneSource ? "81.2.69.142" : "10.1.\(index / 200).\(index % 200 + 1)"
            var line = #"{"event_id":"r\#(index)","type":"password_reset_request","time":"\#(at(index))","#
            line += #""user":{"id":"acct\#(index)","email_domain":"\#(domain)"},"ip":"\#(ip)"}"#
            return Array(line.utf8)
        }
    }

    @Test func credentialStuffingAtAndAroundItsThresholds() {
        let rules = VigilConfig().engine.alerts
        let below = Self.expectSameAtEveryCount(
            Self.failedLogins(users: rules.stuffingDistinctUsers, attempts: rules.stuffingAttempts - 1))
        #expect(below.stats.count(.credentialStuffing) == 0)
        let tooFewUsers = Self.expectSameAtEveryCount(
            Self.failedLogins(users: rules.stuffingDistinctUsers - 1, attempts: rules.stuffingAttempts))
        #expect(tooFewUsers.stats.count(.credentialStuffing) == 0)
        let at = Self.expectSameAtEveryCount(
            Self.failedLogins(users: rules.stuffingDistinctUsers, attempts: rules.stuffingAttempts * 2))
        #expect(at.stats.count(.credentialStuffing) == 1)
    }

    @Test func sprayingReadsTheSourceRiskTableAtAndAroundItsThreshold() {
        let engine = VigilConfig().engine
        let threshold = engine.signals.sprayingDistinctUsers
        // The source's window holds this many users; the signal counts those.
        let held = max(threshold, engine.alerts.stuffingDistinctUsers)
        for users in [threshold - 1, threshold, threshold + 2] {
            // Every user fails once; then another user logs in from the same address.
            var lines = Self.failedLogins(users: users, attempts: users)
            lines.append(
                Array(EventLines.login(id: "ok", time: Self.at(5), user: "bystander", ip: "81.2.69.142").utf8))
            let run = Self.expectSameAtEveryCount(lines)
            let decision = run.payloads(.decisions).last ?? ""
            #expect(decision.contains("source_ip_spraying") == (users >= threshold), "\(users) users")
            if users >= threshold { #expect(decision.contains("source failed for \(min(users, held)) users")) }
        }
    }

    @Test func resetWavesBySourceAndByDomainAtTheirThresholds() {
        let rules = VigilConfig().engine.alerts
        let source = Self.expectSameAtEveryCount(Self.resetRequests(accounts: rules.resetAbuseSourceIP - 1))
        #expect(source.stats.count(.resetAbuse) == 0)
        let sourceAt = Self.expectSameAtEveryCount(Self.resetRequests(accounts: rules.resetAbuseSourceIP))
        #expect(sourceAt.stats.count(.resetAbuse) == 1)
        #expect(sourceAt.payloads(.alerts).last?.contains("source_ip") == true)
        let domainBelow = Self.expectSameAtEveryCount(
            Self.resetRequests(accounts: rules.resetAbuseEmailDomain - 1, oneSource: false))
        #expect(domainBelow.stats.count(.resetAbuse) == 0)
        let domainAt = Self.expectSameAtEveryCount(
            Self.resetRequests(accounts: rules.resetAbuseEmailDomain, oneSource: false))
        #expect(domainAt.stats.count(.resetAbuse) == 1)
        #expect(domainAt.payloads(.alerts).last?.contains("email_domain") == true)
    }

    /// Stuffing spread over one network's addresses, one attempt each in tenants of their own, and a reset
    /// wave over a tenant's addresses: only the by-campaign re-key brings them together, and it does at
    /// every partition count, at and around the cold threshold (three times the floor).
    @Test func campaignsAcrossSourcesAtAndAroundTheirThresholds() {
        var config = VigilConfig()
        config.engine.campaigns.failuresFloor = 10
        config.engine.campaigns.unknownUserFloor = 1000
        config.engine.campaigns.distinctUsersFloor = 1000
        config.engine.campaigns.resetsFloor = 5
        let hosting = { (index: Int) in "10.64.\(index / 250).\(index % 250 + 1)" }
        var table: [IPAddress: IPIntelligence] = [:]
        for index in 0..<200 {
            table[IPAddress(hosting(index))!] = IPIntelligence(network: AutonomousSystem(number: 64_500))
        }
        let enricher = Enricher(geo: TableLookup(table: table))
        for failures in [29, 30] {
            var lines = (0..<failures).map { index in
                Array(
                    EventLines.login(
                        id: "f\(index)", time: Self.at(index / 6, index % 6 * 10), user: "victim\(index)",
                        ip: hosting(index), outcome: "failure", tenant: "t\(index)"
                    ).utf8)
            }
            lines.append(
                Array(
                    EventLines.login(id: "ok", time: Self.at(20), user: "bystander", ip: hosting(150), tenant: "x").utf8
                ))
            let run = Self.expectSameAtEveryCount(lines, config: config, enricher: enricher)
            #expect(run.stats.count(.credentialStuffing) == (failures >= 30 ? 1 : 0), "\(failures) failures")
            #expect(run.payloads(.decisions).last?.contains("campaign_active") == (failures >= 30))
            if failures >= 30 {
                let alert = run.payloads(.alerts).first { $0.contains(#""vigil_scope":"asn""#) }
                #expect(alert?.contains("AS64500") == true)
            }
        }
        // One tenant and one network: the event's two campaign records (network, tenant) both count it,
        // whether their keys fall on one partition or two.
        let shared = (0..<30).map { index in
            Array(
                EventLines.login(
                    id: "f\(index)", time: Self.at(index / 6, index % 6 * 10), user: "victim\(index)",
                    ip: hosting(index), outcome: "failure", tenant: "acme"
                ).utf8)
        }
        #expect(
            Self.expectSameAtEveryCount(shared, config: config, enricher: enricher).stats.count(.credentialStuffing)
                == 2)
        for resets in [14, 15] {
            let lines = (0..<resets).map { index in
                var line = #"{"event_id":"r\#(index)","type":"password_reset_request","time":"\#(Self.at(index))","#
                line += #""tenant":"acme","user":{"id":"acct\#(index)"},"ip":"198.51.100.\#(index + 1)"}"#
                return Array(line.utf8)
            }
            let run = Self.expectSameAtEveryCount(lines, config: config, enricher: enricher)
            #expect(run.stats.count(.resetAbuse) == (resets >= 15 ? 1 : 0), "\(resets) resets")
            if resets >= 15 { #expect(run.payloads(.alerts).last?.contains(#""vigil_scope":"tenant""#) == true) }
        }
    }

    @Test func lateEventsAreDecidedAtDecodeAndChangeNoState() {
        // A failure wave two hours behind the newest event: late, so it counts nowhere, not even for the
        // user's own failed-attempts signal of a login as late. The user's shard may have seen nothing of
        // that newer event: only the decode stage's watermark knows the wave is late.
        var lines = [Array(EventLines.login(id: "new", time: "2026-03-02T12:00:00Z", user: "early").utf8)]
        lines += Self.failedLogins(users: 2, attempts: 40)
        lines.append(Array(EventLines.login(id: "late-ok", time: Self.at(7), user: "victim0").utf8))
        let run = Self.expectSameAtEveryCount(lines)
        #expect(run.stats.lateEvents == 41)
        #expect(run.stats.count(.credentialStuffing) == 0)
        #expect(run.payloads(.decisions).last?.contains("failed_attempts") == false)
    }

    @Test func theFactFollowsASourceThatKeepsSprayingNewAccounts() {
        // Five accounts fail at 09:00, five others at 09:10: the window's capacity keeps the newer five,
        // and a login at 09:20 counts them (the first five are out of its 15-minute window). A table
        // updated only when the threshold is first reached would still hold the 09:00 times.
        let threshold = VigilConfig().engine.signals.sprayingDistinctUsers
        var lines: [[UInt8]] = []
        for index in 0..<(2 * threshold) {
            lines.append(
                Array(
                    EventLines.login(
                        id: "f\(index)", time: Self.at(index < threshold ? 0 : 10, index % threshold),
                        user: "acct\(index)",
                        outcome: "failure"
                    ).utf8))
        }
        lines.append(Array(EventLines.login(id: "ok", time: Self.at(20), user: "bystander").utf8))
        let run = Self.expectSameAtEveryCount(lines)
        #expect(run.payloads(.decisions).last?.contains("source failed for \(threshold) users") == true)
    }

    @Test func aUserIdlePastTheTTLIsAbsentWhetherOrNotItsShardSweptIt() throws {
        // With a 1-hour idle TTL, "quiet" learns a baseline, then only "busy" is active for two hours; at
        // 16 partitions "quiet"'s shard sees none of that and has not swept it, at one partition it has.
        var config = VigilConfig()
        config.engine.userIdleTTL = .hours(1)
        func partition(_ user: String, _ count: Int) -> Int {
            Murmur2.partition(forKey: Array(user.utf8), partitionCount: count)
        }
        let busy = try #require(
            (0..<100).map { "busy\($0)" }.first { name in
                Self.counts.dropFirst().allSatisfy { partition(name, $0) != partition("quiet", $0) }
            })
        var lines = (0..<4).map {
            Array(EventLines.login(id: "q\($0)", time: Self.at($0), user: "quiet", device: "q-laptop").utf8)
        }
        for step in 0..<25 {
            let minute = 10 + step * 5
            let time = "2026-03-02T\(9 + minute / 60):\(minute % 60 < 10 ? "0" : "")\(minute % 60):00Z"
            lines.append(Array(EventLines.login(id: "b\(step)", time: time, user: busy, device: "b-laptop").utf8))
        }
        lines.append(
            Array(EventLines.login(id: "back", time: "2026-03-02T11:20:00Z", user: "quiet", device: "q-laptop").utf8))
        let run = Self.expectSameAtEveryCount(lines, config: config)
        #expect(run.payloads(.decisions).last?.contains("first_login") == true)
    }
}

/// Geo answers from a table, for tests that need no database file.
struct TableLookup: GeoLookup {
    var table: [IPAddress: IPIntelligence]

    func lookup(_ address: IPAddress) -> IPIntelligence { table[address] ?? .unknown }
}
