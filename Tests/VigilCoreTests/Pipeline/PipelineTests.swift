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
        #expect(text.contains("message is 5000000 bytes, the limit is 256"))
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

    // MARK: Event time without a receive time (replay)

    /// Feeds replay lines (no receive time) at the given times; what each produced, by stream.
    static func replay(_ times: [String], into p: inout Pipeline, user: String = "u1") -> [[OutputStream]] {
        times.enumerated().map { index, time in
            var out: [OutputMessage] = []
            p.process(
                Array(EventLines.login(id: "r\(index)-\(time)", time: time, user: user).utf8),
                origin: .file(path: "f", line: index + 1), into: &out)
            return out.map(\.stream)
        }
    }

    @Test func aLeapOfExactlyMaxTimeLeapIsAcceptedOneMicrosecondMoreIsNot() {
        var p = pipeline()
        let streams = Self.replay(
            ["2026-03-02T09:00:00Z", "2026-03-03T09:00:00.000001Z", "2026-03-03T09:00:00Z"], into: &p)
        #expect(streams == [[.decisions], [.deadLetters], [.decisions]])
        var q = pipeline()
        #expect(
            Self.replay(["2026-03-02T09:00:00Z", "2026-03-03T09:00:00Z"], into: &q) == [[.decisions], [.decisions]])
    }

    @Test func oneFarFutureLineIsDeadLetteredNamingBothTimesAndMovesNothing() throws {
        var p = pipeline()
        _ = Self.replay(["2026-03-02T09:00:00Z"], into: &p)
        var out: [OutputMessage] = []
        p.process(
            Array(EventLines.login(id: "forged", time: "9999-12-31T23:59:59Z", user: "u1").utf8),
            origin: .file(path: "f", line: 2), into: &out)
        try #require(out.count == 1)
        #expect(out[0].stream == .deadLetters)
        #expect(out[0].label == "future_time")
        let text = String(decoding: out[0].payload, as: UTF8.self)
        #expect(text.contains("event time 9999-12-31T23:59:59.000Z is more than 1d after"))
        #expect(text.contains("newest accepted event time 2026-03-02T09:00:00.000Z"))
        #expect(text.contains("forged"))
        // The clock did not move: an event a minute later is on time and changes state.
        _ = Self.replay(["2026-03-02T09:01:00Z"], into: &p)
        #expect(p.stats.lateEvents == 0)
        #expect(p.engine.state.watermark.maxEventTime == Timestamp(rfc3339: "2026-03-02T09:01:00Z"))
    }

    @Test func aStreamResumingAfterALongPauseLosesOnlyItsFirstEvent() {
        var p = pipeline()
        let streams = Self.replay(
            ["2026-03-02T09:00:00Z", "2026-03-09T08:00:00Z", "2026-03-09T08:00:05Z", "2026-03-09T08:01:00Z"],
            into: &p)
        #expect(streams == [[.decisions], [.deadLetters], [.decisions], [.decisions]])
        #expect(p.engine.state.watermark.maxEventTime == Timestamp(rfc3339: "2026-03-09T08:01:00Z"))
        #expect(p.stats.lateEvents == 0)
    }

    @Test func onlyTheVeryNextEventConfirmsALeapAndOnlyWhenCloseToIt() {
        var p = pipeline()
        let streams = Self.replay(
            [
                "2026-03-02T09:00:00Z",
                "2026-03-09T08:00:00Z",  // leap
                "2026-03-02T09:01:00Z",  // an ordinary event in between: the leap is forgotten
                "2026-03-09T08:00:01Z",  // so this is a new, unconfirmed leap
                "2026-03-11T08:00:01Z",  // more than max_time_leap after it: not a confirmation, a new leap
                "2026-03-12T08:00:01Z",  // exactly max_time_leap after that: confirms it
            ], into: &p)
        #expect(streams == [[.decisions], [.deadLetters], [.decisions], [.deadLetters], [.deadLetters], [.decisions]])
        #expect(p.stats.deadLetters == ["future_time": 3])
    }

    @Test func aReceiveTimeLetsAResumedStreamThroughAtOnce() {
        // A partition idle for a week: its next event is far ahead of the watermark but close to when it
        // was received, so the receive time, not the watermark, bounds it.
        var p = pipeline()
        _ = Self.replay(["2026-03-02T09:00:00Z"], into: &p)
        var out: [OutputMessage] = []
        p.process(
            Self.login("resumed", time: "2026-03-09T09:00:00Z"), origin: .kafka(topic: "t", partition: 0, offset: 1),
            receivedAt: Timestamp(rfc3339: "2026-03-09T09:00:01Z"), into: &out)
        #expect(out.map(\.stream) == [.decisions])
    }

    @Test func maxTimeLeapIsASetting() {
        var config = VigilConfig()
        config.input.maxTimeLeap = .hours(1)
        var p = Pipeline(config: config, policyVersion: "v1", enricher: nil, deviceKey: .publicDefault)
        let streams = Self.replay(["2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:01Z"], into: &p)
        #expect(streams == [[.decisions], [.decisions], [.deadLetters]])
    }

    // MARK: The replay's clock

    static let replayClock = Timestamp(rfc3339: "2026-03-02T12:00:00Z")!

    func pipeline(replayClock: Timestamp?, config: VigilConfig = VigilConfig()) -> Pipeline {
        Pipeline(
            config: config, policyVersion: "v1", enricher: nil, deviceKey: .publicDefault, replayClock: replayClock)
    }

    @Test func aFirstLineFromTheYear9999IsBoundedOnlyByTheReplayClock() throws {
        // Nothing accepted before it to leap from: without a clock it is taken, and moves the watermark
        // so far that the next ordinary event is late.
        var unbounded = pipeline(replayClock: nil)
        let blind = Self.replay(["9999-12-31T23:59:59Z", "2026-03-02T09:00:00Z"], into: &unbounded)
        #expect(blind == [[.decisions], [.decisions]])
        #expect(unbounded.stats.lateEvents == 1)

        var p = pipeline(replayClock: Self.replayClock)
        var out: [OutputMessage] = []
        p.process(
            Array(EventLines.login(id: "forged", time: "9999-12-31T23:59:59Z", user: "u1").utf8),
            origin: .file(path: "f", line: 1), into: &out)
        try #require(out.count == 1)
        #expect(out[0].label == "future_time")
        let text = String(decoding: out[0].payload, as: UTF8.self)
        #expect(text.contains("event time 9999-12-31T23:59:59.000Z is more than 10m after the replay's clock"))
        #expect(!text.contains("12:00:00"), "the clock's value makes outputs differ between two replays")
        #expect(p.engine.state.watermark.maxEventTime == nil)
        #expect(Self.replay(["2026-03-02T09:00:00Z"], into: &p) == [[.decisions]])
        #expect(p.stats.lateEvents == 0)
        #expect(p.stats.deadLetters == ["future_time": 1])
    }

    @Test func anEventOfExactlyTheClockPlusMaxFutureSkewIsAcceptedOneMicrosecondMoreIsNot() {
        // Each as a shard's first event, where no leap can be measured.
        for (time, expected) in [
            ("2026-03-02T12:10:00Z", [OutputStream.decisions]), ("2026-03-02T12:10:00.000001Z", [.deadLetters]),
            ("2026-03-02T11:59:59Z", [.decisions]),
        ] {
            var p = pipeline(replayClock: Self.replayClock)
            #expect(Self.replay([time], into: &p) == [expected], "\(time)")
        }
        // The same bound later in a file, within max_time_leap of the newest accepted event.
        var p = pipeline(replayClock: Self.replayClock)
        let streams = Self.replay(
            ["2026-03-02T11:00:00Z", "2026-03-02T12:10:00.000001Z", "2026-03-02T12:10:00Z"], into: &p)
        #expect(streams == [[.decisions], [.deadLetters], [.decisions]])
    }

    @Test func theClockBoundFollowsMaxFutureSkew() {
        var config = VigilConfig()
        config.input.maxFutureSkew = .hours(1)
        var p = pipeline(replayClock: Self.replayClock, config: config)
        #expect(
            Self.replay(["2026-03-02T13:00:00Z", "2026-03-02T13:00:01Z"], into: &p) == [[.decisions], [.deadLetters]])
    }

    @Test func theReplayClockKeepsTheLeapBound() throws {
        // A leap of more than max_time_leap but before the clock is still dead-lettered by the leap rule,
        // and named by it; the next line confirming the leap is accepted.
        var p = pipeline(replayClock: Timestamp(rfc3339: "2026-12-01T00:00:00Z")!)
        var out: [OutputMessage] = []
        _ = Self.replay(["2026-03-02T09:00:00Z"], into: &p)
        p.process(
            Array(EventLines.login(id: "leap", time: "2026-03-09T09:00:00Z", user: "u1").utf8),
            origin: .file(path: "f", line: 2), into: &out)
        try #require(out.count == 1)
        #expect(String(decoding: out[0].payload, as: UTF8.self).contains("newest accepted event time"))
        #expect(Self.replay(["2026-03-09T09:00:01Z"], into: &p) == [[.decisions]])
    }

    @Test func aConfirmedLeapPastTheClockIsStillDeadLettered() {
        var p = pipeline(replayClock: Self.replayClock)
        let streams = Self.replay(
            ["2026-03-02T09:00:00Z", "9999-12-31T23:59:58Z", "9999-12-31T23:59:59Z", "2026-03-02T09:01:00Z"], into: &p)
        #expect(streams == [[.decisions], [.deadLetters], [.deadLetters], [.decisions]])
        #expect(p.stats.lateEvents == 0)
    }

    /// Skipped records are counted under the decoders' own names (with `:`, `/`, spaces and brackets),
    /// while a name with other bytes, or past the cap on names, is counted as `<format>:other`.
    @Test func skippedRecordsKeepTheDecodersNamesWithinTheCap() {
        var stats = PipelineStats()
        stats.recordSkipped(format: .okta, eventType: "user.session.start:CHALLENGE")
        stats.recordSkipped(format: .entra, eventType: "AuditLogs:Reset password (self-service)")
        stats.recordSkipped(format: .okta, eventType: "user.session.start:\u{1B}[31m")
        stats.recordSkipped(format: .okta, eventType: String(repeating: "a", count: 65))
        #expect(
            stats.skippedRecords == [
                "okta:user.session.start:CHALLENGE": 1, "entra:AuditLogs:Reset password (self-service)": 1,
                "okta:other": 2,
            ])
        for index in 0..<PipelineStats.maxSkippedTypes { stats.recordSkipped(format: .okta, eventType: "t\(index)") }
        #expect(stats.skippedRecords.count == PipelineStats.maxSkippedTypes)
        #expect(stats.skippedRecords["okta:other"] == 2 + 3)
    }
}
