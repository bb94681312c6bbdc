import Testing
import _VigilMachinery

@testable import VigilCore

/// After a restore, an event the restored state already reflects is scored again against state that
/// counts it: its verdict is marked re-emitted (its first copy was delivered and stands). An event the
/// state does not yet reflect is scored exactly as the first time and is not marked.
@Suite struct ReemittedVerdictTests {
    static let scope = ChangelogScope(inputTopic: "auth-events")

    /// An engine restored from one complete flush of `engine` at `stamp`.
    static func restored(from engine: inout RiskEngine, stamp: Int64) throws -> RiskEngine {
        let records = engine.takeChangelogFlush(stamp: stamp, scope: scope)
        var restored = RiskEngine(config: engine.config, policyVersion: "test", deviceKey: .publicDefault)
        for record in records {
            #expect(try restored.applyChangelogRecord(key: record.key, value: record.value, scope: scope))
        }
        return restored
    }

    static func send(_ event: AuthEvent, offset: Int, to engine: inout RiskEngine) -> RiskEngine.Verdict {
        engine.process(event, intel: event.ip.map { ChangelogCrashTests.geo[$0] ?? .unknown }, offset: Int64(offset))
    }

    /// A login of alice's and the TOTP success of its session that verifies it.
    static func verifiedLogin(_ id: String, at minutes: Double, ip: String) -> [AuthEvent] {
        let session = InputText("s-\(id)")
        return [
            AuthEvent(
                eventID: id, type: .login, time: EngineHarness.at(minutes), user: User(id: "alice"), ip: IPAddress(ip),
                device: Device(id: "d1"), outcome: .success, sessionID: session),
            AuthEvent(
                eventID: "\(id).mfa", type: .mfaResult, time: EngineHarness.at(minutes), user: User(id: "alice"),
                ip: IPAddress(ip), mfa: MFA(factor: .totp, result: .approved), sessionID: session),
        ]
    }

    /// Home logins, a login from Changchun, one from London ten minutes later (impossible travel back),
    /// then one from London an hour later, each verified, restored from a flush after the London login:
    /// the two travel logins are marked, keep their decision ids and are scored differently (their
    /// alerts are gone); the last login is not marked and is exactly the first run's.
    @Test func reflectedEventsAreMarkedAndTheNextIsNot() throws {
        var events = (0..<5).flatMap { Self.verifiedLogin("home-\($0)", at: Double($0), ip: Places.london) }
        events += Self.verifiedLogin("away", at: 30, ip: Places.changchun)
        events += Self.verifiedLogin("back", at: 40, ip: Places.london)
        events += Self.verifiedLogin("later", at: 100, ip: Places.london)
        func offset(_ id: String) -> Int { events.firstIndex { $0.eventID == id }! }
        let (away, back, later) = (offset("away"), offset("back"), offset("later"))
        var uninterrupted = ChangelogCrashTests.newEngine()
        let expected = events.enumerated().map { Self.send($1, offset: $0, to: &uninterrupted) }
        #expect(expected[away].alerts.map(\.kind) == [.impossibleTravel])
        #expect(expected[back].alerts.map(\.kind) == [.impossibleTravel])
        #expect(!expected.contains { $0.reemitted })

        var engine = ChangelogCrashTests.newEngine()
        engine.recordsChanges = true
        for (offset, event) in events.prefix(back + 2).enumerated() {
            _ = Self.send(event, offset: offset, to: &engine)
        }
        var restored = try Self.restored(from: &engine, stamp: Int64(back + 1))

        for offset in [away, back] {
            let copy = Self.send(events[offset], offset: offset, to: &restored)
            #expect(copy.reemitted, "offset \(offset)")
            #expect(copy.decision?.decisionID == expected[offset].decision?.decisionID)
            #expect(copy.decision != expected[offset].decision, "offset \(offset)")
            #expect(copy.alerts != expected[offset].alerts, "offset \(offset)")
        }

        let next = Self.send(events[later], offset: later, to: &restored)
        #expect(!next.reemitted)
        #expect(next.decision == expected[later].decision)
        #expect(next.alerts == expected[later].alerts)
    }

    /// A stream restored from a flush in its middle and consumed again from well before it: every event
    /// at or below the flush's stamp is marked, every later one is unmarked and exactly the
    /// uninterrupted run's.
    @Test(arguments: [UInt64(1), 2, 3])
    func everyEventAtOrBelowTheStampIsMarked(seed: UInt64) throws {
        let events = ChangelogCrashTests.stream(seed: seed, count: 900)
        var uninterrupted = ChangelogCrashTests.newEngine()
        let expected = events.enumerated().map { ChangelogCrashTests.process($1, offset: $0, in: &uninterrupted) }
        let stamp = 599

        var engine = ChangelogCrashTests.newEngine()
        engine.recordsChanges = true
        for offset in 0...stamp { _ = ChangelogCrashTests.process(events[offset], offset: offset, in: &engine) }
        var restored = try Self.restored(from: &engine, stamp: Int64(stamp))

        var markedDecisions = 0
        for offset in 300..<events.count {
            let verdict = ChangelogCrashTests.process(events[offset], offset: offset, in: &restored)
            if offset <= stamp {
                #expect(verdict.reemitted, "offset \(offset)")
                #expect(verdict.decision?.decisionID == expected[offset].decision?.decisionID, "offset \(offset)")
                if verdict.decision != nil { markedDecisions += 1 }
            } else {
                #expect(!verdict.reemitted, "offset \(offset)")
                #expect(verdict.decision == expected[offset].decision, "offset \(offset)")
                #expect(verdict.alerts == expected[offset].alerts, "offset \(offset)")
            }
        }
        #expect(markedDecisions > 0)
    }

    /// A flush cut short after its user records, and the stream consumed again from its start: every
    /// event whose user reflects it is marked, alerts included, and some of those alerts are none of
    /// the first run's; every unmarked verdict is the first run's.
    @Test func alertsOfAReflectedEventAreMarked() throws {
        let events = ChangelogCrashTests.stream(seed: 1, count: 600)
        var uninterrupted = ChangelogCrashTests.newEngine()
        let expected = events.enumerated().map { ChangelogCrashTests.process($1, offset: $0, in: &uninterrupted) }

        var engine = ChangelogCrashTests.newEngine()
        engine.recordsChanges = true
        for (offset, event) in events.enumerated() {
            _ = ChangelogCrashTests.process(event, offset: offset, in: &engine)
        }
        let records = engine.takeChangelogFlush(stamp: Int64(events.count - 1), scope: Self.scope)
        let users = try records.prefix {
            let kind = try ChangelogKey(bytes: $0.key).entry.kind
            return kind == .flushBegin || kind == .user
        }
        #expect(users.count > 1 && users.count < records.count)
        var restored = ChangelogCrashTests.newEngine()
        for record in users {
            #expect(try restored.applyChangelogRecord(key: record.key, value: record.value, scope: Self.scope))
        }
        var markedAlerts: [Alert] = []
        for (offset, event) in events.enumerated() {
            let verdict = ChangelogCrashTests.process(event, offset: offset, in: &restored)
            if verdict.reemitted {
                markedAlerts += verdict.alerts
            } else {
                #expect(verdict.decision == expected[offset].decision, "offset \(offset)")
                #expect(verdict.alerts == expected[offset].alerts, "offset \(offset)")
            }
        }
        let firstAlerts = expected.flatMap(\.alerts)
        #expect(!markedAlerts.isEmpty)
        #expect(markedAlerts.contains { !firstAlerts.contains($0) })
    }

    /// Without a restore nothing is marked, offsets or not.
    @Test func anUninterruptedRunMarksNothing() {
        let events = ChangelogCrashTests.stream(seed: 4, count: 300)
        var engine = ChangelogCrashTests.newEngine()
        engine.recordsChanges = true
        for (offset, event) in events.enumerated() {
            #expect(!ChangelogCrashTests.process(event, offset: offset, in: &engine).reemitted)
        }
    }
}
