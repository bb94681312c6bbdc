import Testing
import _VigilMachinery

@testable import VigilCore

/// The proof that a changelog restore is exact: a stream processed with flushes into an in-memory
/// changelog, crashed again and again with the last flush cut short and the committed offset at an
/// earlier checkpoint, restored from the whole log, from the log compacted, or from a snapshot and the
/// log after it, and processed again from the committed offset, must give every event after the
/// crash exactly the decision and alerts of an uninterrupted run, the same decision ids to the events
/// processed again, and in the end the uninterrupted run's state.
@Suite struct ChangelogCrashTests {
    enum Restore: CaseIterable { case wholeLog, compactedLog, snapshotAndTail }

    static let scope = ChangelogScope(inputTopic: "auth-events")

    static var config: VigilConfig {
        var config = VigilConfig()
        // Idle users, sources and domains are swept within the stream's two days of event time.
        config.engine.userIdleTTL = .hours(4)
        return config
    }

    static let geo = Dictionary(uniqueKeysWithValues: Places.table.map { (IPAddress($0.key)!, $0.value) })

    /// A day and a half of traffic of 60 users: logins from home, travel, half of them verified by an MFA
    /// success of their session, failures and bursts of
    /// stuffing from shared sources, push fatigue, reset waves per source and domain, sensitive
    /// actions, events late behind the watermark; users who go quiet for hours (swept, tombstoned)
    /// and come back.
    static func stream(seed: UInt64, count: Int) -> [AuthEvent] {
        var random = SplitMix64(seed: seed)
        func below(_ bound: Int) -> Int { Int(random.next() % UInt64(bound)) }
        let homes = [Places.london, Places.boxford, Places.milton]
        var minutes = 0.0
        var events: [AuthEvent] = []
        for index in 0..<count {
            minutes += Double(below(40)) / 10
            // Every user is active in two phases of the day only, so most go idle for hours.
            let phase = Int(minutes / 360) % 4
            let user = (phase * 15 + below(20)) % 60
            let name = "user-\(user)"
            let home = homes[user % homes.count]
            let domain = user % 3 == 0 ? "corp.example" : "mail.example"
            var time = minutes
            if below(40) == 0 { time -= 10 }  // late
            let id = "ev-\(seed)-\(index)"
            let roll = below(100)
            var event: AuthEvent
            switch roll {
            case 0..<45:
                let travel = below(30) == 0
                let session = InputText("s-\(id)")
                event = AuthEvent(
                    eventID: id, type: .login, time: EngineHarness.at(time), user: User(id: name, emailDomain: domain),
                    ip: IPAddress(travel ? Places.changchun : home), device: Device(id: "dev-\(user)-\(below(2))"),
                    outcome: .success, sessionID: session)
                // Half the sign-ins pass their step-up (a TOTP success of the session), the rest stay unverified.
                if below(2) == 0 {
                    events.append(event)
                    event = AuthEvent(
                        eventID: "\(id).mfa", type: .mfaResult, time: EngineHarness.at(time), user: User(id: name),
                        ip: IPAddress(home), mfa: MFA(factor: .totp, result: .approved), sessionID: session)
                }
            case 45..<62:
                let source = below(3) == 0 ? "203.0.113.\(below(3))" : home
                event = AuthEvent(
                    eventID: id, type: .login, time: EngineHarness.at(time), user: User(id: name),
                    ip: IPAddress(source), outcome: .failure)
            case 62..<72:
                event = AuthEvent(
                    eventID: id, type: below(2) == 0 ? .mfaChallenge : .mfaResult, time: EngineHarness.at(time),
                    user: User(id: name), ip: IPAddress(home),
                    mfa: MFA(factor: .push, result: below(3) == 0 ? .approved : .denied))
            case 72..<82:
                event = AuthEvent(
                    eventID: id, type: .passwordResetRequest, time: EngineHarness.at(time),
                    user: User(id: name, emailDomain: domain), ip: IPAddress(below(2) == 0 ? "198.51.100.7" : home))
            case 82..<86:
                event = AuthEvent(
                    eventID: id, type: .passwordResetComplete, time: EngineHarness.at(time), user: User(id: name),
                    ip: IPAddress(home), outcome: .success)
            default:
                event = AuthEvent(
                    eventID: id, type: .sensitiveAction, time: EngineHarness.at(time), user: User(id: name),
                    ip: IPAddress(below(8) == 0 ? Places.torExit : home), device: Device(id: "dev-\(user)-0"))
            }
            events.append(event)
        }
        return events
    }

    static func newEngine() -> RiskEngine {
        RiskEngine(config: config, policyVersion: "test", deviceKey: .publicDefault)
    }

    static func process(_ event: AuthEvent, offset: Int, in engine: inout RiskEngine) -> RiskEngine.Verdict {
        engine.process(event, intel: event.ip.map { geo[$0] ?? .unknown }, offset: Int64(offset))
    }

    /// Every entry's bytes by key, stamped alike: users, sources, domains, global buckets, the shard.
    static func entries(_ engine: RiskEngine) -> [StateEntryKey: [UInt8]] {
        let codec = StateEntryCodec(keys: engine.keys)
        let state = engine.state
        var entries: [StateEntryKey: [UInt8]] = [
            StateEntryKey(kind: .shard, hash: 0): codec.encodeShard(state, appliedOffset: 0)
        ]
        state.users.forEach { key, user in
            entries[StateEntryKey(kind: .user, hash: key)] = codec.encodeUser(
                user, names: state.names, appliedOffset: 0)
        }
        for (key, source) in state.sources {
            entries[StateEntryKey(kind: .source, hash: key)] = codec.encodeSource(source, appliedOffset: 0)
        }
        for (key, domain) in state.domains {
            entries[StateEntryKey(kind: .domain, hash: key)] = codec.encodeDomain(domain, appliedOffset: 0)
        }
        for slot in state.global.occupiedSlots {
            entries[StateEntryKey(kind: .globalBucket, hash: UInt64(slot))] = codec.encodeBucket(
                state.global.bucket(atSlot: slot)!, appliedOffset: 0)
        }
        return entries
    }

    /// Last record per key, in the order of each key's last record: what compaction leaves.
    static func compacted(_ log: [ChangelogRecord]) -> [ChangelogRecord] {
        var last: [[UInt8]: Int] = [:]
        for (index, record) in log.enumerated() { last[record.key] = index }
        return log.indices.filter { last[log[$0].key] == $0 }.map { log[$0] }
    }

    /// A snapshot taken right after a complete flush, and where in the log the flush ended.
    struct Snapshot {
        var bytes: [UInt8]
        var logEnd: Int
    }

    /// What the changelog topic and the committed input offsets hold across crashes.
    struct Durable {
        var log: [ChangelogRecord] = []
        /// Stamps of complete flushes (their checkpoint is in the log), in log order.
        var checkpoints: [Int64] = []
        var snapshots: [Snapshot] = []
    }

    @Test(arguments: [(seed: UInt64(1), every: 7), (seed: 2, every: 13), (seed: 3, every: 40)])
    func restoredRunsMatchTheUninterruptedRun(seed: UInt64, every flushEvery: Int) throws {
        let events = Self.stream(seed: seed, count: 1_500)
        var uninterrupted = Self.newEngine()
        let expected = events.enumerated().map { Self.process($1, offset: $0, in: &uninterrupted) }
        #expect(uninterrupted.figures.evictedUsers > 0 && uninterrupted.figures.evictedSources > 0)
        #expect(uninterrupted.state.global.occupiedSlots.count > 1)
        #expect(expected.contains { !$0.alerts.isEmpty } && expected.contains(where: \.late))

        for (index, mode) in Restore.allCases.enumerated() {
            var random = SplitMix64(seed: seed &* 31 &+ UInt64(index))
            var durable = Durable()
            var engine = Self.newEngine()
            engine.recordsChanges = true
            var next = 0
            var guardedThrough: Int64?
            var crashes = 0
            var tombstones = 0
            var cutFlushes = 0
            var processed = 0
            var flushes = 0
            var flushesBeforeCrash = 1 + Int(random.next() % 12)
            while next < events.count {
                let verdict = Self.process(events[next], offset: next, in: &engine)
                Self.check(verdict, against: expected[next], offset: next, guardedThrough: guardedThrough)
                processed += 1
                next += 1
                guard processed % flushEvery == 0 || next == events.count else { continue }
                let stamp = Int64(next - 1)
                let records = engine.takeChangelogFlush(stamp: stamp, scope: Self.scope)
                tombstones += records.filter { $0.value == nil }.count
                flushes += 1
                guard flushes == flushesBeforeCrash, crashes < 8 else {
                    durable.log += records
                    durable.checkpoints.append(stamp)
                    if !engine.isReplayGuarded && random.next() % 4 == 0 {
                        durable.snapshots.append(
                            Snapshot(bytes: engine.stateSnapshot(appliedOffset: stamp), logEnd: durable.log.count))
                    }
                    continue
                }
                // A crash: the flush cut after a random number of its records, and events processed
                // after it (their outputs out, the state lost).
                let kept = Int(random.next() % UInt64(records.count + 1))
                durable.log += records.prefix(kept)
                if kept == records.count { durable.checkpoints.append(stamp) }
                if kept > 0 && kept < records.count { cutFlushes += 1 }
                for _ in 0..<Int(random.next() % UInt64(flushEvery)) where next < events.count {
                    let verdict = Self.process(events[next], offset: next, in: &engine)
                    Self.check(verdict, against: expected[next], offset: next, guardedThrough: guardedThrough)
                    next += 1
                }
                crashes += 1
                // The restart: the committed offset is at one of the last few checkpoints, or none.
                let choices = durable.checkpoints.suffix(3)
                let committed =
                    choices.isEmpty || random.next() % 5 == 0
                    ? -1 : Int(choices[choices.startIndex + Int(random.next() % UInt64(choices.count))])
                engine = try Self.restore(durable, mode: mode, random: &random)
                engine.recordsChanges = true
                guardedThrough = Self.highestStamp(in: durable.log)
                next = committed + 1
                processed = 0
                flushes = 0
                flushesBeforeCrash = 1 + Int(random.next() % 12)
            }
            #expect(crashes >= 3, "\(mode)")
            #expect(tombstones > 0 && cutFlushes > 0, "\(mode): \(tombstones) tombstones, \(cutFlushes) cut flushes")
            #expect(Self.entries(engine) == Self.entries(uninterrupted), "\(mode)")
            var figures = engine.figures
            var expectedFigures = uninterrupted.figures
            figures.approximateBytes = 0
            expectedFigures.approximateBytes = 0
            figures.names = 0
            expectedFigures.names = 0
            #expect(figures == expectedFigures, "\(mode)")
        }
    }

    /// A verdict marked re-emitted is for an event the restored changelog reflects (at or below its last
    /// stamp, so its first outputs were delivered) and keeps its decision id; every unmarked one, processed
    /// again or for the first time, is exactly the uninterrupted run's decision and alerts.
    static func check(
        _ verdict: RiskEngine.Verdict, against expected: RiskEngine.Verdict, offset: Int, guardedThrough: Int64?
    ) {
        if verdict.reemitted {
            #expect(guardedThrough.map { Int64(offset) <= $0 } == true, "offset \(offset) marked")
            #expect(verdict.decision?.decisionID == expected.decision?.decisionID, "offset \(offset)")
        } else {
            #expect(verdict.decision == expected.decision, "offset \(offset)")
            #expect(verdict.alerts == expected.alerts, "offset \(offset)")
        }
    }

    /// The highest stamp in the log: every input up to it may be reflected somewhere in it.
    static func highestStamp(in log: [ChangelogRecord]) -> Int64 {
        var highest: Int64 = -1
        for record in log {
            guard let value = record.value else { continue }
            var reader = StateReader(value)
            _ = try? reader.u8("version")
            _ = try? reader.u32("fingerprint")
            highest = max(highest, (try? reader.i64("offset")) ?? -1)
        }
        return highest
    }

    static func restore(
        _ durable: Durable, mode: Restore, random: inout SplitMix64
    ) throws -> RiskEngine {
        var engine = Self.newEngine()
        var records = durable.log
        switch mode {
        case .wholeLog: break
        case .compactedLog: records = compacted(durable.log)
        case .snapshotAndTail:
            if !durable.snapshots.isEmpty {
                let snapshot = durable.snapshots[Int(random.next() % UInt64(durable.snapshots.count))]
                try engine.restoreState(snapshot: snapshot.bytes)
                records = Array(durable.log[snapshot.logEnd...])
            }
        }
        for record in records {
            #expect(try engine.applyChangelogRecord(key: record.key, value: record.value, scope: scope))
        }
        return engine
    }
}
