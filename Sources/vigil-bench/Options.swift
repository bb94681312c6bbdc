import Foundation

/// Command-line options. `--quick` shrinks every figure for a smoke run; sizes are otherwise those
/// the issue asks for.
struct Options {
    var quick = false
    /// Figures 1 and 2 only: what a profiler run (callgrind, perf) needs.
    var engineOnly = false
    /// Figure 5 (state bytes per user) only: no engine, limits or Kafka figures.
    var memoryOnly = false
    /// Figure 6 (restore) only.
    var restoreOnly = false
    /// Figure 7 (the global table's propagation delay) only.
    var globalTableOnly = false
    /// The in-process changelog cost only (engine with change recording and flushes, against off).
    var changelogCostOnly = false
    /// Figure 3's changelog on / off pair of `vigil run` runs only, `pairRounds` times.
    var changelogPairOnly = false
    /// The repartition hop's pair only: `vigil run` with the by-user hop (an unkeyed input, the default)
    /// against `input.keyed_by_user: true` (the user stage on the input partitions), `pairRounds` times.
    var hopPairOnly = false
    /// Figure 8 (the source-risk table's delay end to end, through `vigil run`) only.
    var propagationOnly = false
    /// `engine.threads` of the multi-threaded `vigil run` runs (`--threads`); figure 3 also runs one thread.
    var daemonThreads = 2
    var pairRounds = 1
    /// With `changelogPairOnly`: a second daemon binary whose pair runs before `vigilBinary`'s in each
    /// round, so that two builds are compared on one mock cluster under the same load.
    var baselineVigilBinary: String?
    var restoreUsersOverride: Int?
    /// Users of the restore figures' shard.
    var restoreUsers: Int { restoreUsersOverride ?? (quick ? 100_000 : 1_000_000) }
    var memoryUsersOverride: [Int]?
    var jsonPath: String?
    var cityDatabase: String?
    var asnDatabase = "../shared/testdata/maxmind/GeoLite2-ASN-Test.mmdb"
    var vigilBinary: String?

    var users: Int { quick ? 10_000 : 100_000 }
    var engineEvents: Int { quick ? 50_000 : 1_000_000 }
    var foundationEvents: Int { quick ? 20_000 : 200_000 }
    /// `state.flush_interval` of the changelog-on run, in milliseconds: the daemon's default, since the
    /// ≥ 90% goal is about the daemon as shipped (`--flush-interval-ms 100` bounds the cost of shorter
    /// intervals; BENCHMARKS.md has both).
    var flushIntervalMilliseconds = 1_000
    var changelogEventsOverride: Int?
    /// Events of the changelog on / off pairs of `vigil run` runs: enough for ten seconds or so each,
    /// so that the ratio is a steady state's over many flushes, not the start-up's and restore's.
    var changelogEvents: Int { changelogEventsOverride ?? (quick ? 50_000 : 600_000) }
    var kafkaEventsOverride: Int?
    var kafkaEvents: Int { kafkaEventsOverride ?? (quick ? 20_000 : 100_000) }
    var latencySecondsOverride: Double?
    /// Seconds of traffic per latency rate.
    var latencySeconds: Double { latencySecondsOverride ?? (quick ? 3 : 10) }
    /// Latency sweep rates (events/s) below half the maximum; half the maximum is always added.
    var latencyRates: [Double] = [1_000, 5_000, 20_000]
    /// `--latency-fetch-wait MS`: the consumers' fetch.wait.max.ms in the latency runs (raw and daemon)
    /// instead of the daemon's default. librdkafka's mock broker answers an empty fetch only after that
    /// wait, even when data arrives meanwhile (a real broker answers at once), so it bounds latency here.
    var latencyFetchWait: String?
    var latencyConsumerProperties: [(String, String)] { latencyFetchWait.map { [("fetch.wait.max.ms", $0)] } ?? [] }
    var memoryUsers: [Int] { memoryUsersOverride ?? (quick ? [100_000, 200_000] : [1_000_000, 5_000_000]) }

    static let usage = """
        usage: vigil-bench --city-db GeoLite2-City.mmdb [--asn-db FILE] [--vigil PATH] [--quick] [--engine-only] [--memory-only] [--memory-users N,N] [--restore-only] [--restore-users N] [--global-table-only] [--changelog-cost-only] [--changelog-pair-only] [--hop-pair-only] [--propagation-only] [--pair-rounds N] [--threads N] [--baseline-vigil PATH] [--flush-interval-ms MS] [--changelog-events N] [--kafka-events N] [--latency-rates R,...] [--latency-seconds S] [--latency-fetch-wait MS] [--json FILE]
          --city-db  a real GeoLite2/GeoIP2 City database (scripts/bench.sh fetches the July 2018 GeoLite2-City)
          --asn-db   default ../shared/testdata/maxmind/GeoLite2-ASN-Test.mmdb
          --engine-only  figures 1 and 2 only (for profiling)
          --memory-only  figure 5 only (state bytes per user)
          --memory-users N,N  user counts for figure 5 (default 1000000,5000000; --quick 100000,200000)
          --restore-only  figure 6 only (restore from changelog records and from a snapshot)
          --global-table-only  figure 7 only (the global table's produce → applied delay)
          --changelog-cost-only  the changelog's in-process cost only (engine with flushes every 6,000 and 60,000 events, against off)
          --changelog-pair-only  the changelog on / off pair of vigil runs only (64 partitions, --changelog-events)
          --hop-pair-only  the by-user hop's pair only: vigil run unkeyed against input.keyed_by_user (64 partitions, --changelog-events)
          --propagation-only  figure 8 only (a spraying source's fact, from the input topic through vigil run to another table)
          --pair-rounds N  pairs of --changelog-pair-only or --hop-pair-only (default 1), and of figure 3's changelog pairs (at least 3)
          --threads N  engine.threads of the multi-threaded vigil runs (default 2; figure 3 also runs 1)
          --baseline-vigil PATH  with --changelog-pair-only: another vigil binary, whose pair runs first in each round
          --restore-users N  users of the restored shard (default 1000000; --quick 100000)
          --flush-interval-ms MS  state.flush_interval of the changelog-on vigil runs (default 1000, the daemon's)
          --changelog-events N  events of the changelog on / off vigil runs (default 600000, quick 50000)
          --kafka-events N  events preloaded for the end-to-end figures
          --latency-rates R,R,...  latency sweep rates in events/s (default 1000,5000,20000; ½ max is always added)
          --latency-seconds S  seconds of paced traffic per rate (default 10, quick 3)
          --latency-fetch-wait MS  consumers' fetch.wait.max.ms in the latency runs (default: the daemon's)
          --vigil    the daemon binary for the end-to-end figures (default: `vigil` beside this binary)
        """

    static func parse(_ arguments: [String]) -> Options? {
        var options = Options()
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            switch argument {
            case "--quick": options.quick = true
            case "--engine-only": options.engineOnly = true
            case "--memory-only": options.memoryOnly = true
            case "--memory-users":
                guard let list = rest.popFirst()?.split(separator: ",").map({ Int($0) }), !list.isEmpty,
                    list.allSatisfy({ ($0 ?? 0) > 0 })
                else { return nil }
                options.memoryUsersOverride = list.compactMap { $0 }
            case "--restore-only": options.restoreOnly = true
            case "--global-table-only": options.globalTableOnly = true
            case "--changelog-cost-only": options.changelogCostOnly = true
            case "--changelog-pair-only": options.changelogPairOnly = true
            case "--hop-pair-only": options.hopPairOnly = true
            case "--propagation-only": options.propagationOnly = true
            case "--threads":
                guard let threads = rest.popFirst().flatMap({ Int($0) }), (1...256).contains(threads) else {
                    return nil
                }
                options.daemonThreads = threads
            case "--pair-rounds":
                guard let rounds = rest.popFirst().flatMap({ Int($0) }), rounds > 0 else { return nil }
                options.pairRounds = rounds
            case "--baseline-vigil": options.baselineVigilBinary = rest.popFirst()
            case "--restore-users":
                guard let users = rest.popFirst().flatMap({ Int($0) }), users > 0 else { return nil }
                options.restoreUsersOverride = users
            case "--flush-interval-ms":
                guard let milliseconds = rest.popFirst().flatMap({ Int($0) }), milliseconds >= 10 else { return nil }
                options.flushIntervalMilliseconds = milliseconds
            case "--changelog-events": options.changelogEventsOverride = rest.popFirst().flatMap { Int($0) }
            case "--kafka-events": options.kafkaEventsOverride = rest.popFirst().flatMap { Int($0) }
            case "--json": options.jsonPath = rest.popFirst()
            case "--city-db": options.cityDatabase = rest.popFirst()
            case "--asn-db": options.asnDatabase = rest.popFirst() ?? options.asnDatabase
            case "--vigil": options.vigilBinary = rest.popFirst()
            case "--latency-rates":
                guard let rates = rest.popFirst()?.split(separator: ",").map({ Double($0) }), !rates.contains(nil)
                else {
                    return nil
                }
                options.latencyRates = rates.compactMap { $0 }
            case "--latency-seconds": options.latencySecondsOverride = rest.popFirst().flatMap { Double($0) }
            case "--latency-fetch-wait": options.latencyFetchWait = rest.popFirst()
            default: return nil
            }
        }
        return options.cityDatabase == nil ? nil : options
    }
}
