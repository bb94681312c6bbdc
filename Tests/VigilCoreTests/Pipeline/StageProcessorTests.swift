import Testing
import VigilTestSupport
import VigilWorkload

@testable import VigilCore

/// A stage shard keeps what a `Pipeline` offers the Kafka loop for durable state: restored from its
/// changelog or from a snapshot mid-stream, or fed again records its state already reflects (the replay
/// guard), it goes on exactly as a shard that never stopped.
@Suite struct StageProcessorTests {
    /// The topology as the Kafka loop will run it: a decode stage, each stage record appended to its
    /// stage partition's log (its offset is its index there) and processed at once, each shard's
    /// changelog flushed after every record, the source-risk table updated as facts come.
    struct Deployment {
        static let partitions = 3
        let config: VigilConfig
        var decode: DecodeStage
        var shards: [[StageProcessor]]
        var table = GlobalFactTable()
        var logs = [[[[UInt8]]]](
            repeating: [[[UInt8]]](repeating: [], count: partitions), count: StageKind.allCases.count)
        /// The decode stage's own records, in the input partition's changelog.
        var decodeChangelog: [ChangelogRecord] = []
        static let inputScope = ChangelogScope(inputTopic: "logins")
        var changelogs = [[[ChangelogRecord]]](
            repeating: [[ChangelogRecord]](repeating: [], count: partitions), count: StageKind.allCases.count)

        init(config: VigilConfig = VigilConfig()) {
            self.config = config
            decode = DecodeStage(config: config, deviceKey: .publicDefault)
            shards = Self.freshShards(config: config)
        }

        static func freshShards(config: VigilConfig, recordingChanges: Bool = true) -> [[StageProcessor]] {
            StageKind.allCases.map { stage in
                (0..<partitions).map { _ in
                    var shard = StageProcessor(
                        stage: stage, config: config, policyVersion: "test", enricher: nil,
                        deviceKey: .publicDefault)
                    shard.engine.recordsChanges = recordingChanges
                    return shard
                }
            }
        }

        static func scope(_ stage: Int) -> ChangelogScope {
            ChangelogScope(inputTopic: "vigil-by-\(StageKind.allCases[stage])")
        }

        mutating func process(_ line: [UInt8], number: Int, into output: inout [OutputMessage]) {
            var records: [StageRecord] = []
            // Read from a Kafka input partition: the records carry their input position.
            decode.process(
                line, origin: .kafka(topic: "logins", partition: 0, offset: Int64(number)), into: &output,
                records: &records)
            decodeChangelog.append(decode.changelogRecord(stamp: Int64(number), scope: Self.inputScope))
            for record in records {
                let stage = StageKind.allCases.firstIndex(of: record.stage)!
                let partition = record.partition(count: Self.partitions)
                logs[stage][partition].append(record.value)
                run(stage, partition, offset: logs[stage][partition].count - 1, into: &output)
            }
        }

        /// Processes the record at `offset` of a stage partition's log and flushes the shard's changelog.
        mutating func run(_ stage: Int, _ partition: Int, offset: Int, into output: inout [OutputMessage]) {
            let published = try! shards[stage][partition].process(
                logs[stage][partition][offset], offset: Int64(offset), globalFacts: table, into: &output)
            published.apply(to: &table)
            changelogs[stage][partition] += shards[stage][partition].engine.takeChangelogFlush(
                stamp: Int64(offset), scope: Self.scope(stage))
        }

        /// Fresh shards restored from snapshots of the current ones, as after a restart.
        mutating func restoreFromSnapshots() throws {
            let snapshots = shards.map { $0.map { $0.engine.stateSnapshot() } }
            var restored = Self.freshShards(config: config)
            for stage in restored.indices {
                for partition in restored[stage].indices {
                    try restored[stage][partition].engine.restoreState(snapshot: snapshots[stage][partition])
                }
            }
            shards = restored
        }

        /// A fresh decode stage and fresh shards restored from the changelogs, as after a crash.
        mutating func restoreFromChangelogs() throws {
            var fresh = DecodeStage(config: config, deviceKey: .publicDefault)
            for record in decodeChangelog {
                try fresh.applyChangelogRecord(key: record.key, value: record.value, scope: Self.inputScope)
            }
            decode = fresh
            var restored = Self.freshShards(config: config)
            for stage in restored.indices {
                for partition in restored[stage].indices {
                    for record in changelogs[stage][partition] {
                        try restored[stage][partition].engine.applyChangelogRecord(
                            key: record.key, value: record.value, scope: Self.scope(stage))
                    }
                }
            }
            shards = restored
        }
    }

    /// Input lines, where the deployment stops, and the settings it runs with.
    struct Traffic {
        var lines: [[UInt8]]
        var split: Int
        var config = VigilConfig()
    }

    static let workload: Traffic = {
        var configuration = WorkloadConfiguration()
        configuration.seed = 5
        configuration.users = 200
        configuration.attackRate = 0.02
        return Traffic(
            lines: TrafficGenerator(configuration: configuration, pool: .maxMindTestCity).prefix(3_000).map(\.bytes),
            split: 1_700)
    }()

    /// The outputs of lines after the split when nothing stops.
    static func uninterrupted(_ traffic: Traffic = workload) -> [OutputMessage] {
        var deployment = Deployment(config: traffic.config)
        var output: [OutputMessage] = []
        for (index, line) in traffic.lines.enumerated() {
            if index == traffic.split { output.removeAll() }
            deployment.process(line, number: index + 1, into: &output)
        }
        return output
    }

    static func finish(_ deployment: inout Deployment, _ traffic: Traffic = workload) -> [OutputMessage] {
        var output: [OutputMessage] = []
        for index in traffic.split..<traffic.lines.count {
            deployment.process(traffic.lines[index], number: index + 1, into: &output)
        }
        return output
    }

    static func firstPart(_ traffic: Traffic = workload) -> Deployment {
        var deployment = Deployment(config: traffic.config)
        var ignored: [OutputMessage] = []
        for index in 0..<traffic.split { deployment.process(traffic.lines[index], number: index + 1, into: &ignored) }
        return deployment
    }

    @Test func restoredFromTheChangelogEachShardGoesOnAsIfNothingStopped() throws {
        let expected = Self.uninterrupted()
        var deployment = Self.firstPart()
        try deployment.restoreFromChangelogs()
        #expect(deployment.shards.joined().contains { $0.engine.isReplayGuarded })
        let output = Self.finish(&deployment)
        #expect(output == expected)
        #expect(output.contains { $0.stream == .alerts })
    }

    @Test func recordsTheRestoredStateReflectsChangeNothingAgain() throws {
        let expected = Self.uninterrupted()
        var deployment = Self.firstPart()
        try deployment.restoreFromChangelogs()
        // Kafka delivers again the last records of every stage partition (a commit that did not land).
        var again: [OutputMessage] = []
        for stage in StageKind.allCases.indices {
            for partition in 0..<Deployment.partitions {
                let count = deployment.logs[stage][partition].count
                for offset in max(0, count - 25)..<count {
                    deployment.run(stage, partition, offset: offset, into: &again)
                }
            }
        }
        #expect(!again.isEmpty)
        #expect(again.allSatisfy { $0.reemitted })
        #expect(Self.finish(&deployment) == expected)
    }

    /// The decode stage consumes its last `count` lines again (a crash before their offsets were
    /// committed): their records are appended to the stage logs again, at new offsets, and processed.
    static func decodeAgain(_ deployment: inout Deployment, count: Int) -> [OutputMessage] {
        var again: [OutputMessage] = []
        let traffic = workload
        for index in (traffic.split - count)..<traffic.split {
            deployment.process(traffic.lines[index], number: index + 1, into: &again)
        }
        return again
    }

    @Test func recordsTheDecodeStageProducesAgainChangeNothingTwice() throws {
        let expected = Self.uninterrupted()
        var deployment = Self.firstPart()
        let again = Self.decodeAgain(&deployment, count: 60)
        #expect(again.contains { $0.stream == .decisions })
        #expect(again.allSatisfy { $0.reemitted })
        #expect(Self.finish(&deployment) == expected)
    }

    @Test func theMarksOfAppliedInputSurviveTheChangelogAndSnapshots() throws {
        let expected = Self.uninterrupted()
        var restored = Self.firstPart()
        try restored.restoreFromChangelogs()
        #expect(Self.decodeAgain(&restored, count: 60).allSatisfy { $0.reemitted })
        #expect(Self.finish(&restored) == expected)

        var snapshotted = Self.firstPart()
        try snapshotted.restoreFromSnapshots()
        #expect(Self.decodeAgain(&snapshotted, count: 60).allSatisfy { $0.reemitted })
        #expect(Self.finish(&snapshotted) == expected)
    }

    @Test func restoredFromSnapshotsEachShardGoesOnAsIfNothingStopped() throws {
        let expected = Self.uninterrupted()
        var deployment = Self.firstPart()
        try deployment.restoreFromSnapshots()
        #expect(Self.finish(&deployment) == expected)
    }

    /// A tenant's failures spread over many addresses: the campaign stage stops before the threshold, at
    /// it, and while the campaign is active; restored from its changelog or a snapshot it detects the
    /// campaign once, at the same event, and the logins after it get the same points.
    static func tenantCampaign(split: Int) -> Traffic {
        var config = VigilConfig()
        config.engine.campaigns.failuresFloor = 10
        config.engine.campaigns.distinctUsersFloor = 1000
        let start = Timestamp(rfc3339: "2026-03-02T09:00:00Z")!
        var lines = (0..<40).map { index in
            Array(
                EventLines.login(
                    id: "f\(index)", time: (start + .seconds(Int64(index) * 20)).rfc3339, user: "victim\(index)",
                    ip: "198.51.\(100 + index / 200).\(index % 200 + 1)", outcome: "failure", tenant: "acme"
                ).utf8)
        }
        for index in 0..<5 {
            lines.append(
                Array(
                    EventLines.login(
                        id: "ok\(index)", time: (start + .minutes(20 + Int64(index))).rfc3339, user: "staff\(index)",
                        ip: "81.2.69.142", tenant: "acme"
                    ).utf8))
        }
        return Traffic(lines: lines, split: split, config: config)
    }

    @Test(arguments: [10, 30, 35, 42])
    func aCampaignStageRestoredMidCampaignGoesOnAsIfNothingStopped(split: Int) throws {
        let traffic = Self.tenantCampaign(split: split)
        var whole = Self.firstPart(traffic)
        let allOutput = Self.uninterrupted(Traffic(lines: traffic.lines, split: 0, config: traffic.config))
        #expect(allOutput.filter { $0.stream == .alerts }.count == 1)
        #expect(
            allOutput.filter { $0.stream == .decisions }.suffix(5).allSatisfy {
                String(decoding: $0.payload, as: UTF8.self).contains("campaign_active")
            })
        let expected = Self.finish(&whole, traffic)
        var restored = Self.firstPart(traffic)
        try restored.restoreFromChangelogs()
        #expect(Self.finish(&restored, traffic) == expected)
        var snapshotted = Self.firstPart(traffic)
        try snapshotted.restoreFromSnapshots()
        #expect(Self.finish(&snapshotted, traffic) == expected)
    }

    /// An event of a known network makes two campaign records (its network's, its tenant's) with one
    /// event id and one input position; on one shard neither passes for a repeat of the other, so both
    /// entities count it and both reach the threshold.
    @Test func theNetworkAndTheTenantOfOneEventBothCountItOnOneShard() throws {
        var config = VigilConfig()
        config.engine.campaigns.failuresFloor = 10
        config.engine.campaigns.distinctUsersFloor = 1000
        let network = IPIntelligence(network: AutonomousSystem(number: 64_500))
        let enricher = Enricher(
            geo: TableLookup(
                table: Dictionary(uniqueKeysWithValues: (1...30).map { (IPAddress("198.51.100.\($0)")!, network) })))
        var decode = DecodeStage(config: config, deviceKey: .publicDefault, enricher: enricher)
        var shard = StageProcessor(
            stage: .campaign, config: config, policyVersion: "test", enricher: enricher, deviceKey: .publicDefault)
        let start = Timestamp(rfc3339: "2026-03-02T09:00:00Z")!
        var output: [OutputMessage] = []
        var stageOffset: Int64 = 0
        for index in 0..<30 {
            var records: [StageRecord] = []
            let line = EventLines.login(
                id: "f\(index)", time: (start + .seconds(Int64(index) * 20)).rfc3339, user: "victim\(index)",
                ip: "198.51.100.\(index + 1)", outcome: "failure", tenant: "acme")
            decode.process(
                Array(line.utf8), origin: .kafka(topic: "logins", partition: 0, offset: Int64(index)), into: &output,
                records: &records)
            let campaign = records.filter { $0.stage == .campaign }
            #expect(campaign.count == 2)
            for record in campaign {
                try shard.process(record.value, offset: stageOffset, globalFacts: nil, into: &output)
                stageOffset += 1
            }
        }
        let alerts = output.filter { $0.stream == .alerts }.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(alerts.count == 2)
        #expect(alerts.contains { $0.contains(#""vigil_scope":"asn""#) })
        #expect(alerts.contains { $0.contains(#""vigil_scope":"tenant""#) })
        #expect(!output.contains { $0.reemitted })
    }

    @Test func eachStageHoldsOnlyItsOwnEntries() {
        let deployment = Self.firstPart()
        let figures = deployment.shards.map { stage in
            stage.reduce(into: StateFigures()) { $0.add($1.engine.figures) }
        }
        #expect(figures[0].users > 0 && figures[0].sources == 0 && figures[0].domains == 0)
        #expect(figures[0].global.failures > 0)
        #expect(figures[1].users == 0 && figures[1].sources > 0 && figures[1].domains == 0)
        #expect(figures[1].global.failures == 0)
        #expect(figures[2].users == 0 && figures[2].sources == 0 && figures[2].domains > 0)
        #expect(figures[3].users == 0 && figures[3].sources == 0 && figures[3].campaigns > 0)
        #expect(figures[0].campaigns == 0 && figures[1].campaigns == 0 && figures[2].campaigns == 0)
        // The sources the campaigns sprayed from published their facts.
        #expect(deployment.table.sourceCount > 0)
    }

    @Test func aRecordOfAnotherStageIsRefusedAndChangesNothing() {
        var deployment = Self.firstPart()
        let sourceRecord = deployment.logs[1].first { !$0.isEmpty }![0]
        var output: [OutputMessage] = []
        let before = deployment.shards[0][0].engine.figures
        #expect(throws: StageRecordError.wrongStage(expected: .user, found: 2)) {
            try deployment.shards[0][0].process(sourceRecord, globalFacts: nil, into: &output)
        }
        #expect(output.isEmpty)
        #expect(deployment.shards[0][0].engine.figures == before)
    }
}

/// The source stage withdraws the facts of the sources it forgets, so the source-risk table shrinks with
/// its state; sources it never published a fact for are forgotten silently.
@Suite struct SourceRetirementTests {
    static let start = Timestamp(rfc3339: "2026-03-02T09:00:00Z")!

    /// A failed login of `user` from `ip`, `minutes` after `start`.
    static func failure(_ id: String, user: String, ip: String, minutes: Int64) -> [UInt8] {
        Array(
            EventLines.login(
                id: id, time: (start + .minutes(minutes)).rfc3339, user: user, ip: ip, outcome: "failure"
            ).utf8)
    }

    @Test func aForgottenSourceWithAFactIsRetiredOneWithoutIsNot() throws {
        var decode = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        var shard = StageProcessor(
            stage: .source, config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        var line = 0
        func feed(_ message: [UInt8]) throws -> (fact: SourceRiskFact?, retired: [UInt64]) {
            line += 1
            var output: [OutputMessage] = []
            var records: [StageRecord] = []
            decode.process(message, origin: .file(path: "in", line: line), into: &output, records: &records)
            var fact: SourceRiskFact?
            for record in records where record.stage == .source {
                fact = try shard.process(record.value, globalFacts: nil, into: &output).sourceRisk ?? fact
            }
            return (fact, shard.takeRetiredSources())
        }
        // Five users failing from one address: the fifth crosses the spraying threshold and publishes.
        var published: SourceRiskFact?
        for user in 0..<5 {
            let step = try feed(Self.failure("s\(user)", user: "u\(user)", ip: "198.51.100.7", minutes: Int64(user)))
            published = step.fact ?? published
            #expect(step.retired.isEmpty)
        }
        let spraying = try #require(published)
        // Two from another: below the threshold, no fact.
        for user in 0..<2 {
            #expect(try feed(Self.failure("q\(user)", user: "v\(user)", ip: "198.51.100.8", minutes: 5)).fact == nil)
        }
        // Two hours on, past the longest cross-user window: the sweep forgets both, retires the first.
        let later = try feed(Self.failure("later", user: "w", ip: "203.0.113.9", minutes: 125))
        #expect(later.retired == [spraying.source])
        #expect(try feed(Self.failure("later-2", user: "x", ip: "203.0.113.9", minutes: 126)).retired.isEmpty)
    }

    @Test func theReplaysTableForgetsTheRetiredSource() throws {
        var pipeline = PartitionedPipeline(
            config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault, partitionCount: 2)
        var output: [OutputMessage] = []
        for user in 0..<5 {
            pipeline.process(
                Self.failure("s\(user)", user: "u\(user)", ip: "198.51.100.7", minutes: Int64(user)),
                origin: .file(path: "in", line: user + 1), into: &output)
        }
        #expect(pipeline.sourceRiskFacts == 1)
        pipeline.process(
            Self.failure("later", user: "w", ip: "203.0.113.9", minutes: 125), origin: .file(path: "in", line: 6),
            into: &output)
        #expect(pipeline.sourceRiskFacts == 0)
    }
}

/// The campaign stage withdraws the fact of a network or tenant it forgets, whether its sweep removed the
/// idle entity first or the entity's next event found it idle and counted it anew: one tombstone either way,
/// before any new fact.
@Suite struct CampaignRetirementTests {
    @Test(arguments: [false, true])
    func anIdleEntityWithAFactIsRetiredOnce(sweptFirst: Bool) throws {
        var config = VigilConfig()
        config.engine.campaigns.failuresFloor = 10
        config.engine.campaigns.distinctUsersFloor = 1000
        var decode = DecodeStage(config: config, deviceKey: .publicDefault)
        var shard = StageProcessor(
            stage: .campaign, config: config, policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        var line = 0
        func feed(_ tenant: String, at time: Timestamp) throws -> (facts: [CampaignFact], retired: [UInt64]) {
            line += 1
            var output: [OutputMessage] = []
            var records: [StageRecord] = []
            let message = EventLines.login(
                id: "f\(line)", time: time.rfc3339, user: "u\(line)", ip: "198.51.100.\(line % 250 + 1)",
                outcome: "failure", tenant: tenant)
            // Received when it happened: a leap of weeks needs no second event to confirm it.
            decode.process(
                Array(message.utf8), origin: .file(path: "in", line: line), receivedAt: time, into: &output,
                records: &records)
            var facts: [CampaignFact] = []
            for record in records where record.stage == .campaign {
                facts += try shard.process(record.value, globalFacts: nil, into: &output).campaigns
            }
            return (facts, shard.takeRetiredCampaigns())
        }
        let start = Timestamp(rfc3339: "2026-03-02T09:00:00Z")!
        var published: [CampaignFact] = []
        for index in 0..<30 { published += try feed("acme", at: start + .seconds(Int64(index))).facts }
        let acme = try #require(published.first?.key)
        // Past the idle TTL: another tenant's event sweeps first, or acme's own event finds it idle.
        let later = start + config.engine.campaigns.idleTTL + .days(1)
        var retired: [UInt64] = []
        if sweptFirst { retired += try feed("other", at: later).retired }
        let again = try feed("acme", at: later + .minutes(1))
        retired += again.retired
        #expect(retired == [acme])
        #expect(again.facts.isEmpty)
        #expect(shard.engine.state.campaigns[acme]?.publishesFacts == false)
    }
}
