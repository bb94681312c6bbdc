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
        for key in UInt64(0)..<2000 { table.store(key, Self.user(Int64(key % 2 == 0 ? 5000 : 10), logins: UInt32(key))) }
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

    @Test func checkoutMovesTheRarePartOutUntilStored() {
        var table = UserTable()
        var user = Self.user(1)
        user.pushBombingUntil = Timestamp(seconds: 50)
        table.store(7, user)
        #expect(table.rareUsers == 1)
        var out = table.checkout(7)?.user
        let missing = table.checkout(8)
        #expect(out?.pushBombingUntil == Timestamp(seconds: 50))
        #expect(table[7]?.hasRareState == false)
        #expect(table.rareUsers == 0)
        out?.pushBombingUntil = Timestamp(seconds: 60)
        table.store(7, out!, position: 0)
        #expect(table[7]?.pushBombingUntil == Timestamp(seconds: 60))
        table.store(7, out!, position: 99)  // a wrong hint is checked and ignored
        #expect(table.count == 1)
        #expect(table.rareUsers == 1)
        #expect(missing == nil)
    }
}
