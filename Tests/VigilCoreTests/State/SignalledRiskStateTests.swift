import Testing
import _VigilMachinery

@testable import VigilCore

/// The user's signalled and raised risk (the Shared Signals' memory) is state like any other: it goes
/// through the changelog, and entries written before it existed (format version 1) still restore.
@Suite struct SignalledRiskStateTests {
    static let scope = ChangelogScope(inputTopic: "auth-events")

    static func config() -> VigilConfig {
        var config = VigilConfig()
        config.ssf.enabled = true
        config.ssf.riskLevelHold = .hours(1)
        return config
    }

    /// An engine that raised carol's risk to high (push bombing, then an accepted push), its records.
    static func raised() -> (EngineHarness, [ChangelogRecord]) {
        var h = EngineHarness(config: config())
        h.engine.recordsChanges = true
        h.establish("carol", at: -10)
        for i in 0..<3 { h.push("carol", at: Double(i), result: .denied) }
        #expect(h.push("carol", at: 3, result: .approved).riskLevelChange?.current == .high)
        return (h, h.engine.takeChangelogFlush(stamp: 9, scope: scope))
    }

    static func restored(_ records: [ChangelogRecord]) throws -> EngineHarness {
        var h = EngineHarness(config: config())
        for record in records {
            _ = try h.engine.applyChangelogRecord(key: record.key, value: record.value, scope: scope)
        }
        return h
    }

    /// Restored, the raised level still holds (a quiet login changes nothing) and still falls after it.
    @Test func theRaisedLevelSurvivesARestore() throws {
        let (_, records) = Self.raised()
        var h = try Self.restored(records)
        #expect(h.login("carol", at: 30).riskLevelChange == nil)
        let change = try #require(h.login("carol", at: 64).riskLevelChange)
        #expect(change.previous == .high && change.current == .low)
    }

    /// Without the risk fields (what this Vigil's predecessor wrote: version 1) the user restores whole
    /// and counts as never signalled.
    @Test func aVersionOneEntryRestoresAsNeverSignalled() throws {
        let (_, records) = Self.raised()
        let index = try #require(records.firstIndex { try! ChangelogKey(bytes: $0.key).entry.kind == .user })
        var old = records
        var value = try #require(old[index].value)
        #expect(value[0] == 4)
        // profile presence 1 · hours 16 · blocks 8 · cities 4 · browsers 2 · systems 1 · logins 1 (version 4), then
        // no pending logins 4 · no remembered MFA successes 4 (version 3), then signalled risk 1 · raised
        // presence 1 · raised level 1 · until 8 (version 2)
        #expect(value[value.count - 33] == 1)
        #expect(value[(value.count - 41)..<(value.count - 33)].allSatisfy { $0 == 0 })
        value.removeLast(33 + 8 + 11)
        value[0] = 1
        old[index] = ChangelogRecord(key: old[index].key, value: value)
        var h = try Self.restored(old)
        #expect(h.engine.userCount == 1)
        #expect(h.engine.state.users.values.first?.profile.isEmpty == true)
        // Written by this Vigil, a user whose risk was never raised and who has no profile (no login
        // learned: only a failed one) is a version-1 value still.
        var quiet = EngineHarness(config: Self.config())
        quiet.engine.recordsChanges = true
        quiet.login("dora", at: 0, outcome: .failure)
        let written = quiet.engine.takeChangelogFlush(stamp: 3, scope: Self.scope)
        let user = try #require(written.first { try! ChangelogKey(bytes: $0.key).entry.kind == .user })
        #expect(quiet.engine.state.users.values.first?.profile.isEmpty == true)
        #expect(user.value?.first == StateEntryCodec.firstVersion)
        // Never signalled and no raised level: a quiet login is quiet.
        #expect(h.login("carol", at: 30).riskLevelChange == nil)
        // A value of version 4 cut short is refused: its fields are required.
        var cut = try #require(records[index].value)
        cut.removeLast(11)
        var strict = EngineHarness(config: Self.config())
        #expect(throws: ChangelogRestoreError.self) {
            try strict.engine.applyChangelogRecord(key: records[index].key, value: cut, scope: Self.scope)
        }
    }
}
