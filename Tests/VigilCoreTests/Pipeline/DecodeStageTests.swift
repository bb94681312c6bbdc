import Testing
import VigilTestSupport

@testable import VigilCore

/// The decode stage decides lateness with its own watermark, and its changelog record carries that
/// watermark across a restart; records of other kinds or scopes are not its own.
@Suite struct DecodeStageTests {
    static let scope = ChangelogScope(inputTopic: "logins")

    static func decode(_ stage: inout DecodeStage, id: String, time: String) -> (late: Bool, records: [StageRecord]) {
        var output: [OutputMessage] = []
        var records: [StageRecord] = []
        stage.process(
            Array(EventLines.login(id: id, time: time, user: "u-\(id)", outcome: "failure").utf8),
            origin: .file(path: "in", line: 1), into: &output, records: &records)
        let late = records.first.flatMap { record in
            record.value.withUnsafeBytes { try? StageRecordCodec.decodeUser($0).late }
        }
        return (late ?? false, records)
    }

    @Test func aLateEventGoesToTheUserStageOnlyFlaggedLate() {
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        let onTime = Self.decode(&stage, id: "a", time: "2026-03-02T12:00:00Z")
        #expect(!onTime.late)
        #expect(onTime.records.map(\.stage) == [.user, .source])
        let late = Self.decode(&stage, id: "b", time: "2026-03-02T09:00:00Z")
        #expect(late.late)
        #expect(late.records.map(\.stage) == [.user])
        #expect(stage.stats.lateEvents == 1)
    }

    @Test func theWatermarkSurvivesARestartThroughItsChangelogRecord() throws {
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        _ = Self.decode(&stage, id: "a", time: "2026-03-02T12:00:00Z")
        let record = stage.changelogRecord(stamp: 41, scope: Self.scope)
        var restored = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        #expect(try restored.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope))
        #expect(restored.newestEventTime == stage.newestEventTime)
        #expect(Self.decode(&restored, id: "b", time: "2026-03-02T09:00:00Z").late)
        // Without it, a restarted stage would take the same event as on time.
        var forgetful = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        #expect(!Self.decode(&forgetful, id: "b", time: "2026-03-02T09:00:00Z").late)
    }

    @Test func recordsOfOtherScopesOrKindsAreNotItsOwn() throws {
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        _ = Self.decode(&stage, id: "a", time: "2026-03-02T12:00:00Z")
        let record = stage.changelogRecord(stamp: 1, scope: Self.scope)
        var other = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        #expect(
            try !other.applyChangelogRecord(
                key: record.key, value: record.value, scope: ChangelogScope(inputTopic: "x")))
        #expect(other.newestEventTime == nil)
        // An engine restoring the same changelog partition skips the decode stage's record.
        var engine = RiskEngine(config: VigilConfig(), policyVersion: "t", deviceKey: .publicDefault, stage: .user)
        #expect(try !engine.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope))
        var corrupt = record.value!
        corrupt.append(0)
        #expect(throws: ChangelogRestoreError.self) {
            try other.applyChangelogRecord(key: record.key, value: corrupt, scope: Self.scope)
        }
        #expect(throws: ChangelogRestoreError.self) {
            try other.applyChangelogRecord(key: record.key, value: nil, scope: Self.scope)
        }
    }
}
