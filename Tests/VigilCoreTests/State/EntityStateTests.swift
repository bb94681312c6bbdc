import Testing

@testable import VigilCore

@Suite struct UserStateTests {
    @Test func ordinaryUserHasNoRarePart() {
        var user = UserState(lastSeen: Timestamp(seconds: 1))
        user.successfulLogins = 3
        user.seen.record(.device, 1, at: Timestamp(seconds: 1), capacity: 8)
        #expect(!user.hasRareState)
        // Reading the rare fields does not allocate.
        #expect(user.failures.isEmpty)
        #expect(!user.holds.holds(.pushBombing, at: Timestamp(seconds: 1)))
        #expect(user.lastResetCompleted == nil)
        #expect(!user.hasRareState)
    }

    @Test func rarePartIsAllocatedOnFirstWriteAndDroppedWhenExpired() {
        var user = UserState(lastSeen: Timestamp(seconds: 100))
        user.failures.record(Timestamp(seconds: 100), eventID: "f1", capacity: 3)
        #expect(user.hasRareState)
        user.holds.hold(.pushBombing, until: Timestamp(seconds: 700))
        user.dropRare(ifAllBefore: Timestamp(seconds: 700))
        #expect(user.hasRareState, "the hold still ends at the cutoff")
        user.dropRare(ifAllBefore: Timestamp(seconds: 701))
        #expect(!user.hasRareState)
        #expect(user.failures.isEmpty)
    }

    @Test func copiesDoNotShareTheRarePart() {
        var a = UserState(lastSeen: Timestamp(seconds: 1))
        a.failures.record(Timestamp(seconds: 1), eventID: "f1", capacity: 5)
        let b = a
        a.failures.record(Timestamp(seconds: 2), eventID: "f2", capacity: 5)
        a.pushBombingUntil = Timestamp(seconds: 9)
        #expect(a.failures.entries.count == 2)
        #expect(b.failures.entries.count == 1)
        #expect(b.pushBombingUntil == nil)
    }

    @Test func engineDropsTheRarePartOnceItsWindowsHavePassed() {
        var h = EngineHarness()
        h.establish("ann")
        h.push("ann", at: 0, result: .denied)
        h.login("ann", at: 30)
        #expect(h.engine.state.users.values.first?.hasRareState == true)
        // Two days later every window that reads it has passed; the next sweep frees it.
        h.login("ann", at: 2 * 24 * 60)
        #expect(h.engine.userCount == 1)
        #expect(h.engine.state.users.values.first?.hasRareState == false)
    }

    @Test func engineLoginsAloneNeverAllocateTheRarePart() {
        var h = EngineHarness()
        h.establish("bob")
        h.login("bob", at: 10)
        #expect(h.engine.state.users.values.first?.hasRareState == false)
        #expect(h.engine.state.users.values.first?.seen.count(.device) == 1)
    }
}

@Suite struct ShardStateTests {
    @Test func footprintCountsEntities() {
        var h = EngineHarness()
        h.establish("cat")
        h.login("dan", at: 1, outcome: .failure)
        h.resetRequest("eve", at: 2, domain: "example.com")
        let footprint = h.engine.figures
        #expect(footprint.users == 3)
        #expect(footprint.sources == 1)
        #expect(footprint.domains == 1)
        #expect(footprint.names >= 2)  // London, Andrews & Arnold Ltd
        #expect(footprint.approximateBytes >= 3 * MemoryLayout<UserState>.stride)
        #expect(h.engine.state.userCount == 3 && h.engine.state.sourceCount == 1 && h.engine.state.domainCount == 1)
    }

    @Test(arguments: [
        "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "idp-acme-eu-west-1:" + String(repeating: "7", count: 48),
    ])
    func impossibleTravelEvidenceNamesThePreviousLogin(previousID: String) {
        var h = EngineHarness()
        h.establish("gus")
        h.login("gus", at: 10, id: previousID)
        let verdict = h.login("gus", at: 40, ip: Places.changchun, id: "now")
        #expect(verdict.alertKinds == [.impossibleTravel])
        #expect(verdict.alerts.first?.evidence.map(\.eventID) == [previousID, "now"])
        #expect(verdict.alerts.first?.sources.first?.intel.location?.city == "London")
    }

    @Test func decodedAnchorCarriesTheLastLogin() {
        var h = EngineHarness()
        h.login("fay", at: 5, id: "3f2504e0-4f89-41d3-9a0c-0305e82c3301")
        let user = h.engine.state.users.values.first!
        let anchor = h.engine.state.lastLogin(of: user)
        #expect(anchor?.eventID == "3f2504e0-4f89-41d3-9a0c-0305e82c3301")
        #expect(anchor?.location?.city == "London")
        #expect(anchor?.network?.organization == "Andrews & Arnold Ltd")
    }
}
