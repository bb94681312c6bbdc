import Testing
import _VigilMachinery

@testable import VigilCore

/// The changelog records one at a time: the key layout, the order and stamps of a flush, round trips of
/// every entry kind and tombstone, and the refusals a restore stops at.
@Suite struct ChangelogTests {
    static let scope = ChangelogScope(inputTopic: "auth-events")

    /// An engine recording changes that has processed the snapshot tests' stream, event i at offset i.
    static func recording(config: VigilConfig = VigilConfig()) -> RiskEngine {
        var engine = RiskEngine(config: config, policyVersion: "test", deviceKey: .publicDefault)
        engine.recordsChanges = true
        let geo = Dictionary(uniqueKeysWithValues: Places.table.map { (IPAddress($0.key)!, $0.value) })
        for (offset, event) in StateSnapshotTests.events().enumerated() {
            _ = engine.process(event, intel: event.ip.map { geo[$0] ?? .unknown }, offset: Int64(offset))
        }
        return engine
    }

    static func restored(from records: [ChangelogRecord], key: SipHashKey = .publicDefault) throws -> RiskEngine {
        var engine = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: key)
        for record in records {
            #expect(try engine.applyChangelogRecord(key: record.key, value: record.value, scope: scope))
        }
        return engine
    }

    static func entryKey(_ record: ChangelogRecord) -> StateEntryKey {
        try! ChangelogKey(bytes: record.key).entry
    }

    @Test func scopeTagIsStableAndTheKeyEndsWithIt() throws {
        #expect(ChangelogScope(inputTopic: "auth-events") == Self.scope)
        #expect(ChangelogScope(inputTopic: "auth-events-eu").tag != Self.scope.tag)
        let key = ChangelogKey(entry: StateEntryKey(kind: .user, hash: 0x0102_0304_0506_0708), scope: Self.scope.tag)
        let tag = Self.scope.tag
        #expect(
            key.bytes
                == [1, 8, 7, 6, 5, 4, 3, 2, 1]
                + [UInt8(tag & 0xFF), UInt8(tag >> 8 & 0xFF), UInt8(tag >> 16 & 0xFF), UInt8(tag >> 24)])
        #expect(try ChangelogKey(bytes: key.bytes) == key)
    }

    @Test func aFlushIsOrderedAndEveryValueStampedWithIt() throws {
        var engine = Self.recording()
        #expect(engine.hasUnflushedChanges)
        let records = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        #expect(!engine.hasUnflushedChanges)
        let kinds = records.map { Self.entryKey($0).kind }
        #expect(kinds.first == .flushBegin && kinds.last == .checkpoint)
        #expect(kinds[kinds.count - 2] == .shard)
        let entities = records.dropFirst().dropLast(2).map(Self.entryKey)
        let order: [StateEntryKind] = [.user, .source, .domain, .campaign, .globalBucket]
        #expect(
            entities
                == entities.sorted {
                    (order.firstIndex(of: $0.kind)!, $0.hash) < (order.firstIndex(of: $1.kind)!, $1.hash)
                })
        #expect(entities.filter { $0.kind == .user }.count == engine.state.userCount)
        #expect(entities.filter { $0.kind == .source }.count == engine.state.sourceCount)
        #expect(entities.filter { $0.kind == .domain }.count == engine.state.domainCount)
        #expect(entities.filter { $0.kind == .campaign }.count == engine.state.campaignCount)
        #expect(entities.filter { $0.kind == .globalBucket }.count == engine.state.global.occupiedSlots.count)
        let fingerprint = UInt32(truncatingIfNeeded: engine.keys.fingerprint)
        for record in records {
            var reader = StateReader(record.value!)
            // Nothing in this stream needs version 2's fields (no Shared Signals): the first format, but for
            // a user with a login model profile or a login waiting for its MFA success (version 4), or an MFA
            // success waiting for its login (version 3's list).
            let user = engine.state.users[Self.entryKey(record).hash]
            let profiled = user.map { !$0.profile.isEmpty || !$0.pendingLogins.isEmpty } ?? false
            let remembering = user.map { !$0.verifiedLinks.isEmpty } ?? false
            let expected: UInt8 =
                Self.entryKey(record).kind == .campaign
                ? StateEntryCodec.campaignVersion : profiled ? 4 : remembering ? 3 : StateEntryCodec.firstVersion
            #expect(try reader.u8("version") == expected)
            #expect(try reader.u32("fingerprint") == fingerprint)
            #expect(try reader.i64("offset") == 53)
        }
        #expect(records.contains { $0.value?.first == 4 })
        #expect(records.contains { $0.value?.first == StateEntryCodec.firstVersion })
        // Nothing changed since: the shard entry alone between the markers.
        let again = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        #expect(again.map { Self.entryKey($0).kind } == [.flushBegin, .shard, .checkpoint])
    }

    @Test func recordingChangesNothingElseAndIsOffByDefault() {
        var plain = StateSnapshotTests.engine()
        #expect(!plain.recordsChanges && !plain.hasUnflushedChanges)
        let verdicts = StateSnapshotTests.feed(StateSnapshotTests.events(), to: &plain)
        #expect(!plain.hasUnflushedChanges)
        #expect(plain.takeChangelogFlush(stamp: 1, scope: Self.scope).isEmpty)
        var recording = StateSnapshotTests.engine()
        recording.recordsChanges = true
        let recorded = StateSnapshotTests.feed(StateSnapshotTests.events(), to: &recording)
        #expect(recorded.map(\.decision) == verdicts.map(\.decision))
        #expect(recorded.map(\.alerts) == verdicts.map(\.alerts))
        #expect(recording.stateSnapshot() == plain.stateSnapshot())
    }

    @Test func everyKindRoundTripsThroughAFlush() throws {
        var engine = Self.recording()
        let records = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        let restored = try Self.restored(from: records)
        #expect(ChangelogCrashTests.entries(restored) == ChangelogCrashTests.entries(engine))
        #expect(restored.state.global == engine.state.global)
        #expect(
            restored.restoredCheckpoint
                == ChangelogCheckpoint(stamp: 53, settingsDigest: VigilConfig().engine.stateDigest))
        #expect(restored.isReplayGuarded)
    }

    /// Users, sources and domains evicted by the idle sweep, and a dropped rare part, are written:
    /// tombstones for the evicted, the user without its rare part.
    @Test func sweptEntriesBecomeTombstones() throws {
        var config = VigilConfig()
        config.engine.userIdleTTL = .hours(2)
        var engine = Self.recording(config: config)
        var records = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        let usersBefore = engine.state.userCount
        let sourcesBefore = engine.state.sourceCount
        // One user active for three hours: sweeps evict every other user, source and domain.
        for step in 0..<20 {
            let event = AuthEvent(
                eventID: "later-\(step)", type: .login, time: EngineHarness.at(80 + Double(step) * 10),
                user: User(id: "keeper"), ip: IPAddress(Places.london), outcome: .success)
            _ = engine.process(event, intel: nil, offset: Int64(54 + step))
        }
        #expect(engine.state.userCount == 1 && engine.state.sourceCount == 0 && engine.state.domainCount == 0)
        let flush = engine.takeChangelogFlush(stamp: 73, scope: Self.scope)
        let tombstones = flush.filter { $0.value == nil }.map(Self.entryKey)
        #expect(tombstones.filter { $0.kind == .user }.count == usersBefore)
        #expect(tombstones.filter { $0.kind == .source }.count == sourcesBefore)
        #expect(tombstones.filter { $0.kind == .domain }.count == 1)
        records += flush
        let restored = try Self.restored(from: records)
        #expect(ChangelogCrashTests.entries(restored) == ChangelogCrashTests.entries(engine))
        #expect(restored.figures.evictedUsers == usersBefore)
    }

    @Test func aRecordOfAnotherScopeIsSkipped() throws {
        var engine = Self.recording()
        let records = engine.takeChangelogFlush(stamp: 53, scope: ChangelogScope(inputTopic: "other"))
        var target = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault)
        for record in records {
            #expect(try !target.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope))
        }
        #expect(target.state.userCount == 0 && !target.isReplayGuarded)
    }

    @Test func refusalsSayWhatToDo() throws {
        var engine = Self.recording()
        let records = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        let user = records.first { Self.entryKey($0).kind == .user }!
        var target = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault)
        func refusal(_ key: [UInt8], _ value: [UInt8]?) -> ChangelogRestoreError? {
            do {
                try target.applyChangelogRecord(key: key, value: value, scope: Self.scope)
                return nil
            } catch {
                return error
            }
        }
        let next = StateEntryCodec.formatVersion + 1
        var newer = user.value!
        newer[0] = next
        #expect(refusal(user.key, newer) == .unknownVersion(next))
        var unknownKind = user.key
        unknownKind[0] = 99
        #expect(refusal(unknownKind, newer) == .unknownVersion(next))
        #expect(refusal(unknownKind, user.value) == .corrupt("unknown entry kind 99"))
        var foreign = user.value!
        foreign[1] ^= 0xFF
        #expect(refusal(user.key, foreign) == .foreignKey)
        guard case .corrupt(let truncated) = refusal(user.key, Array(user.value!.prefix(20))) else {
            Issue.record("a truncated value is not corrupt")
            return
        }
        #expect(truncated.hasPrefix("truncated in"))
        #expect(refusal(Array(user.key.prefix(9)), user.value) != nil)
        let shardKey = ChangelogKey(entry: StateEntryKey(kind: .shard, hash: 0), scope: Self.scope.tag).bytes
        #expect(refusal(shardKey, nil) != nil)
        let names = ChangelogKey(entry: StateEntryKey(kind: .names, hash: 0), scope: Self.scope.tag).bytes
        #expect(refusal(names, StateEntryCodec(keys: engine.keys).encodeNames(NameTable(), appliedOffset: 1)) != nil)
        let slot60 = ChangelogKey(entry: StateEntryKey(kind: .globalBucket, hash: 60), scope: Self.scope.tag).bytes
        #expect(refusal(slot60, nil) != nil)
        // A whole changelog written under another secret stops at its first record.
        #expect(throws: ChangelogRestoreError.foreignKey) {
            _ = try Self.restored(from: records, key: SipHashKey(k0: 5, k1: 6))
        }
        for error in [ChangelogRestoreError.unknownVersion(2), .foreignKey, .corrupt("x")] {
            #expect(error.description.contains("delete the changelog topic"))
        }
        #expect(ChangelogRestoreError.foreignKey.description.contains("VIGIL_DEVICE_HASH_KEY"))
    }

    /// A snapshot stamped with an input offset guards the input up to it: an event at or below it is
    /// decided but changes nothing; one past it changes state and drops the guard.
    @Test func aStampedSnapshotGuardsTheInputItReflects() throws {
        let source = Self.recording()
        let snapshot = source.stateSnapshot(appliedOffset: 53)
        var engine = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault)
        #expect(try engine.restoreState(snapshot: snapshot).stamp == 53)
        let event = StateSnapshotTests.events().last!
        let again = engine.process(event, intel: nil, offset: 53)
        #expect(again.decision?.decisionID != nil)
        #expect(engine.stateSnapshot(appliedOffset: 53) == snapshot)
        #expect(engine.isReplayGuarded)
        _ = engine.process(event, intel: nil, offset: 54)
        #expect(!engine.isReplayGuarded)
        #expect(engine.stateSnapshot(appliedOffset: 53) != snapshot)
        // Replay snapshots carry no offset and guard nothing.
        var replay = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault)
        #expect(try replay.restoreState(snapshot: source.stateSnapshot()).stamp == -1)
        #expect(!replay.isReplayGuarded)
    }
    /// A shard kept in memory across a rebalance guards the input its state already reflects: input
    /// coming again from an older committed offset is decided but changes nothing; the next new input
    /// changes state and drops the guard. A guard still up from a restore keeps what it protects beyond.
    @Test func aKeptShardGuardsTheInputItReflects() throws {
        // One login per offset (each its own event id: the same id at another offset is a repeat).
        let lines = (0..<4).map { offset in
            Array(
                #"{"event_id":"k\#(offset)","type":"login","time":"2026-09-21T10:00:00Z","user":{"id":"alice"},"ip":"203.0.113.7","outcome":"success"}"#
                    .utf8)
        }
        var kept = Pipeline(config: VigilConfig(), policyVersion: "test", enricher: nil, deviceKey: .publicDefault)
        kept.recordsChanges = true
        var output: [OutputMessage] = []
        for offset in 0..<3 {
            kept.process(
                lines[offset], origin: .kafka(topic: "auth-events", partition: 0, offset: Int64(offset)), into: &output)
        }
        _ = kept.takeChangelogFlush(stamp: 2, scope: Self.scope)
        kept.guardInput(through: 2)
        #expect(kept.isReplayGuarded)
        let before = ChangelogCrashTests.entries(kept.engine)
        kept.process(lines[1], origin: .kafka(topic: "auth-events", partition: 0, offset: 1), into: &output)
        kept.process(lines[2], origin: .kafka(topic: "auth-events", partition: 0, offset: 2), into: &output)
        #expect(ChangelogCrashTests.entries(kept.engine) == before)
        #expect(!kept.hasUnflushedChanges)
        kept.process(lines[3], origin: .kafka(topic: "auth-events", partition: 0, offset: 3), into: &output)
        #expect(!kept.isReplayGuarded)
        #expect(ChangelogCrashTests.entries(kept.engine) != before)
        #expect(output.count == 6 && output.allSatisfy { $0.stream == .decisions })

        // Below what a restore's guard protects, the stamp changes nothing: the guard stays up past it.
        var restored = Pipeline(config: VigilConfig(), policyVersion: "test", enricher: nil, deviceKey: .publicDefault)
        try restored.restoreState(snapshot: kept.stateSnapshot(appliedOffset: 9))
        restored.guardInput(through: 5)
        let snapshot = ChangelogCrashTests.entries(restored.engine)
        restored.process(lines[3], origin: .kafka(topic: "auth-events", partition: 0, offset: 8), into: &output)
        #expect(restored.isReplayGuarded)
        #expect(ChangelogCrashTests.entries(restored.engine) == snapshot)
        // A negative stamp (nothing processed) guards nothing.
        var fresh = Pipeline(config: VigilConfig(), policyVersion: "test", enricher: nil, deviceKey: .publicDefault)
        fresh.guardInput(through: -1)
        #expect(!fresh.isReplayGuarded)
    }

    static func flushedKeys(_ records: [ChangelogRecord], tombstones: Bool) -> [StateEntryKey] {
        records.filter { ($0.value == nil) == tombstones }.map(entryKey)
    }

    /// A dropped rarely used part is a change of the user: the next flush writes the user without it.
    @Test func aDroppedRarePartIsWritten() throws {
        var h = EngineHarness()
        h.engine.recordsChanges = true
        h.login("failing", at: 0, outcome: .failure)
        let key = EngineKeys(secret: .publicDefault).userKey(tenant: nil, userID: "failing")
        #expect(h.engine.state.users[key]?.hasRareState == true)
        _ = h.engine.takeChangelogFlush(stamp: 0, scope: Self.scope)
        for step in 1...60 { h.login("other", at: Double(step) * 30) }
        #expect(h.engine.state.users[key]?.hasRareState == false)
        let flush = h.engine.takeChangelogFlush(stamp: 60, scope: Self.scope)
        #expect(Self.flushedKeys(flush, tombstones: false).contains(StateEntryKey(kind: .user, hash: key)))
        let restored = try Self.restored(from: flush)
        #expect(restored.state.users[key].map { !$0.hasRareState } == true)
    }

    /// Users, sources and domains dropped at a capacity limit become tombstones.
    @Test func capacityDropsBecomeTombstones() {
        var config = VigilConfig()
        config.engine.maxUsers = 20
        config.engine.maxSources = 20
        config.engine.maxEmailDomains = 20
        var h = EngineHarness(config: config)
        h.engine.recordsChanges = true
        for i in 0..<20 {
            h.resetRequest("u\(i)", at: Double(i) * 0.01, ip: "198.51.100.\(i)", domain: "d\(i).example")
        }
        _ = h.engine.takeChangelogFlush(stamp: 19, scope: Self.scope)
        h.resetRequest("one-more", at: 1, ip: "198.51.100.200", domain: "new.example")
        #expect(h.engine.figures.droppedAtCapacity == 3 * 3)
        let tombstones = Self.flushedKeys(h.engine.takeChangelogFlush(stamp: 20, scope: Self.scope), tombstones: true)
        for kind in [StateEntryKind.user, .source, .domain] {
            #expect(tombstones.filter { $0.kind == kind }.count == 3, "\(kind)")
        }
    }

    /// A reload that changes the global window restarts the ring: every slot it held is written as
    /// a tombstone, with the shard entry carrying the new window.
    @Test func aNewGlobalWindowClearsTheRingInTheChangelog() throws {
        var engine = Self.recording()
        var records = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        let slots = engine.state.global.occupiedSlots
        #expect(!slots.isEmpty)
        var config = VigilConfig()
        config.engine.globalWindow = .minutes(30)
        engine.reconfigure(config, policyVersion: "test")
        #expect(engine.hasUnflushedChanges)
        let flush = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        #expect(
            Self.flushedKeys(flush, tombstones: true)
                == slots.map { StateEntryKey(kind: .globalBucket, hash: UInt64($0)) })
        records += flush
        var restored = RiskEngine(config: config, policyVersion: "test", deviceKey: .publicDefault)
        for record in records {
            try restored.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope)
        }
        #expect(restored.state.global == engine.state.global)
    }

    /// An entry record stamped below the floor a restore reached is a late write of an earlier owner of
    /// the partition (no flush writes one there): it is skipped, values and tombstones alike.
    @Test func anEntryRecordBelowTheFloorIsALateWriteAndSkipped() throws {
        var current = Self.recording()
        let records = current.takeChangelogFlush(stamp: 53, scope: Self.scope)
        var earlier = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault)
        earlier.recordsChanges = true
        let geo = Dictionary(uniqueKeysWithValues: Places.table.map { (IPAddress($0.key)!, $0.value) })
        for (offset, event) in StateSnapshotTests.events().prefix(20).enumerated() {
            _ = earlier.process(event, intel: event.ip.map { geo[$0] ?? .unknown }, offset: Int64(offset))
        }
        let late = earlier.takeChangelogFlush(stamp: 19, scope: Self.scope)
        #expect(late.count > 3)
        let expected = try Self.restored(from: records)
        let restored = try Self.restored(from: records + late)
        #expect(ChangelogCrashTests.entries(restored) == ChangelogCrashTests.entries(expected))
        #expect(restored.restoredCheckpoint == expected.restoredCheckpoint)
        // At the floor itself a flush may write entries (a configuration change after the last input).
        #expect(ChangelogCrashTests.entries(try Self.restored(from: late)) != ChangelogCrashTests.entries(expected))
    }

    /// A restore that ended on a checkpoint reflects its stamp exactly, though guarded: input above it
    /// ends that; one that ended inside a flush cut short reflects no single stamp.
    @Test func aStateRestoredToACheckpointReflectsItsStampExactly() throws {
        var source = Self.recording()
        let records = source.takeChangelogFlush(stamp: 53, scope: Self.scope)
        var restored = try Self.restored(from: records)
        #expect(restored.isReplayGuarded && restored.uniformlyRestoredStamp == 53)
        let events = StateSnapshotTests.events()
        _ = restored.process(events[53], intel: nil, offset: 53)
        #expect(restored.uniformlyRestoredStamp == 53)
        _ = restored.process(events[53], intel: nil, offset: 54)
        #expect(restored.uniformlyRestoredStamp == nil)
        _ = source.process(events[53], intel: nil, offset: 60)
        let cut = try Self.restored(from: records + source.takeChangelogFlush(stamp: 60, scope: Self.scope).dropLast())
        #expect(cut.isReplayGuarded && cut.uniformlyRestoredStamp == nil)
        #expect(
            RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault).uniformlyRestoredStamp
                == nil)
    }

    /// Under a restore's guard, a restart of the global windows is not flushed below the floor (a
    /// restore would skip it there) but with the first flush at the floor or beyond.
    @Test func aGlobalWindowRestartUnderTheGuardWaitsForAFlushAtTheFloor() throws {
        var source = Self.recording()
        let records = source.takeChangelogFlush(stamp: 53, scope: Self.scope)
        var engine = RiskEngine(config: VigilConfig(), policyVersion: "test", deviceKey: .publicDefault)
        engine.recordsChanges = true
        for record in records {
            try engine.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope)
        }
        var config = VigilConfig()
        config.engine.globalWindow = .minutes(30)
        engine.reconfigure(config, policyVersion: "test")
        #expect(engine.takeChangelogFlush(stamp: 40, scope: Self.scope) == [])
        #expect(engine.hasUnflushedChanges)
        let flush = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        #expect(!Self.flushedKeys(flush, tombstones: true).isEmpty)
        var restored = RiskEngine(config: config, policyVersion: "test", deviceKey: .publicDefault)
        for record in records + flush {
            try restored.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope)
        }
        #expect(restored.state.global == engine.state.global)
    }

    /// The pipeline hands a Kafka message's offset to the guard; messages from files carry none.
    @Test func thePipelineGuardsByKafkaOffset() throws {
        let line = Array(
            #"{"event_id":"p1","type":"login","time":"2026-09-21T10:00:00Z","user":{"id":"alice"},"ip":"203.0.113.7","outcome":"success"}"#
                .utf8)
        func pipeline() -> Pipeline {
            Pipeline(config: VigilConfig(), policyVersion: "test", enricher: nil, deviceKey: .publicDefault)
        }
        var source = pipeline()
        source.recordsChanges = true
        var output: [OutputMessage] = []
        source.process(line, origin: .kafka(topic: "auth-events", partition: 0, offset: 7), into: &output)
        let records = source.takeChangelogFlush(stamp: 7, scope: Self.scope)
        var restored = pipeline()
        for record in records {
            #expect(try restored.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope))
        }
        #expect(restored.restoredCheckpoint?.stamp == 7 && restored.isReplayGuarded)
        let before = ChangelogCrashTests.entries(restored.engine)
        restored.process(line, origin: .kafka(topic: "auth-events", partition: 0, offset: 7), into: &output)
        #expect(ChangelogCrashTests.entries(restored.engine) == before)
        // Another event (the same id would be a repeat) changes state.
        let next = Array(String(decoding: line, as: UTF8.self).replacingOccurrences(of: "p1", with: "p2").utf8)
        restored.process(next, origin: .file(path: "x", line: 1), into: &output)
        #expect(ChangelogCrashTests.entries(restored.engine) != before)
        #expect(output.count == 3 && output.allSatisfy { $0.stream == .decisions })
    }
    /// The guard finds a user under the key the state uses, whatever form of the id the event carries.
    @Test func theGuardKeysUsersAsTheStateDoes() throws {
        var h = EngineHarness()
        h.engine.recordsChanges = true
        _ = h.engine.process(
            AuthEvent(
                eventID: "first", type: .login, time: EngineHarness.at(0), user: User(id: "alice"),
                ip: IPAddress(Places.london), outcome: .success), intel: nil, offset: 0)
        let restored = try Self.restored(from: h.engine.takeChangelogFlush(stamp: 0, scope: Self.scope))
        var engine = restored
        _ = engine.process(
            AuthEvent(
                eventID: "first", type: .login, time: EngineHarness.at(0), user: User(id: " Alice "),
                ip: IPAddress(Places.london), outcome: .success), intel: nil, offset: 0)
        #expect(engine.state.userCount == 1)
        #expect(ChangelogCrashTests.entries(engine) == ChangelogCrashTests.entries(restored))
    }
    /// A flush past everything a restore guarded ends the guard even when the last messages before it
    /// never reached the engine (dead letters), and its records restore again.
    @Test func aFlushPastTheGuardEndsIt() throws {
        var engine = Self.recording()
        let records = engine.takeChangelogFlush(stamp: 53, scope: Self.scope)
        // The flush cut before its shard entry: the counters wait in the flush begin.
        let cut = Array(records.prefix(records.count - 2))
        var restored = try Self.restored(from: cut)
        restored.recordsChanges = true
        #expect(restored.isReplayGuarded)
        let flush = restored.takeChangelogFlush(stamp: 60, scope: Self.scope)
        #expect(!restored.isReplayGuarded)
        #expect(restored.figures.evictedUsers == engine.figures.evictedUsers)
        #expect(restored.state.counters == engine.state.counters)
        let again = try Self.restored(from: cut + flush)
        #expect(again.state.counters == engine.state.counters)
    }
}
