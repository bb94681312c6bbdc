import Testing

@testable import VigilCore

/// The duplicate table remembers ids for its window of event time and up to its capacity, no longer, and
/// never takes the same input position read again for a repeat.
@Suite struct RecentEventIDsTests {
    static let start = Timestamp(rfc3339: "2026-03-02T09:00:00Z")!

    /// `admit` of each sighting in turn (id, seconds after `start`), as the table answered.
    static func admit(_ table: inout RecentEventIDs, _ sightings: [(UInt64, Int64)]) -> [Bool] {
        sightings.map { id, seconds in table.admit(id, at: start + .seconds(seconds)) }
    }

    @Test func aRepeatWithinTheWindowIsRefusedOneJustBeyondItPasses() {
        var table = RecentEventIDs(window: .minutes(10), capacity: 100)
        // The first copy; a repeat; one at the window's edge; one stamped before the first (out of order);
        // one just beyond the window; another id.
        let answers = Self.admit(&table, [(7, 0), (7, 0), (7, 600), (7, -600), (7, 601), (8, 0)])
        #expect(answers == [true, false, false, false, true, true])
    }

    @Test func idsBehindTheWindowOfTheNewestEventAreForgotten() {
        var table = RecentEventIDs(window: .minutes(10), capacity: 100)
        #expect(Self.admit(&table, [(1, 0), (2, 300), (3, 660)]) == [true, true, true])
        #expect(table.count == 2)
        // 1 was forgotten, 2 is still remembered.
        #expect(Self.admit(&table, [(1, 0), (2, 300)]) == [true, false])
    }

    @Test func beyondTheCapacityTheOldestIdsAreForgotten() {
        var table = RecentEventIDs(window: .days(1), capacity: 3)
        #expect(Self.admit(&table, (1...4).map { ($0, Int64($0)) }) == [true, true, true, true])
        #expect(table.count == 3)
        #expect(Self.admit(&table, [(1, 5), (4, 6)]) == [true, false])
        // Many more ids than the capacity keep the table at it.
        _ = Self.admit(&table, (100..<5_000).map { ($0, Int64($0)) })
        #expect(table.count == 3)
        table.capacity = 1
        #expect(table.count == 1)
    }

    @Test func aCapacityOfZeroDropsNothing() {
        var table = RecentEventIDs(window: .minutes(10), capacity: 0)
        #expect(Self.admit(&table, [(7, 0), (7, 0)]) == [true, true])
        #expect(table.count == 0)
    }

    @Test func theSamePositionReadAgainIsNoRepeat() {
        var table = RecentEventIDs(window: .minutes(10), capacity: 100)
        let first = InputPosition(partition: 1, offset: 40)
        let answers = [first, first, InputPosition(partition: 1, offset: 41), InputPosition(partition: 2, offset: 40)]
            .map { table.admit(7, at: Self.start, position: $0) }
        #expect(answers == [true, true, false, false])
    }
}
