import Testing

@testable import VigilCore

@Suite struct UserTableTests {
    static func user(_ seconds: Int64, logins: UInt32 = 0) -> UserState {
        var user = UserState(lastSeen: Timestamp(seconds: seconds))
        user.successfulLogins = logins
        return user
    }

    @Test func insertsAndLooksUpByKey() {
        var table = UserTable()
        table.store(10, Self.user(1, logins: 1))
        table.store(20, Self.user(2, logins: 2))
        table[30] = Self.user(3, logins: 3)
        #expect(table.count == 3)
        #expect(table[20]?.successfulLogins == 2)
        #expect(table[30]?.successfulLogins == 3)
        #expect(table[40] == nil)
        #expect(table.reading(20) { $0.successfulLogins } == 2)
        #expect(table.reading(40) { $0.successfulLogins } == nil)
        #expect(table.contains(10))
        #expect(!table.contains(40))
    }

    @Test func storeReplacesWithoutGrowing() {
        var table = UserTable()
        table.store(10, Self.user(1, logins: 1))
        table.store(10, Self.user(5, logins: 7))
        #expect(table.count == 1)
        #expect(table[10]?.successfulLogins == 7)
        #expect(table[10]?.lastSeen == Timestamp(seconds: 5))
    }

    @Test func removeMovesTheLastRecordIntoTheHole() {
        var table = UserTable()
        for key in UInt64(1)...5 { table.store(key, Self.user(Int64(key), logins: UInt32(key))) }
        let removed = table.remove(2)
        let removedAgain = table.remove(2)
        #expect(removed)
        #expect(!removedAgain)
        #expect(table.count == 4)
        #expect(table[2] == nil)
        // Every other key still finds its own record after the swap.
        for key in [UInt64(1), 3, 4, 5] { #expect(table[key]?.successfulLogins == UInt32(key)) }
        table[5] = nil
        #expect(table.count == 3)
        for key in [UInt64(1), 3, 4] { #expect(table[key]?.successfulLogins == UInt32(key)) }
    }

    @Test func sweepRemovesIdleUsersAndKeepsTheRestReachable() {
        var table = UserTable()
        for key in UInt64(0)..<2000 {
            table.store(key, Self.user(Int64(key % 2 == 0 ? 5000 : 10), logins: UInt32(key)))
        }
        let removed = table.sweep(idleBefore: Timestamp(seconds: 100), dropRareBefore: Timestamp(seconds: 0))
        #expect(removed == 1000)
        #expect(table.count == 1000)
        for key in UInt64(0)..<2000 {
            if key % 2 == 0 {
                #expect(table[key]?.successfulLogins == UInt32(key))
            } else {
                #expect(table[key] == nil)
            }
        }
    }

    @Test func sweepDropsOnlyExpiredRareParts() {
        var table = UserTable()
        for key in UInt64(1)...2 {
            var user = Self.user(1000)
            user.pushBombingUntil = Timestamp(seconds: Int64(key) * 100)
            table.store(key, user)
        }
        table.sweep(idleBefore: Timestamp(seconds: 0), dropRareBefore: Timestamp(seconds: 150))
        #expect(table[1]?.hasRareState == false)
        #expect(table[2]?.pushBombingUntil == Timestamp(seconds: 200))
        #expect(table.rareUsers == 1)
        #expect(table.count == 2)
    }

    @Test func sweepShrinksSparseStorage() {
        var table = UserTable()
        for key in UInt64(0)..<10_000 { table.store(key, Self.user(Int64(key))) }
        let before = table.approximateBytes
        table.sweep(idleBefore: Timestamp(seconds: 9900), dropRareBefore: Timestamp(seconds: 0))
        #expect(table.count == 100)
        #expect(table.approximateBytes < before / 4)
        for key in UInt64(9900)..<10_000 { #expect(table[key] != nil) }
        #expect(table[0] == nil)
    }

    @Test func updateChangesTheRecordInPlaceAndInsertsWhenMissing() {
        var table = UserTable()
        var user = Self.user(1)
        user.pushBombingUntil = Timestamp(seconds: 50)
        table.store(7, user)
        #expect(table.rareUsers == 1)
        table.update(7, inserting: { Self.user(99) }) { user in
            #expect(user.pushBombingUntil == Timestamp(seconds: 50))
            user.pushBombingUntil = Timestamp(seconds: 60)
            user.successfulLogins = 3
        }
        #expect(table[7]?.pushBombingUntil == Timestamp(seconds: 60))
        #expect(table[7]?.successfulLogins == 3)
        #expect(table.rareUsers == 1)
        table.update(8, inserting: { Self.user(99) }) { user in
            #expect(user.lastSeen == Timestamp(seconds: 99))
            user.failures.record(Timestamp(seconds: 99), eventID: "e", capacity: 5)
        }
        #expect(table.count == 2)
        #expect(table.rareUsers == 2)
        #expect(table[8]?.failures.entries.count == 1)
        // Copies taken before an update keep their values (the rare part is copied on write).
        let before = table[7]
        table.update(7, inserting: { Self.user(0) }) { $0.pushBombingUntil = nil }
        #expect(before?.pushBombingUntil == Timestamp(seconds: 60))
        #expect(table[7]?.pushBombingUntil == nil)
    }
}

@Suite struct UserTableChunkTests {
    /// Keys spread like keyed hashes.
    static func key(_ number: Int) -> UInt64 { UInt64(number) &* 0x9E37_79B9_7F4A_7C15 ^ 0xABCD }

    static func filled(_ users: Int, chunkShift: Int = 3) -> UserTable {
        var table = UserTable(chunkShift: chunkShift)
        for number in 0..<users { table.store(key(number), UserTableTests.user(Int64(number), logins: UInt32(number))) }
        return table
    }

    static func expectExactly(_ table: UserTable, _ numbers: some Sequence<Int>, absent: some Sequence<Int>) {
        var present = 0
        for number in numbers {
            #expect(table[key(number)]?.successfulLogins == UInt32(number))
            present += 1
        }
        for number in absent { #expect(table[key(number)] == nil) }
        #expect(table.count == present)
    }

    @Test func growsAcrossChunkBoundaries() {
        // Chunks of 8: 8 fill the first exactly, 9 open a second, 41 make six.
        for (users, chunks) in [(8, 1), (9, 2), (16, 2), (17, 3), (41, 6)] {
            let table = Self.filled(users)
            #expect(table.chunkCount == chunks)
            Self.expectExactly(table, 0..<users, absent: users..<(users + 8))
            #expect(table.values.map(\.successfulLogins) == (0..<users).map(UInt32.init))
        }
    }

    @Test func removesFromTheMiddleOfTheFirstChunkAndFromTheLastChunk() {
        var table = Self.filled(20)  // chunks of 8: 0–7, 8–15, 16–19
        let removed = [
            table.remove(Self.key(3)),  // 19 moves from the last chunk into the first
            table.remove(Self.key(18)),  // within the last chunk
            table.remove(Self.key(17)),  // the last record itself
            table.remove(Self.key(17)),
        ]
        #expect(removed == [true, true, true, false])
        Self.expectExactly(table, (0..<20).filter { ![3, 17, 18].contains($0) }, absent: [3, 17, 18])
        #expect(table.chunkCount == 3)
        // Emptying the last chunk keeps it as a spare; emptying the one before frees one.
        for number in [16, 19] { table[Self.key(number)] = nil }
        #expect(table.count == 15)
        for number in [0, 1, 2, 4, 5, 6, 7, 8] { table.remove(Self.key(number)) }
        #expect(table.count == 7)
        #expect(table.chunkCount == 2)
        Self.expectExactly(table, 9..<16, absent: 0..<9)
    }

    @Test func sweepFreesEmptiedChunksAndKeepsTheRestReachable() {
        var table = Self.filled(100)  // 13 chunks of 8
        #expect(table.chunkCount == 13)
        let before = table.approximateBytes
        // Users 0–89 were last seen before second 90.
        let swept = table.sweep(idleBefore: Timestamp(seconds: 90), dropRareBefore: nil)
        #expect(swept == 90)
        #expect(table.chunkCount == 2)
        #expect(table.approximateBytes < before / 4)
        Self.expectExactly(table, 90..<100, absent: 0..<90)
        // Everything swept: no chunk left, and the table still works.
        let sweptAll = table.sweep(idleBefore: Timestamp(seconds: 1000), dropRareBefore: nil)
        #expect(sweptAll == 10)
        #expect(table.chunkCount == 0)
        #expect(table.isEmpty)
        table.store(Self.key(5), UserTableTests.user(5, logins: 5))
        Self.expectExactly(table, [5], absent: [6])
    }

    @Test func lookupsStayRightAfterManyInsertAndRemoveCycles() {
        var table = UserTable(chunkShift: 4)
        var present = Set<Int>()
        var random = UInt64(2018)
        func next(_ bound: Int) -> Int {
            random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(random >> 33) % bound
        }
        for round in 0..<4000 {
            let number = next(300)
            if present.contains(number), next(3) != 0 {
                let removed = table.remove(Self.key(number))
                #expect(removed)
                present.remove(number)
            } else {
                table.store(Self.key(number), UserTableTests.user(Int64(number), logins: UInt32(number)))
                present.insert(number)
            }
            if round % 500 == 499 {
                Self.expectExactly(table, present, absent: (0..<300).filter { !present.contains($0) })
                #expect(table.chunkCount <= (table.count + 15) / 16 + 1)
            }
        }
        // Remove all but a few, sweep-free: trailing chunks go as the count falls.
        for number in present.sorted().dropFirst(5) { table.remove(Self.key(number)) }
        Self.expectExactly(table, present.sorted().prefix(5), absent: present.sorted().dropFirst(5))
        #expect(table.chunkCount <= 2)
    }
}
