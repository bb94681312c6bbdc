import Foundation
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

    /// A repeated member name is the input's, so the reason (a header, a metric label, a line of the
    /// replay summary) never names it: any number of names, escapes included, make one reason; the
    /// detail quotes the name, escaped.
    @Test func deadLetterReasonsNameNothingTheInputChose() throws {
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault, format: .okta)
        func refuse(_ member: String) -> OutputMessage? {
            var output: [OutputMessage] = []
            var records: [StageRecord] = []
            let line = #"{"uuid":"u1","eventType":"user.session.start","\#(member)":1,"\#(member)":2}"#
            stage.process(Array(line.utf8), origin: .file(path: "in", line: 1), into: &output, records: &records)
            return output.first
        }
        let escaped = try #require(refuse(#"k\u001b[31m\r\nX"#))
        #expect(escaped.label == "duplicate_field:okta")
        let payload = String(decoding: escaped.payload, as: UTF8.self)
        #expect(payload.contains(#""reason":"duplicate_field:okta","#))
        #expect(payload.contains(#"k\u001b[31m\r\nX appears more than once"#), "\(payload)")
        for index in 0..<100 { _ = refuse("k\(index)") }
        #expect(stage.stats.deadLetters == ["duplicate_field:okta": 101])
    }

    /// Array indexes are left out of a reason, and a path outside the schema's grammar leaves the kind.
    @Test func reasonCodesFollowTheSchemasGrammar() {
        func code(_ field: String) -> String { DecodeFailure(.invalidType, field: field, detail: "").reasonCode }
        #expect(code("okta.target[7].id") == "invalid_type:okta.target[].id")
        #expect(code("keycloak.userId") == "invalid_type:keycloak.userId")
        for odd in [
            "okta.x[", "okta.", "okta.a..b", "ssf.events.https://x.example/e", String(repeating: "a", count: 65),
        ] {
            #expect(code(odd) == "invalid_type", "\(odd)")
        }
    }

    /// An event id or tenant with a control or invisible character, or a blank one, is refused as the
    /// user id is, whatever the format: both are copied into outputs, and the tenant keys state.
    @Test func eventIDsAndTenantsFollowTheUserIDsRule() {
        func reasons(_ line: String, format: InputFormat = .vigil) -> [String] {
            var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault, format: format)
            var output: [OutputMessage] = []
            var records: [StageRecord] = []
            stage.process(Array(line.utf8), origin: .file(path: "in", line: 1), into: &output, records: &records)
            return output.filter { $0.stream == .deadLetters }.compactMap(\.label)
        }
        let time = "2026-03-02T12:00:00Z"
        #expect(reasons(EventLines.login(id: #"e1\u001b[31m"#, time: time, user: "u")) == ["invalid_value:event_id"])
        #expect(
            reasons(EventLines.login(id: "e2", time: time, user: "u", tenant: "\u{2028}t")) == ["invalid_value:tenant"])
        #expect(reasons(EventLines.login(id: "e3", time: time, user: "u", tenant: "   ")) == ["invalid_value:tenant"])
        #expect(reasons(EventLines.login(id: "e4", time: time, user: "u", tenant: "acme")).isEmpty)
        let okta = OktaRecordTests.record("user.session.start").replacingOccurrences(
            of: #""uuid":"3f5d2a10-a9c4-11ee-9d35-6b1a2f0e4c11""#, with: #""uuid":"x\u202Ey""#)
        #expect(reasons(okta, format: .okta) == ["invalid_value:event_id"])
    }

    @Test func aLateEventGoesToTheUserStageOnlyFlaggedLate() {
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault)
        let onTime = Self.decode(&stage, id: "a", time: "2026-03-02T12:00:00Z")
        #expect(!onTime.late)
        #expect(onTime.records.map(\.stage) == [.user, .source, .campaign])
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

/// A batch message (Entra's `{"records": [...]}`): every event of every record is routed with its own input
/// position, a bad record becomes a dead letter alone, and the batch consumed again changes nothing twice.
@Suite struct DecodeStageBatchTests {
    static let push = EntraRecordTests.step(
        "Mobile app notification", succeeded: "false", detail: "MFA denied; user declined the authentication")
    static let broken = #"{"category":"SignInLogs","properties":{"id":"broken","status":{"errorCode":0}}}"#
    static let batch = Array(
        (#"{"records":["# + EntraRecordTests.signIn(steps: "[\(EntraRecordTests.password),\(push)]") + ","
            + broken + "," + EntraRecordTests.audit("Reset password (self-service)") + "]}").utf8)
    static let origin = MessageOrigin.kafka(topic: "entra.signins", partition: 2, offset: 7)

    static func decode() -> (output: [OutputMessage], records: [StageRecord]) {
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault, format: .entra)
        var output: [OutputMessage] = []
        var records: [StageRecord] = []
        stage.process(batch, origin: origin, into: &output, records: &records)
        return (output, records)
    }

    @Test func eachEventHasItsOwnPositionAndTheBadRecordIsADeadLetterAlone() throws {
        let (output, records) = Self.decode()
        let user = records.filter { $0.stage == .user }
        let positions = try user.map { record in
            try record.value.withUnsafeBytes { try StageRecordCodec.decodeUser($0).origin }
        }
        // The login, the push and its denial of record 0, then the reset of record 2: events 0–3 of offset 7.
        #expect(positions.map { $0?.offset } == (0..<4).map { 7 * Int64(InputPosition.eventsPerMessage) + $0 })
        #expect(Set(positions.map { $0?.partition }).count == 1)

        #expect(output.map(\.stream) == [.deadLetters])
        let payload = try #require(output.first).payload
        let letter = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        #expect(letter["reason"] as? String == "missing_field:entra.properties.createdDateTime")
        #expect(letter["payload"] as? String == Self.broken)
        #expect(letter["size"] as? Int == Self.broken.utf8.count)
        let source = try #require(letter["origin"] as? [String: Any])
        #expect(source["offset"] as? Int == 7)
        #expect(source["record"] as? Int == 1)
    }

    @Test func theBatchConsumedAgainIsRecognisedEventByEvent() throws {
        let records = Self.decode().records.filter { $0.stage == .user }
        var shard = StageProcessor(
            stage: .user, config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        var first: [OutputMessage] = []
        var again: [OutputMessage] = []
        for record in records { _ = try shard.process(record.value, globalFacts: GlobalFactTable(), into: &first) }
        for record in records { _ = try shard.process(record.value, globalFacts: GlobalFactTable(), into: &again) }
        // The first time no event of the message passes for a copy of another; the second time each is one.
        #expect(!first.isEmpty)
        #expect(!first.contains { $0.reemitted })
        #expect(again.map(\.stream) == first.map(\.stream))
        #expect(again.allSatisfy { $0.reemitted })
    }
}

/// Repeated deliveries of one event (same id within its tenant) count once: dropped by the decode stage
/// of the input partition they share, or by the user stage when they came on different input partitions.
@Suite struct DuplicateEventTests {
    /// A denied push with id `id` at minute `minute`.
    static func denial(_ id: String, minute: Int) -> [UInt8] {
        Array(
            #"{"event_id":"\#(id)","type":"mfa_result","time":"2026-03-02T12:1\#(minute):30Z","tenant":"acme","user":{"id":"carol"},"ip":"81.2.69.142","mfa":{"factor":"push","result":"denied"}}"#
                .utf8)
    }

    static func replay(_ lines: [[UInt8]], config: VigilConfig = VigilConfig()) -> (PipelineStats, [OutputMessage]) {
        var pipeline = PartitionedPipeline(
            config: config, policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        var output: [OutputMessage] = []
        for (index, line) in lines.enumerated() {
            pipeline.process(line, origin: .file(path: "in", line: index + 1), into: &output)
        }
        return (pipeline.stats, output)
    }

    @Test func fourDenialsDeliveredTwiceAreFourNotEight() {
        // Push bombing needs five denials in ten minutes: four, each delivered twice, must not raise it.
        let twice = (0..<4).flatMap { [Self.denial("deny-\($0)", minute: $0), Self.denial("deny-\($0)", minute: $0)] }
        let (stats, output) = Self.replay(twice)
        #expect(stats.duplicateEvents == 4)
        #expect(stats.count(.pushBombing) == 0)
        #expect(output.isEmpty)
        // The fifth distinct denial raises it.
        let (fifth, _) = Self.replay(twice + [Self.denial("deny-4", minute: 4)])
        #expect(fifth.count(.pushBombing) == 1)
        // With the table off, the repeats count.
        var off = VigilConfig()
        off.input.maxDuplicateIDs = 0
        let (counted, _) = Self.replay(twice, config: off)
        #expect(counted.duplicateEvents == 0)
        #expect(counted.count(.pushBombing) == 1)
    }

    @Test func theSameMessageReadAgainIsNoRepeatAnotherMessageWithItsIDIs() {
        var pipeline = Pipeline(config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        let login = Array(EventLines.login(id: "dup-1", time: "2026-03-02T12:00:00Z", user: "carol").utf8)
        var output: [OutputMessage] = []
        // Offset 3, consumed again after a rebalance: its decision is produced again.
        for offset: Int64 in [3, 3] {
            pipeline.process(login, origin: .kafka(topic: "in", partition: 0, offset: offset), into: &output)
        }
        #expect(output.filter { $0.stream == .decisions }.count == 2)
        #expect(pipeline.stats.duplicateEvents == 0)
        // The producer sent it twice: offset 4 holds a repeat.
        pipeline.process(login, origin: .kafka(topic: "in", partition: 0, offset: 4), into: &output)
        #expect(output.filter { $0.stream == .decisions }.count == 2)
        #expect(pipeline.stats.duplicateEvents == 1)
    }

    @Test func theSameIDInAnotherTenantIsAnotherEvent() {
        let acme = Self.denial("deny-0", minute: 0)
        let other = Array(String(decoding: acme, as: UTF8.self).replacingOccurrences(of: "acme", with: "globex").utf8)
        #expect(Self.replay([acme, other]).0.duplicateEvents == 0)
    }

    @Test func aRepeatOnAnotherInputPartitionMeetsTheFirstInEachKeyedStage() throws {
        var partitions = (0..<2).map { _ in DecodeStage(config: VigilConfig(), deviceKey: .publicDefault) }
        var shards = [StageKind.user, .source, .campaign].map {
            StageProcessor(
                stage: $0, config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        }
        var output: [OutputMessage] = []
        // A failed login reaches the user, source and campaign (tenant) stages; its repeat comes on the other
        // partition.
        let failure = Array(
            EventLines.login(id: "dup-1", time: "2026-03-02T12:00:00Z", user: "carol", outcome: "failure").utf8)
        for partition in partitions.indices {
            var records: [StageRecord] = []
            partitions[partition].process(
                failure, origin: .kafka(topic: "in", partition: Int32(partition), offset: 0), into: &output,
                records: &records)
            #expect(records.map(\.stage) == [.user, .source, .campaign])
            for record in records {
                let shard = [StageKind.user, .source, .campaign].firstIndex(of: record.stage)!
                _ = try shards[shard].process(record.value, globalFacts: GlobalFactTable(), into: &output)
            }
        }
        #expect(partitions.map(\.stats.duplicateEvents) == [0, 0])
        #expect(shards.map(\.stats.duplicateEvents) == [1, 1, 1])
    }
}

/// A message may yield at most `InputPosition.eventsPerMessage` events: the record that would pass the
/// bound is dead-lettered whole, the records before it are read.
@Suite struct EventsPerMessageTests {
    @Test func theRecordBeyondTheBoundIsADeadLetterTheOthersAreRead() throws {
        // Each sign-in yields three events: a login, a push challenge and its answer.
        let record = { (index: Int) in
            #"{"category":"SignInLogs","properties":{"id":"s\#(index)","createdDateTime":"2026-03-02T09:00:00Z","#
                + #""userId":"u\#(index)","ipAddress":"81.2.69.142","status":{"errorCode":0},"authenticationDetails":["#
                + #"{"authenticationMethod":"Password","succeeded":true},"#
                + #"{"authenticationMethod":"Mobile app notification","succeeded":true}]}}"#
        }
        let fitting = InputPosition.eventsPerMessage / 3
        let batch = Array((#"{"records":["# + (0...fitting).map(record).joined(separator: ",") + "]}").utf8)
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault, format: .entra)
        var output: [OutputMessage] = []
        var records: [StageRecord] = []
        stage.process(
            batch, origin: .kafka(topic: "entra", partition: 0, offset: 1), into: &output, records: &records)
        #expect(records.filter { $0.stage == .user }.count == fitting * 3)
        #expect(output.map(\.label) == ["too_large"])
        let payload = try #require(output.first).payload
        let letter = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
        #expect((letter["origin"] as? [String: Any])?["record"] as? Int == fitting)
        #expect(letter["event_id"] as? String == "s\(fitting)")
    }

    /// Refusals past a message's limit on events are counted in one last dead letter (holding the
    /// first of them), not written one by one: a megabyte of `{}` made tens of thousands. Records that
    /// are skipped or read do not count against it: a valid sign-in after 4,500 skipped records is read.
    @Test func refusalsPastTheBoundAreOneDeadLetter() throws {
        let count = InputPosition.eventsPerMessage + 500
        let batch = Array((#"{"records":["# + Array(repeating: "{}", count: count).joined(separator: ",") + "]}").utf8)
        var stage = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault, format: .entra)
        var output: [OutputMessage] = []
        var records: [StageRecord] = []
        stage.process(
            batch, origin: .kafka(topic: "entra", partition: 0, offset: 1), into: &output, records: &records)
        #expect(output.count == InputPosition.eventsPerMessage + 1)
        let last = try #require(output.last)
        #expect(last.label == "too_large")
        let letter = try #require(try JSONSerialization.jsonObject(with: Data(last.payload)) as? [String: Any])
        #expect((letter["detail"] as? String)?.hasPrefix("500 more records of this message were refused") == true)
        #expect((letter["origin"] as? [String: Any])?["record"] as? Int == InputPosition.eventsPerMessage)

        let skipped = Array(repeating: #"{"category":"RiskyUsers"}"#, count: 4_500)
        let signIn =
            #"{"category":"SignInLogs","properties":{"id":"s1","createdDateTime":"2026-03-02T09:00:00Z","#
            + #""userId":"u1","ipAddress":"81.2.69.142","status":{"errorCode":0},"authenticationDetails":[]}}"#
        var reading = DecodeStage(config: VigilConfig(), deviceKey: .publicDefault, format: .entra)
        output.removeAll()
        records.removeAll()
        reading.process(
            Array((#"{"records":["# + (skipped + [signIn]).joined(separator: ",") + "]}").utf8),
            origin: .kafka(topic: "entra", partition: 0, offset: 2), into: &output, records: &records)
        #expect(output.isEmpty)
        #expect(records.filter { $0.stage == .user }.count == 1)
    }
}
