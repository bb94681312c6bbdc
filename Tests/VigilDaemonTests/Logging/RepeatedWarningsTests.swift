import Testing

@testable import VigilDaemon

/// A fault that repeats per message gives one line per kind and interval, and no count is lost.
@Suite struct RepeatedWarningsTests {
    private typealias Line = RepeatedWarnings.Line

    @Test func theFirstIsLoggedTheRestCountedUntilTheIntervalEnds() {
        var warnings = RepeatedWarnings(interval: .seconds(10))
        #expect(
            warnings.record("delivery failed", detail: "e1", now: .seconds(0))
                == Line(kind: "delivery failed", detail: "e1", count: 1))
        for second in 1...9 {
            #expect(warnings.record("delivery failed", detail: "e\(second + 1)", now: .seconds(second)) == nil)
        }
        // At the interval's end the next occurrence brings the summary of the nine before it.
        #expect(
            warnings.record("delivery failed", detail: "e11", now: .seconds(10))
                == Line(kind: "delivery failed", detail: "e10", count: 9, firstDetail: "e2", over: .seconds(10)))
        // That occurrence is counted in the next interval, summarised when it is due.
        #expect(warnings.due(now: .seconds(19)) == [])
        #expect(
            warnings.due(now: .seconds(20))
                == [Line(kind: "delivery failed", detail: "e11", count: 1, firstDetail: "e11", over: .seconds(10))])
    }

    @Test func kindsAreCountedApartAndAQuietKindIsLoggedAtOnceAgain() {
        var warnings = RepeatedWarnings(interval: .seconds(10))
        #expect(warnings.record("a", detail: "x", now: .zero)?.count == 1)
        #expect(warnings.record("b", detail: "y", now: .seconds(1))?.count == 1)
        #expect(warnings.record("a", detail: "x2", now: .seconds(2)) == nil)
        #expect(
            warnings.due(now: .seconds(11))
                == [Line(kind: "a", detail: "x2", count: 1, firstDetail: "x2", over: .seconds(11))])
        // b had nothing suppressed: forgotten without a line, so its next occurrence is logged at once.
        #expect(warnings.due(now: .seconds(12)) == [])
        #expect(warnings.record("b", detail: "y2", now: .seconds(13)) == Line(kind: "b", detail: "y2", count: 1))
        #expect(warnings.record("a", detail: "x3", now: .seconds(14)) == Line(kind: "a", detail: "x3", count: 1))
    }

    /// Thousands of failures within one interval are one line, then one summary.
    @Test func aFloodIsTwoLines() {
        var warnings = RepeatedWarnings(interval: .seconds(10))
        var lines = 0
        for index in 0..<15_000 {
            if warnings.record("delivery failed", detail: "\(index)", now: .milliseconds(index / 2)) != nil {
                lines += 1
            }
        }
        let summaries = warnings.due(now: .seconds(10))
        #expect(lines == 1)
        #expect(summaries.map(\.count) == [14_999])
    }
}
