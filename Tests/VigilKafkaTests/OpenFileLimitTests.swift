import Glibc
import Testing

@testable import VigilKafka

@Suite struct OpenFileLimitTests {
    /// The soft limit goes up to the hard one, never down, and never past what Linux accepts.
    @Test func theTargetIsTheHardLimitUpToTheCeiling() {
        let unlimited = UInt64(rlim_t.max)  // RLIM_INFINITY
        #expect(OpenFileLimit.target(soft: 1024, hard: 524_288) == 524_288)
        #expect(OpenFileLimit.target(soft: 1023, hard: 1024) == 1024)
        #expect(OpenFileLimit.target(soft: 1024, hard: 1024) == nil)
        #expect(OpenFileLimit.target(soft: 4096, hard: 1024) == nil)
        #expect(OpenFileLimit.target(soft: 1024, hard: unlimited) == OpenFileLimit.ceiling)
        #expect(OpenFileLimit.target(soft: OpenFileLimit.ceiling, hard: unlimited) == nil)
        #expect(OpenFileLimit.target(soft: OpenFileLimit.ceiling + 1, hard: unlimited) == nil)
    }

    /// After a raise this process's soft limit is its target: the mock clusters of the suites running
    /// side by side rely on it.
    @Test func aRaiseLeavesTheSoftLimitAtItsTarget() throws {
        try OpenFileLimit.raiseToHardLimit()
        var limits = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limits) == 0)
        #expect(OpenFileLimit.target(soft: UInt64(limits.rlim_cur), hard: UInt64(limits.rlim_max)) == nil)
        #expect(try OpenFileLimit.raiseToHardLimit() == nil)
    }
}
