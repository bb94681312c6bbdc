import Testing

@testable import VigilCore

@Suite struct SeenSetsTests {
    static func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: seconds) }

    @Test func kindsAreSeparate() {
        var seen = SeenSets()
        seen.record(.device, 1, at: Self.at(10), capacity: 8)
        seen.record(.country, 1, at: Self.at(20), capacity: 8)
        seen.record(.network, 2, at: Self.at(30), capacity: 8)
        #expect(seen.lastSeen(.device, 1) == Self.at(10))
        #expect(seen.lastSeen(.country, 1) == Self.at(20))
        #expect(seen.lastSeen(.network, 1) == nil)
        #expect(seen.lastSeen(.network, 2) == Self.at(30))
        #expect(!seen.isSpilled)
    }

    @Test func neverMovesLastSeenBackwards() {
        var seen = SeenSets()
        seen.record(.device, 1, at: Self.at(10), capacity: 8)
        seen.record(.device, 1, at: Self.at(5), capacity: 8)
        #expect(seen.lastSeen(.device, 1) == Self.at(10))
        seen.record(.device, 1, at: Self.at(15), capacity: 8)
        #expect(seen.lastSeen(.device, 1) == Self.at(15))
        #expect(seen.count(.device) == 1)
    }

    @Test func fullKindForgetsItsLeastRecentlySeen() {
        var seen = SeenSets()
        seen.record(.country, 9, at: Self.at(1), capacity: 2)
        seen.record(.device, 1, at: Self.at(10), capacity: 2)
        seen.record(.device, 2, at: Self.at(5), capacity: 2)
        seen.record(.device, 3, at: Self.at(20), capacity: 2)
        #expect(seen.lastSeen(.device, 2) == nil)
        #expect(seen.entries(.device).map(\.key) == [1, 3])
        var visited: [UInt64] = []
        seen.forEachEntry(.device) { visited.append($0.key) }
        #expect(visited == [1, 3])
        // The other kind is untouched, though its entry is older.
        #expect(seen.lastSeen(.country, 9) == Self.at(1))
    }

    @Test func aLoweredCapAppliesAtTheNextRecord() {
        var seen = SeenSets()
        for key in UInt64(1)...5 { seen.record(.device, key, at: Self.at(Int64(key)), capacity: 5) }
        seen.record(.device, 6, at: Self.at(6), capacity: 2)
        // The four least recently seen go, so the set holds the cap: the newest known one and the new one.
        #expect(seen.entries(.device).map(\.key) == [5, 6])
    }

    @Test func spillsToTheHeapBeyondTheInlineEntriesAndKeepsOrder() {
        var seen = SeenSets()
        for key in UInt64(1)...6 { seen.record(.device, key, at: Self.at(Int64(key)), capacity: 8) }
        seen.record(.network, 100, at: Self.at(50), capacity: 8)
        seen.record(.country, 50, at: Self.at(40), capacity: 8)
        #expect(seen.isSpilled)
        #expect(seen.totalCount == 8)
        #expect(seen.entries(.device).map(\.key) == [1, 2, 3, 4, 5, 6])
        #expect(seen.entries(.country).map(\.key) == [50])
        #expect(seen.entries(.network).map(\.key) == [100])
        seen.record(.device, 7, at: Self.at(60), capacity: 6)
        #expect(seen.entries(.device).map(\.key) == [2, 3, 4, 5, 6, 7])
        #expect(seen.lastSeen(.network, 100) == Self.at(50))
    }
}
