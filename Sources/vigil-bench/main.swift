import Foundation
import Logging
import VigilCore
import VigilDaemon
import VigilGeo
import VigilKafka
import VigilTestSupport
import VigilWorkload

// `swift run -c release vigil-bench --city-db GeoLite2-City.mmdb [--quick] [--json FILE]`; see
// BENCHMARKS.md for what each figure means and the targets.

// The latency figures' load generator runs as a child process of this binary (KafkaBench.swift).
if CommandLine.arguments.dropFirst().first == "pace" {
    try Pacer.main(Array(CommandLine.arguments.dropFirst(2)))
    exit(0)
}

guard let options = Options.parse(Array(CommandLine.arguments.dropFirst())) else {
    print(Options.usage)
    exit(2)
}

var config = DaemonConfig()
config.geo.cityDatabase = options.cityDatabase
config.geo.asnDatabase = options.asnDatabase
var report = Report()
let loadAverage =
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(
        separator: " ") ?? "?"
report.context = [
    "quick": options.quick, "cpus": ProcessInfo.processInfo.activeProcessorCount, "load_average_at_start": loadAverage,
    "city_db": options.cityDatabase!, "asn_db": options.asnDatabase,
    "date": ISO8601DateFormatter().string(from: Date()),
]

// The IP mix: one address per user sampled from the real City database, grouped by city.
var uncached = config.geo
uncached.cacheEntries = 0
let sampler = try GeoDatabases(settings: uncached)
// The memory figure needs only some located addresses: on a database too small to sample (MaxMind's
// test City database with `--quick`) it uses the built-in pool of that database's addresses.
let sampled = IPPool.sample(from: sampler, addresses: options.users, seed: 2018, vpnExits: 64)
guard let pool = sampled ?? (options.memoryOnly || options.restoreOnly ? IPPool.maxMindTestCity : nil) else {
    print("no located address found in \(options.cityDatabase!)")
    exit(1)
}
if sampled == nil { report.context["pool_fallback"] = "IPPool.maxMindTestCity" }
// GeoLite2 has no anonymous-IP data: the VPN exits are flagged as an operator would flag a VPN
// provider's ranges, with a `vpn` CIDR list, for the engine figures and the daemon alike.
let vpnList = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bench-vpn-\(getpid()).txt").path
try pool.vpnExits.map { "\($0)/32\n" }.joined().write(toFile: vpnList, atomically: true, encoding: .utf8)
defer { try? FileManager.default.removeItem(atPath: vpnList) }
config.reputation.cidrLists = [ReputationSettings.CIDRList(path: vpnList, category: "vpn")]
report.context["city_db_type"] = sampler.database(.city)?.databaseType ?? "?"
report.context["pool"] = ["cities": pool.locations.count, "addresses": pool.addressCount]

/// Figure 5: state bytes per user at each size in `options.memoryUsers`.
@MainActor func memoryFigures() {
    let sources = pool.locations.flatMap(\.addresses).prefix(10_000).map { ($0, sampler.lookup($0)) }
    for users in options.memoryUsers {
        let growth = MemoryBench.residentGrowth(users: users, sources: Array(sources), config: config.core)
        let perUser = Double(growth.resident) / Double(users)
        report.add(
            "bytes_per_user_\(users)", "memory: state per user, \(users / 1000)k users", perUser, "B",
            target: "<= 256", met: perUser <= 256)
        report.add(
            "peak_bytes_per_user_\(users)", "memory: peak growth per user, \(users / 1000)k users",
            Double(growth.peak) / Double(users), "B",
            note: growth.peakIsOwn ? "VmHWM reset before" : "VmHWM since start")
        report.add(
            "peak_rss_mb_\(users)", "memory: bench peak RSS, \(users / 1000)k users",
            Double(MemoryBench.peakResidentBytes()) / 1_048_576,
            "MiB")
    }
    report.context["bench_peak_rss_mb"] = Double(MemoryBench.peakResidentBytes()) / 1_048_576
}

/// Figure 6: restoring a shard of `options.restoreUsers` users in process (changelog records and
/// snapshot), and a changelog partition read back through Kafka on `cluster`.
@MainActor func restoreFigures(cluster: MockKafkaCluster) throws {
    let sources = pool.locations.flatMap(\.addresses).prefix(10_000).map { ($0, sampler.lookup($0)) }
    let bench = RestoreBench(
        users: options.restoreUsers, sources: MemoryBench.located(Array(sources)), config: config.core)
    progress("restore: \(options.restoreUsers) users in process")
    let local = bench.inProcess()
    let users = "\(local.users / 1000)k users"
    report.add(
        "restore_changelog_records_per_s", "restore: changelog records applied, in process",
        Double(local.records) / local.applySeconds, "rec/s", note: "\(local.records) records, \(users)")
    report.add(
        "restore_changelog_mb_per_s", "  changelog bytes applied, in process",
        Double(local.recordBytes) / local.applySeconds / 1_048_576, "MiB/s")
    report.add(
        "restore_changelog_seconds_\(local.users)", "restore: \(users) from changelog records", local.applySeconds, "s",
        note: "records already in memory: no broker")
    report.add(
        "changelog_bytes_per_user", "  changelog key + value bytes per user",
        Double(local.recordBytes) / Double(local.users),
        "B", note: "two logins each, sources and buckets included")
    report.add("changelog_flush_seconds_\(local.users)", "  one flush of every entry (encode)", local.flushSeconds, "s")
    report.add(
        "restore_snapshot_seconds_\(local.users)", "restore: \(users) from a snapshot (decode)",
        local.snapshotDecodeSeconds, "s")
    report.add(
        "snapshot_encode_seconds_\(local.users)", "  snapshot encode of the same state", local.snapshotEncodeSeconds,
        "s")
    report.add(
        "snapshot_bytes_per_user", "  snapshot bytes per user", Double(local.snapshotBytes) / Double(local.users), "B")
    // The mock broker keeps about 5 MiB per partition (and drops the oldest beyond): a partition of
    // about 3.5 MiB, counting some 24 bytes of record overhead each.
    let recordsPerUser = Double(local.records) / Double(local.users)
    let onDiskPerRecord = Double(local.recordBytes) / Double(local.records) + 24
    let kafkaUsers = min(options.restoreUsers, Int(3_500_000 / onDiskPerRecord / recordsPerUser))
    progress("restore: \(kafkaUsers) users through KafkaPartitionReader")
    var logger = Logger(label: "vigil-bench.restore")
    logger.logLevel = .error
    let kafka = try bench.throughKafka(cluster: cluster, count: kafkaUsers, logger: logger)
    let rate = Double(kafka.records) / kafka.seconds
    report.add(
        "restore_kafka_records_per_s", "restore: changelog via KafkaPartitionReader", rate, "rec/s",
        note: "one partition on the mock broker, \(kafka.records) records (\(kafka.users) users)")
    report.add(
        "restore_kafka_mb_per_s", "  changelog bytes read and applied", Double(kafka.bytes) / kafka.seconds / 1_048_576,
        "MiB/s")
    report.add(
        "restore_kafka_seconds_\(local.users)_projected", "  \(users) at that rate (projected)",
        Double(local.records) / rate, "s", note: "one partition; a daemon restores two at a time on one thread")
}

/// Figure 7: p50 and p99 of the global table's propagation delay on the mock cluster.
@MainActor func globalTableFigures(cluster: MockKafkaCluster) throws {
    let records = options.quick ? 200 : 1_000
    progress("global table: \(records) facts, one every 5 ms")
    var logger = Logger(label: "vigil-bench.global-table")
    logger.logLevel = .error
    let delays = try GlobalTableBench(cluster: cluster, logger: logger).delays(
        records: records, interval: .milliseconds(5))
    let note = "\(delays.count) facts, one every 5 ms, linger.ms 1; Kafka timestamps have millisecond resolution"
    report.add(
        "global_table_delay_p50_ms", "global table: produce → applied p50", percentile(delays, 50), "ms", note: note)
    report.add("global_table_delay_p99_ms", "  p99", percentile(delays, 99), "ms")
}

if options.restoreOnly {
    print(Report.header())
    try restoreFigures(cluster: try KafkaBench().cluster)
    if let path = options.jsonPath { try report.write(to: path) }
    exit(0)
}

if options.globalTableOnly {
    print(Report.header())
    try globalTableFigures(cluster: try KafkaBench().cluster)
    if let path = options.jsonPath { try report.write(to: path) }
    exit(0)
}

if options.memoryOnly {
    print(Report.header())
    progress("memory")
    memoryFigures()
    if let path = options.jsonPath { try report.write(to: path) }
    exit(0)
}

var workload = WorkloadConfiguration()
workload.users = options.users
workload.seed = 2018
var traffic = TrafficGenerator(configuration: workload, pool: pool)
var events: [GeneratedEvent] = []
events.reserveCapacity(options.engineEvents)
let generated = measure { for _ in 0..<options.engineEvents { events.append(traffic.nextEvent()) } }
let bytes = events.map(\.bytes)
report.context["events"] = bytes.count
report.context["users"] = options.users
report.context["mean_event_bytes"] = bytes.reduce(0) { $0 + $1.count } / bytes.count
report.context["generation_events_per_s"] = Double(bytes.count) / generated
print("vigil-bench: \(bytes.count) events, \(options.users) users, \(pool.locations.count) cities, load \(loadAverage)")
print(Report.header())
fflush(nil)

if options.changelogCostOnly {
    let eventCount = Double(bytes.count)
    for eventsPerFlush in [6_000, 60_000] {
        progress("changelog cost: a flush every \(eventsPerFlush) events")
        let cost = try ChangelogCostBench(config: config, events: bytes).run(
            eventsPerFlush: eventsPerFlush, passes: options.quick ? 1 : 3)
        let name = "changelog_cost_\(eventsPerFlush)"
        report.add(
            "\(name)_off_ns_per_event", "changelog cost: pipeline, recording off", cost.offSeconds / eventCount * 1e9,
            "ns")
        report.add(
            "\(name)_on_ns_per_event", "  recording on, a flush every \(eventsPerFlush) events",
            cost.onSeconds / eventCount * 1e9, "ns",
            note: "\(Int((cost.offSeconds / cost.onSeconds * 100).rounded()))% of off's rate")
        report.add(
            "\(name)_tracking_ns_per_event", "  of which change tracking",
            (cost.onSeconds - cost.flushSeconds - cost.offSeconds) / eventCount * 1e9, "ns")
        report.add(
            "\(name)_flush_ns_per_event", "  of which flush encoding", cost.flushSeconds / eventCount * 1e9, "ns")
        report.add(
            "\(name)_flush_ns_per_record", "  flush encoding per record",
            cost.flushSeconds / Double(max(1, cost.records)) * 1e9,
            "ns",
            note:
                "\(String(format: "%.2f", Double(cost.records) / eventCount)) records, \(cost.recordBytes / bytes.count) B per event"
        )
    }
    if let path = options.jsonPath { try report.write(to: path) }
    exit(0)
}

let decisionsIn = { (slice: ArraySlice<GeneratedEvent>) -> Int in
    var pipeline = Pipeline(config: config.core, policyVersion: "bench", enricher: nil, deviceKey: .publicDefault)
    var output: [OutputMessage] = []
    for event in slice { pipeline.process(event.bytes, origin: .file(path: "-", line: 0), into: &output) }
    return output.count { $0.stream == .decisions }
}
let vigilBinary =
    options.vigilBinary
    ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    .appendingPathComponent("vigil").path
progress("kafka: vigil binary \(vigilBinary)")
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-bench-\(getpid())").path
try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
let daemonAvailable = FileManager.default.isExecutableFile(atPath: vigilBinary)
let pendingNote = "skipped: no `vigil` executable at \(vigilBinary) (build it, or pass --vigil PATH)"

/// Figure 8: p50 and p99 of the source-risk table's delay from the input topic through `vigil run`.
@MainActor func propagationFigures(daemonBench: DaemonThroughputBench) throws {
    let campaigns = options.quick ? 30 : 100
    progress("propagation: \(campaigns) spraying campaigns through vigil run")
    let delays = try PropagationBench(daemonBench: daemonBench).delays(campaigns: campaigns)
    let note = "\(delays.count) campaigns, idle daemon, 4 partitions, linger.ms 1"
    report.add(
        "propagation_delay_p50_ms", "propagation: spraying event → fact in another table p50", percentile(delays, 50),
        "ms", note: note)
    report.add("propagation_delay_p99_ms", "  p99", percentile(delays, 99), "ms")
}

if options.propagationOnly {
    guard daemonAvailable else {
        print(pendingNote)
        exit(1)
    }
    try propagationFigures(
        daemonBench: DaemonThroughputBench(
            kafka: try KafkaBench(), vigilBinary: vigilBinary, scratch: scratch, cityDatabase: options.cityDatabase!,
            asnDatabase: options.asnDatabase, vpnList: vpnList,
            flushIntervalMilliseconds: options.flushIntervalMilliseconds, decisionsIn: decisionsIn))
    if let path = options.jsonPath { try report.write(to: path) }
    exit(0)
}

if options.hopPairOnly {
    // The repartition hop's cost: the same events, keyed by user, through `vigil run` with the by-user
    // hop (the default for any input) and with `input.keyed_by_user: true` (none), alternating.
    let kafka = try KafkaBench()
    let pairEvents = events.prefix(options.changelogEvents)
    let bench = DaemonThroughputBench(
        kafka: kafka, vigilBinary: vigilBinary, scratch: scratch, cityDatabase: options.cityDatabase!,
        asnDatabase: options.asnDatabase, vpnList: vpnList,
        flushIntervalMilliseconds: options.flushIntervalMilliseconds, decisionsIn: decisionsIn)
    /// A run of under two seconds is mostly start-up and drain: its rate says little.
    func tooShort(_ rate: Double) -> String? {
        let window = Double(pairEvents.count) / rate
        return window < 2 ? "the run lasted \(String(format: "%.2f", window)) s: too short for a steady state" : nil
    }
    for round in 1...options.pairRounds {
        let hopLoad = oneMinuteLoadAverage()
        let hop = try bench.run(prefix: "hop\(round)", changelog: false, events: pairEvents, partitions: 64)
        let keyedLoad = oneMinuteLoadAverage()
        let keyed = try bench.run(
            prefix: "keyed\(round)", changelog: false, events: pairEvents, partitions: 64, keyedByUser: true)
        report.add(
            "hop_\(round)_events_per_s", "hop pair \(round): vigil run, by-user hop", hop.assignedRate, "ev/s",
            note: "load \(hopLoad)", unreliable: hop.assignedRate.flatMap(tooShort))
        report.add(
            "hop_\(round)_keyed_events_per_s", "  input.keyed_by_user: no hop", keyed.assignedRate, "ev/s",
            note: "load \(keyedLoad)", unreliable: keyed.assignedRate.flatMap(tooShort))
        let ratio = hop.assignedRate.flatMap { hop in keyed.assignedRate.map { hop / $0 * 100 } }
        report.add(
            "hop_\(round)_percent", "  with the hop / without", ratio, "%",
            note: "\(pairEvents.count) events, 64 partitions, changelog off",
            unreliable: ratio.flatMap {
                $0 > 102 ? "the run with the hop was the faster: noise exceeds the difference" : nil
            })
    }
    if let path = options.jsonPath { try report.write(to: path) }
    exit(0)
}

if options.changelogPairOnly {
    // Figure 3's changelog pair alone, `--pair-rounds` times, off then on (and with `--baseline-vigil`,
    // that binary's pair before this one's in each round): the load of a shared machine moves between
    // runs, so each rate comes with the load average at its start.
    let kafka = try KafkaBench()
    let pairEvents = events.prefix(options.changelogEvents)
    let binaries = [options.baselineVigilBinary.map { ("baseline", $0) }, ("vigil", vigilBinary)].compactMap { $0 }
    var ratios: [String: [Double]] = [:]
    for round in 1...options.pairRounds {
        for (name, binary) in binaries {
            let bench = DaemonThroughputBench(
                kafka: kafka, vigilBinary: binary, scratch: scratch, cityDatabase: options.cityDatabase!,
                asnDatabase: options.asnDatabase, vpnList: vpnList,
                flushIntervalMilliseconds: options.flushIntervalMilliseconds, decisionsIn: decisionsIn)
            let offLoad = oneMinuteLoadAverage()
            let off = try bench.run(prefix: "\(name)off\(round)", changelog: false, events: pairEvents, partitions: 64)
            let onLoad = oneMinuteLoadAverage()
            let on = try bench.run(prefix: "\(name)cl\(round)", changelog: true, events: pairEvents, partitions: 64)
            let key = "pair_\(round)_\(name)"
            report.add(
                "\(key)_off_events_per_s", "pair \(round), \(name): changelog off", off.assignedRate, "ev/s",
                note: "load \(offLoad); \(binary)")
            report.add(
                "\(key)_on_events_per_s", "  changelog on, flush every \(options.flushIntervalMilliseconds) ms",
                on.assignedRate, "ev/s",
                note: "load \(onLoad); \(on.written.map { "\($0.records) changelog records" } ?? "")")
            let ratio = on.assignedRate.flatMap { on in off.assignedRate.map { on / $0 * 100 } }
            if let ratio { ratios[name, default: []].append(ratio) }
            report.add("\(key)_percent", "  on / off", ratio, "%", note: "\(pairEvents.count) events, 64 partitions")
            let cpuRatio = on.cpuSeconds.flatMap { on in off.cpuSeconds.map { $0 / on * 100 } }
            report.add(
                "\(key)_cpu_percent", "  daemon CPU time, off / on", cpuRatio, "%",
                note: off.cpuSeconds.flatMap { off in
                    on.cpuSeconds.map { String(format: "%.2f s / %.2f s, start-up to last output", off, $0) }
                })
        }
    }
    for (name, _) in binaries {
        let verdict = PairVerdict(ratios: ratios[name] ?? [], target: 90)
        report.add(
            "pairs_\(name)_percent", "\(name): changelog on / off, median of \(options.pairRounds) pairs",
            verdict.median,
            "%", target: ">= 90", met: verdict.met, note: verdict.listed, unreliable: verdict.unreliable)
    }
    if let path = options.jsonPath { try report.write(to: path) }
    try? FileManager.default.removeItem(atPath: scratch)
    exit(0)
}

// 1. Engine only, one thread.
progress("engine")
let engine = try EngineBench(config: config, events: bytes).run(passes: options.quick ? 1 : 3)
let count = Double(bytes.count)
report.add(
    "engine_events_per_s", "engine: Pipeline.process, 1 thread", count / engine.pipelineSeconds, "ev/s",
    target: ">= 300000", met: count / engine.pipelineSeconds >= 300_000,
    unreliable: options.quick ? "--quick: \(options.users) users' state, not the target's 100,000" : nil)
report.add("engine_ns_per_event", "engine: time per event", engine.pipelineSeconds / count * 1e9, "ns")
let stagedSeconds = try EngineBench(config: config, events: bytes).runStaged(passes: options.quick ? 1 : 3)
report.add(
    "engine_staged_events_per_s", "engine: staged topology (decode, user, source, domain, campaign stages), 1 thread",
    count / stagedSeconds, "ev/s")
let stages = [
    ("decode", engine.decodeSeconds), ("enrich", engine.enrichSeconds), ("engine", engine.engineSeconds),
    ("encode", engine.encodeSeconds),
]
let stageTotal = stages.reduce(0) { $0 + $1.1 }
for (name, seconds) in stages {
    report.add(
        "stage_\(name)_ns_per_event", "  stage \(name) (share of stage sum)", seconds / count * 1e9, "ns",
        note: "\(Int((seconds / stageTotal * 100).rounded()))%")
}
let lookups = engine.cache.hits + engine.cache.misses
report.add(
    "lookup_cache_hit_rate", "  lookup cache hit rate", Double(engine.cache.hits) / Double(max(1, lookups)) * 100, "%",
    note: "\(engine.cache.capacity) entries")
let outputsPerEvent = Double(engine.outputs) / count
report.context["outputs_per_event"] = outputsPerEvent

// 2. The limits under it.
progress("limits")
let addresses = engine.decoded.compactMap(\.ip)
let rawSeconds = LimitsBench.rawMaxMind(
    cityPath: options.cityDatabase!, asnPath: options.asnDatabase, addresses: addresses)
report.add(
    "libmaxminddb_lookups_per_s", "limit: libmaxminddb C API, city+ASN fields", Double(addresses.count) / rawSeconds,
    "ip/s")
report.add(
    "enrich_lookups_per_s", "  VigilGeo enrich (with cache), same IPs", Double(addresses.count) / engine.enrichSeconds,
    "ip/s")
let uncachedEnricher = Enricher(geo: try GeoDatabases(settings: uncached))
let uncachedSeconds = measure { for address in addresses { _ = uncachedEnricher.enrich(address) } }
report.add(
    "enrich_uncached_lookups_per_s", "  VigilGeo enrich, cache off, same IPs",
    Double(addresses.count) / uncachedSeconds, "ip/s")
report.add("decoder_events_per_s", "limit: EventDecoder parse + validate", count / engine.decodeSeconds, "ev/s")
// The identity providers' formats against the canonical decoder, on the same traffic in each format
// (malformed messages are off in this workload, so every record decodes or is skipped).
let formatEvents = Array(bytes.prefix(options.foundationEvents))
let canonicalRecordSeconds = LimitsBench.recordDecode(formatEvents, format: .vigil)
report.add(
    "record_decoder_vigil_events_per_s", "  RecordDecoder vigil (the contract's decoder)",
    Double(formatEvents.count) / canonicalRecordSeconds, "ev/s", note: "\(formatEvents.count) events")
for format in InputFormat.trafficFormats where format != .vigil {
    var formatWorkload = workload
    formatWorkload.format = format
    let records = TrafficGenerator(configuration: formatWorkload, pool: pool).prefix(formatEvents.count).map(\.bytes)
    let seconds = LimitsBench.recordDecode(records, format: format)
    report.add(
        "record_decoder_\(format.rawValue)_events_per_s", "  RecordDecoder \(format.rawValue) (tree parse + mapping)",
        Double(records.count) / seconds, "ev/s",
        note: "\(Int((canonicalRecordSeconds / seconds * 100).rounded()))% of vigil's rate; "
            + "\(records.reduce(0) { $0 + $1.count } / max(1, records.count)) B/record")
}
let foundationEvents = Array(bytes.prefix(options.foundationEvents))
let foundationSeconds = LimitsBench.foundationParse(foundationEvents)
report.add(
    "foundation_json_events_per_s", "  Foundation JSONSerialization parse only",
    Double(foundationEvents.count) / foundationSeconds,
    "ev/s")

// What a Security Event Token's signature costs the worker thread that produces it.
progress("signing: security event tokens")
for (algorithm, rate) in try SigningBench.tokensPerSecond(
    tokens: options.quick ? 500 : 5_000, scratch: URL(fileURLWithPath: scratch))
{
    report.add(
        "set_signing_\(algorithm.lowercased())_per_s", "limit: SecurityEventSigner \(algorithm), one thread", rate,
        "tokens/s", note: "\(String(format: "%.1f", 1e6 / rate)) µs per token")
}

if options.engineOnly {
    if let path = options.jsonPath { try report.write(to: path) }
    exit(0)
}

// 3 and 4. End to end on the mock cluster.
progress("kafka: raw pass-through")
let kafka = try KafkaBench()
let kafkaEvents = events.prefix(options.kafkaEvents)
try kafka.createTopics("raw.in", "raw.out", "vigillat.in")
try kafka.preload(kafkaEvents, topic: "raw.in")
var passThrough: RawPassThrough?
let rawRun = try kafka.throughput(
    inputs: kafkaEvents.count, expected: kafkaEvents.count, observed: "raw.out", timeout: 120
) {
    passThrough = RawPassThrough(bootstrap: kafka.cluster.bootstrapServers, input: "raw.in", output: "raw.out")
    passThrough!.start()
}
progress("kafka: stopping the pass-through")
passThrough?.stop()
let raw = rawRun.rates
report.add(
    "raw_passthrough_events_per_s", "kafka: raw librdkafka pass-through", raw?.steady, "ev/s",
    note: raw.map { "wall incl. start-up \(Int($0.wall)) ev/s" }
        ?? "only \(rawRun.observed) of \(kafkaEvents.count) arrived")

let daemonBench = DaemonThroughputBench(
    kafka: kafka, vigilBinary: vigilBinary, scratch: scratch, cityDatabase: options.cityDatabase!,
    asnDatabase: options.asnDatabase, vpnList: vpnList, flushIntervalMilliseconds: options.flushIntervalMilliseconds,
    decisionsIn: decisionsIn)
/// `engine.threads` of the multi-threaded runs (`--threads`, default 2).
let daemonThreads = options.daemonThreads
var daemonRate: Double?
var oneThreadDaemonRate: Double?
var keyedDaemonRate: Double?
var daemonPeak: Int?
/// The changelog pair: more events than figure 3's (the mock keeps about 5 MiB per partition, hence 64
/// partitions) so that each run lasts seconds, changelog off then on.
let changelogEvents = events.prefix(options.changelogEvents)
let changelogPartitions = 64
/// Figure 3's changelog pairs, off then on each, alternating: one pair supports no verdict on this
/// machine (`PairVerdict`).
let changelogPairCount = options.quick ? 1 : max(3, options.pairRounds)
var changelogPairs: [(off: DaemonRun, on: DaemonRun)] = []
var pairLoadAverage = "?"
if daemonAvailable {
    (daemonRate, _, daemonPeak, _, _) = try daemonBench.run(
        prefix: "vigil", changelog: false, events: kafkaEvents, threads: daemonThreads)
    oneThreadDaemonRate = try daemonBench.run(
        prefix: "vigil1t", changelog: false, events: kafkaEvents, threads: 1
    ).rate
    keyedDaemonRate = try daemonBench.run(
        prefix: "vigilkeyed", changelog: false, events: kafkaEvents, keyedByUser: true, threads: daemonThreads
    ).rate
    pairLoadAverage = oneMinuteLoadAverage()
    for round in 1...changelogPairCount {
        let off = try daemonBench.run(
            prefix: "vigiloff\(round)", changelog: false, events: changelogEvents, partitions: changelogPartitions)
        let on = try daemonBench.run(
            prefix: "vigilcl\(round)", changelog: true, events: changelogEvents, partitions: changelogPartitions)
        changelogPairs.append((off, on))
    }
}
/// The first pair's runs: their peak memory and what the changelog-on run wrote.
let changelogOff = changelogPairs.first?.off
let changelogRun = changelogPairs.first?.on
// `vigil run` processes a partition on one thread at a time, on at most `engine.threads` threads: a
// rate above this run's single-thread engine rate times the threads it could use (or above the raw
// pass-through) means the run was too short to reach a steady state.
let engineRate = count / engine.pipelineSeconds
let cores = ProcessInfo.processInfo.activeProcessorCount
/// Why a `vigil run` rate on `threads` threads cannot be a steady state's, if it cannot.
func aboveEngineRate(_ rate: Double, threads: Int = 1) -> String? {
    let usable = min(threads, cores)
    let limit = engineRate * Double(usable)
    return rate > limit
        ? "above this run's single-thread engine rate × \(usable) (\(Int(limit)) ev/s): too few events for a steady state"
        : nil
}
let daemonUnreliable = daemonRate.flatMap { aboveEngineRate($0, threads: daemonThreads) }
report.add(
    "daemon_events_per_s", "kafka: vigil run (subprocess), changelog off", daemonRate, "ev/s",
    note: daemonAvailable
        ? "engine.threads \(daemonThreads) on \(cores) cores; unkeyed input: decode, by-user hop, stages" : pendingNote,
    unreliable: daemonUnreliable)
let oneThreadUnreliable = oneThreadDaemonRate.flatMap { aboveEngineRate($0) }
report.add(
    "daemon_1thread_events_per_s", "  the same, engine.threads 1", oneThreadDaemonRate, "ev/s",
    note: daemonAvailable ? nil : pendingNote, unreliable: oneThreadUnreliable)
let keyedUnreliable = keyedDaemonRate.flatMap { aboveEngineRate($0, threads: daemonThreads) }
report.add(
    "daemon_keyed_events_per_s", "kafka: vigil run, input.keyed_by_user (no by-user hop)", keyedDaemonRate, "ev/s",
    note: daemonAvailable ? nil : pendingNote, unreliable: keyedUnreliable)
let hopRatio = daemonRate.flatMap { hop in keyedDaemonRate.map { hop / $0 * 100 } }
report.add(
    "daemon_hop_percent", "kafka: vigil run with the by-user hop / without", hopRatio, "%",
    note: daemonAvailable ? "the repartition hop's cost" : pendingNote,
    unreliable: daemonUnreliable ?? keyedUnreliable)
// The pairs' rates run from the daemon's assignment to its last output: in a preloaded backlog its
// outputs come in bursts, so first-to-last output would shorten the window.
let flushInterval = Double(options.flushIntervalMilliseconds) / 1000

/// Why a run of a changelog pair cannot support its rate, if it cannot.
func changelogPairProblem(_ rate: Double) -> String? {
    // The pair runs at engine.threads' default: one thread per core.
    if let problem = aboveEngineRate(rate, threads: cores) { return problem }
    let window = Double(changelogEvents.count) / rate
    return window < 5 * flushInterval
        ? "the run lasted \(String(format: "%.2f", window)) s, under five flush intervals of \(options.flushIntervalMilliseconds) ms"
        : nil
}
var changelogRatios: [Double] = []
for (index, pair) in changelogPairs.enumerated() {
    let round = index + 1
    let offUnreliable = pair.off.assignedRate.flatMap(changelogPairProblem)
    let onUnreliable = pair.on.assignedRate.flatMap(changelogPairProblem)
    report.add(
        "daemon_changelog_\(round)_off_events_per_s",
        "kafka: pair \(round), vigil run, changelog off (\(changelogEvents.count) events)", pair.off.assignedRate,
        "ev/s",
        note: "\(changelogPartitions) partitions, from assignment to last output", unreliable: offUnreliable)
    report.add(
        "daemon_changelog_\(round)_events_per_s", "  changelog on (same events)", pair.on.assignedRate, "ev/s",
        note: "state.flush_interval \(options.flushIntervalMilliseconds) ms", unreliable: onUnreliable)
    // A pair with a run that cannot support its rate takes no part in the verdict.
    if offUnreliable == nil, onUnreliable == nil, let on = pair.on.assignedRate, let off = pair.off.assignedRate {
        changelogRatios.append(on / off * 100)
    }
}
let changelogVerdict = PairVerdict(ratios: changelogRatios, target: 90)
report.add(
    "daemon_changelog_vs_off_percent", "kafka: vigil run changelog on / off, median", changelogVerdict.median, "%",
    target: ">= 90", met: changelogVerdict.met,
    note: daemonAvailable
        ? "\(changelogRatios.count) of \(changelogPairs.count) pairs: \(changelogVerdict.listed); load at the start \(pairLoadAverage)"
        : pendingNote,
    unreliable: daemonAvailable ? changelogVerdict.unreliable : nil)
let written = changelogRun?.written
let incomplete = written.flatMap {
    $0.complete ? nil : "the mock broker dropped old changelog records: more than it keeps"
}
report.add(
    "changelog_bytes_per_event", "kafka: changelog bytes written per input event",
    written.map { Double($0.bytes) / Double(changelogEvents.count) }, "B",
    note: written.map {
        "\($0.records) records, key + value bytes, \(changelogEvents.count) events, flush every \(options.flushIntervalMilliseconds) ms"
    } ?? pendingNote,
    unreliable: incomplete)
report.add(
    "changelog_records_per_event", "  changelog records written per input event",
    written.map { Double($0.records) / Double(changelogEvents.count) }, "", note: written == nil ? pendingNote : nil,
    unreliable: incomplete)
for (key, label, rate, unreliable) in [
    ("daemon_vs_raw_percent", "kafka: vigil run / raw pass-through", daemonRate, daemonUnreliable),
    ("daemon_1thread_vs_raw_percent", "  the same, engine.threads 1", oneThreadDaemonRate, oneThreadUnreliable),
] {
    let ratio = rate.flatMap { rate in raw.map { rate / $0.steady * 100 } }
    report.add(
        key, label, ratio, "%", target: ">= 80", met: ratio.map { $0 >= 80 },
        note: daemonAvailable ? nil : pendingNote,
        unreliable: unreliable ?? ratio.flatMap { $0 > 100 ? "the daemon cannot outrun the raw pass-through" : nil })
}

func percentile(_ sorted: [Double], _ p: Double) -> Double? {
    sorted.isEmpty ? nil : sorted[min(sorted.count - 1, Int((Double(sorted.count) * p / 100).rounded(.down)))]
}
/// The sweep's rates for a system whose backlog rate is `maximum`: the fixed ones below it, then half
/// of it (the issue's figure).
@MainActor func sweepRates(maximum: Double) -> [Double] {
    options.latencyRates.filter { $0 < maximum / 2 } + [maximum / 2]
}
/// Fresh events for the sweeps, continuing the generator's timeline (ids new to every observer); as
/// many as the faster system's sweep needs, the slower one uses a prefix.
let latencyEvents: ArraySlice<GeneratedEvent> = {
    let fastest = max(raw?.steady ?? 0, daemonRate ?? 0)
    let needed = Int(sweepRates(maximum: fastest).reduce(0, +) * options.latencySeconds) + 501
    progress("latency: generating \(needed) events")
    return (0..<needed).map { _ in traffic.nextEvent() }[...]
}()
@MainActor func reportSweep(
    _ system: String, _ key: String, _ sweep: [(rate: Double, latencies: [Double])], half: Double
) {
    for (rate, latencies) in sweep {
        let isHalf = rate == half
        let rateKey = isHalf ? "half_max" : String(Int(rate))
        for (name, p) in [("p50", 50.0), ("p99", 99.0), ("p999", 99.9)] {
            let value = percentile(latencies, p)
            let judged = isHalf && name == "p99" && key == "daemon"
            report.add(
                "\(key)_latency_\(rateKey)_\(name)_ms",
                "latency \(system) \(name) @ \(Int(rate)) ev/s\(isHalf ? " (½ max)" : "")",
                value, "ms", target: judged ? "< 10" : nil, met: judged ? value.map { $0 < 10 } : nil,
                note: name == "p50" ? "\(latencies.count) samples" : nil)
        }
    }
}
if let raw {
    progress("latency: raw pass-through sweep")
    try kafka.createTopics("rawlat.in", "rawlat.out")
    let loop = RawPassThrough(
        bootstrap: kafka.cluster.bootstrapServers, input: "rawlat.in", output: "rawlat.out",
        consumerSettings: options.latencyConsumerProperties)
    loop.start()
    loop.waitUntilAssigned()
    let rates = sweepRates(maximum: raw.steady)
    let sweep = try kafka.latencySweep(
        latencyEvents, rates: rates, seconds: options.latencySeconds, input: "rawlat.in", observed: "rawlat.out",
        scratch: scratch, expected: { $0.count })
    loop.stop()
    reportSweep("raw pass-through", "raw", sweep, half: rates.last!)
}
var daemonLatencies: [Double]?
if daemonAvailable, let daemonRate {
    progress("latency: vigil run sweep")
    try writeDaemonConfig(
        to: scratch + "/latency.yaml", bootstrap: kafka.cluster.bootstrapServers, input: "vigillat.in",
        prefix: "vigillat",
        cityDatabase: options.cityDatabase!, asnDatabase: options.asnDatabase, vpnList: vpnList,
        properties: options.latencyConsumerProperties)
    try kafka.createTopics("vigillat.decisions", "vigillat.alerts", "vigillat.dlq")
    try kafka.createInternalTopics(prefix: "vigillat", changelog: false)
    let daemon = try daemonBench.daemon(config: "latency.yaml")
    // The daemon joins its group before the clock starts, as a running deployment would have.
    try waitUntil("the daemon's first assignment", timeout: .seconds(60), pause: .milliseconds(50)) {
        try daemon.requireRunning()
        return daemon.log.contains("partitions assigned")
    }
    // Half of a maximum the run could not support would overload the daemon by design: cap it.
    let rates = sweepRates(maximum: min(daemonRate, engineRate))
    let sweep = try kafka.latencySweep(
        latencyEvents, rates: rates, seconds: options.latencySeconds, input: "vigillat.in",
        observed: "vigillat.decisions", scratch: scratch, expected: decisionsIn)
    try daemon.stop()
    daemonLatencies = sweep.last?.latencies
    reportSweep("produce→decision", "daemon", sweep, half: rates.last!)
}
if daemonLatencies == nil {
    report.add(
        "daemon_latency_half_max_p99_ms", "latency produce→decision p99 @ ½ max", nil, "ms", target: "< 10",
        note: pendingNote)
}

// 5. Memory.
progress("memory")
report.add(
    "daemon_peak_rss_mb", "memory: vigil run peak RSS (throughput run, changelog off)",
    daemonPeak.map { Double($0) / 1_048_576 },
    "MiB",
    note: daemonAvailable ? nil : pendingNote)
for (key, run, name) in [
    ("daemon_changelog_off_peak_rss_mb", changelogOff, "off"), ("daemon_changelog_peak_rss_mb", changelogRun, "on"),
] {
    report.add(
        key, "  vigil run peak RSS, changelog \(name) (\(changelogEvents.count) events)",
        run?.peak.map { Double($0) / 1_048_576 }, "MiB", note: daemonAvailable ? nil : pendingNote)
}
events.removeAll()
memoryFigures()

// 6. Restore.
try restoreFigures(cluster: kafka.cluster)

// 7 and 8. The global table, alone and end to end.
try globalTableFigures(cluster: kafka.cluster)
if daemonAvailable {
    try propagationFigures(daemonBench: daemonBench)
} else {
    report.add(
        "propagation_delay_p50_ms", "propagation: spraying event → fact in another table p50", nil, "ms",
        note: pendingNote)
}
if let path = options.jsonPath {
    try report.write(to: path)
    print("wrote \(path)")
}
try? FileManager.default.removeItem(atPath: scratch)
