import Testing
import VigilTestSupport

@testable import VigilCore

@Suite struct PipelineTests {
    static func login(_ id: String, time: String = "2026-03-02T09:00:00Z") -> [UInt8] {
        Array(EventLines.login(id: id, time: time, user: "u1").utf8)
    }

    func pipeline() -> Pipeline {
        Pipeline(config: VigilConfig(), policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
    }

    @Test func oneDecisionPerSuccessfulLoginKeyedByUser() {
        var p = pipeline()
        var out: [OutputMessage] = []
        p.process(Self.login("a"), origin: .file(path: "f", line: 1), into: &out)
        #expect(out.count == 1)
        #expect(out[0].stream == .decisions)
        #expect(out[0].key == "u1")
        #expect(p.stats.count(.login) == 1)
        #expect(p.stats.count(.stepUpSoft) == 1)  // learning period: first_login = medium
    }

    @Test func eventsFarAheadOfTheirReceiveTimeAreDeadLettered() {
        var p = pipeline()
        var out: [OutputMessage] = []
        let received = Timestamp(rfc3339: "2026-03-02T09:00:00Z")!
        p.process(
            Self.login("future", time: "2026-03-02T09:10:01Z"), origin: .kafka(topic: "t", partition: 0, offset: 7),
            receivedAt: received, into: &out)
        #expect(out.map(\.stream) == [.deadLetters])
        #expect(out[0].label == "future_time")
        out.removeAll()
        p.process(
            Self.login("ok", time: "2026-03-02T09:10:00Z"), origin: .kafka(topic: "t", partition: 0, offset: 8),
            receivedAt: received, into: &out)
        #expect(out.map(\.stream) == [.decisions])
        #expect(p.stats.deadLetters == ["future_time": 1])
    }

    @Test func truncatedMessagesReportTheirRealSize() throws {
        var config = VigilConfig()
        config.input.maxEventBytes = 256
        var p = Pipeline(config: config, policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        var out: [OutputMessage] = []
        p.process(
            [UInt8](repeating: UInt8(ascii: "x"), count: 257), originalLength: 5_000_000,
            origin: .file(path: "f", line: 3), into: &out)
        let text = String(decoding: out[0].payload, as: UTF8.self)
        #expect(text.contains(#""size":5000000"#))
        #expect(text.contains(#""truncated":true"#))
        #expect(out[0].label == "too_large")
    }

    @Test func reconfigureChangesThePolicyVersionOfLaterDecisions() {
        var p = pipeline()
        var out: [OutputMessage] = []
        p.process(Self.login("a"), origin: .file(path: "f", line: 1), into: &out)
        p.reconfigure(VigilConfig(), policyVersion: "v2")
        p.process(Self.login("b", time: "2026-03-02T09:01:00Z"), origin: .file(path: "f", line: 2), into: &out)
        let texts = out.map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(texts[0].contains(#""policy_version":"v1""#))
        #expect(texts[1].contains(#""policy_version":"v2""#))
    }
}
