import Testing
import _VigilMachinery

@testable import VigilCore

@Suite struct GlobalWindowsTests {
    /// On a bucket boundary (15 s buckets), so minute offsets map to buckets exactly.
    private let start = Timestamp(seconds: 1_790_000_100)
    private func user(_ n: UInt64) -> UInt64 { SipHashKey.publicDefault.hash(n, tweak: 7) }
    private func minute(_ m: Double) -> Timestamp { start + EventDuration(microseconds: Int64(m * 60_000_000)) }

    @Test func countsWithinTheWindowAndForgetsOlderBuckets() {
        var windows = GlobalWindows(window: .minutes(15))
        windows.recordFailure(at: minute(0), userKey: user(1))
        windows.recordFailure(at: minute(1), userKey: user(2))
        windows.recordFailure(at: minute(1), userKey: user(2))
        windows.recordResetRequest(at: minute(2))
        var figures = windows.figures(at: minute(2))
        #expect(figures.failures == 3)
        #expect(figures.failingUsers == 2)
        #expect(figures.resetRequests == 1)
        // 15 minutes in 60 buckets of 15 s: at 15:00 the bucket of minute 0 has just left the window.
        figures = windows.figures(at: minute(15))
        #expect(figures.failures == 2)
        figures = windows.figures(at: minute(14.99))
        #expect(figures.failures == 3)
        figures = windows.figures(at: minute(17))
        #expect(figures == GlobalFigures())
    }

    @Test func lateEventsLandInTheirBucketOrAreLeftOut() {
        var windows = GlobalWindows(window: .minutes(15))
        windows.recordFailure(at: minute(20), userKey: user(1))
        windows.recordFailure(at: minute(10), userKey: user(2))  // within the ring: counted
        windows.recordFailure(at: minute(4), userKey: user(3))  // older than the ring: left out
        #expect(windows.figures(at: minute(20)).failures == 2)
        // A bucket slot reused by a newer bucket starts from zero.
        windows.recordFailure(at: minute(25), userKey: user(4))
        #expect(windows.figures(at: minute(25)).failures == 2)
    }

    @Test func aChangedWindowRestarts() {
        var windows = GlobalWindows(window: .minutes(15))
        windows.recordResetRequest(at: minute(0))
        windows.adopt(window: .minutes(15))
        #expect(windows.figures(at: minute(0)).resetRequests == 1)
        windows.adopt(window: .minutes(60))
        #expect(windows.figures(at: minute(0)).resetRequests == 0)
        #expect(windows.window == .minutes(60))
    }

    @Test func theEngineCountsFailuresAndResetsButNotLateEvents() {
        var h = EngineHarness()
        h.login("a", at: 10, outcome: .failure)
        h.login("b", at: 10.5, outcome: .failure)
        h.login("b", at: 11, outcome: .failure)
        h.login("c", at: 11, outcome: .success)
        h.resetRequest("a", at: 12)
        h.login("d", at: 0, outcome: .failure)  // behind the watermark (12 − 5 min): late
        let figures = h.engine.figures
        #expect(figures.global.failures == 3)
        #expect(figures.global.failingUsers == 2)
        #expect(figures.global.resetRequests == 1)
        #expect(figures.users == 3)  // the late event changed no state
        #expect(figures.sources == 1)  // failures and resets from London
    }

    @Test func figuresAddUpAcrossShards() {
        var total = StateFigures(users: 1, sources: 2, domains: 3)
        var global = GlobalFigures()
        global.failures = 5
        total.add(StateFigures(users: 10, sources: 20, domains: 30, global: global))
        #expect(total == StateFigures(users: 11, sources: 22, domains: 33, global: global))
    }
}

@Suite struct ShardCapacityTests {
    @Test func aFullSourceMapDropsTheLeastRecentlySeenTenth() {
        var config = VigilConfig()
        config.engine.maxSources = 100
        var h = EngineHarness(config: config)
        // 101 addresses fail once each, one minute apart: the 101st goes over the cap.
        for i in 0..<101 {
            h.login("u\(i)", at: Double(i) * 0.01, ip: "198.51.100.\(i + 1)", outcome: .failure)
        }
        let figures = h.engine.figures
        #expect(figures.sources == 90)
        #expect(figures.droppedAtCapacity == 11)
        // The oldest went first: the first address is gone, the newest is kept.
        #expect(h.engine.state.sources[h.engine.keys.sourceStateKey(IPAddress("198.51.100.1")!)] == nil)
        #expect(h.engine.state.sources[h.engine.keys.sourceStateKey(IPAddress("198.51.100.101")!)] != nil)
    }

    @Test func atTheCapNothingIsDropped() {
        var config = VigilConfig()
        config.engine.maxEmailDomains = 100
        var h = EngineHarness(config: config)
        for i in 0..<100 { h.resetRequest("u\(i)", at: Double(i) * 0.01, domain: "d\(i).example") }
        #expect(h.engine.figures.domains == 100)
        #expect(h.engine.figures.droppedAtCapacity == 0)
        h.resetRequest("late", at: 2, domain: "new.example")
        #expect(h.engine.figures.domains == 90)
    }

    @Test func tiesAreBrokenByKeySoReplaysDropTheSameEntries() {
        var map: [UInt64: Timestamp] = [:]
        for key in UInt64(0)..<20 { map[key] = Timestamp(seconds: 5) }
        var removed: [UInt64] = []
        let dropped = ShardState.dropLeastRecentlySeen(&map, keeping: 10, sparing: { $0 == 3 }, removed: &removed) {
            $0
        }
        #expect(dropped == 11)
        #expect(removed == [0, 1, 2] + Array(4..<11))
        #expect(Set(map.keys) == Set(UInt64(11)..<20).union([3]))
    }
}

@Suite struct UserCapacityTests {
    @Test func aFullUserTableDropsTheLeastRecentlySeenTenth() {
        var config = VigilConfig()
        config.engine.maxUsers = 100
        var h = EngineHarness(config: config)
        for i in 0..<100 { h.login("sprayed-\(i)", at: Double(i) * 0.01, outcome: .failure) }
        #expect(h.engine.figures.users == 100)
        #expect(h.engine.figures.droppedAtCapacity == 0)
        h.login("one-more", at: 1.5, outcome: .failure)
        #expect(h.engine.figures.users == 90)
        #expect(h.engine.figures.droppedAtCapacity == 11)
        // The first sprayed names went; the newest stayed.
        let keys = EngineKeys(secret: .publicDefault)
        func key(_ id: String) -> UInt64 {
            var hasher = SipHashState(key: keys.user)
            hasher.append("")
            hasher.append(id)
            return hasher.finalize()
        }
        #expect(!h.engine.state.users.contains(key("sprayed-0")))
        #expect(h.engine.state.users.contains(key("sprayed-99")))
        #expect(h.engine.state.users.contains(key("one-more")))
    }
}

@Suite struct UserCapacityTieTests {
    @Test func usersSeenAtTheSameInstantAreDroppedOnlyAsFarAsNeeded() {
        var config = VigilConfig()
        config.engine.maxUsers = 100
        var h = EngineHarness(config: config)
        for i in 0...100 { h.login("same-second-\(i)", at: 5, outcome: .failure) }
        #expect(h.engine.figures.users == 90)
        #expect(h.engine.figures.droppedAtCapacity == 11)
    }
}
