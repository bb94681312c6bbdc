import Foundation
import VigilTestSupport
import VigilWorkload

/// What one `vigil run` throughput run measured: the steady rate (first to last output; nil when not
/// every output came), the rate from its assignment to the last output, the peak resident set, the CPU
/// time the daemon used up to its last output (all its threads, start-up included: less sensitive to
/// the machine's load than a rate), and what it wrote to its changelog (records, key + value bytes,
/// whether the mock kept them all).
typealias DaemonRun = (
    rate: Double?, assignedRate: Double?, peak: Int?, cpuSeconds: Double?,
    written: (records: Int, bytes: Int, complete: Bool)?
)

/// `vigil run` as a subprocess against the bench's mock cluster (figure 3 and its changelog pair), so
/// the figures are the real daemon's. Each run has topics of its own, named by its prefix.
struct DaemonThroughputBench {
    let kafka: KafkaBench
    /// The daemon binary.
    let vigilBinary: String
    /// Where configs, state directories and the daemon's working directory go.
    let scratch: String
    let cityDatabase: String
    let asnDatabase: String
    let vpnList: String
    /// `state.flush_interval` of a changelog-on run.
    let flushIntervalMilliseconds: Int
    /// The decisions a slice of events causes: a run ends once all of them arrived.
    let decisionsIn: (ArraySlice<GeneratedEvent>) -> Int

    /// `vigil run` on a config in the scratch folder.
    func daemon(config: String) throws -> DaemonProcess {
        try DaemonProcess(
            config: URL(fileURLWithPath: scratch + "/" + config), directory: URL(fileURLWithPath: scratch),
            deviceKey: "vigil-bench-device-key", binary: URL(fileURLWithPath: vigilBinary))
    }

    /// One run over `events` on topics of its own (`<prefix>.in`, `<prefix>.decisions`, ...) with
    /// `partitions` partitions: the steady rate, the peak resident set, and with `changelog` what the
    /// daemon wrote to its changelog topic (after its graceful stop, which flushes the last changes).
    /// `keyedByUser` sets `input.keyed_by_user` (the events are keyed by user either way); `threads` sets
    /// `engine.threads` (nil: its default, one per core).
    func run(
        prefix: String, changelog: Bool, events: ArraySlice<GeneratedEvent>, partitions: Int = KafkaBench.partitions,
        keyedByUser: Bool = false, threads: Int? = nil
    ) throws -> DaemonRun {
        progress(
            "kafka: vigil run, changelog \(changelog ? "on" : "off")\(keyedByUser ? ", keyed by user" : "")"
                + "\(threads.map { ", \($0) thread\($0 == 1 ? "" : "s")" } ?? ""), \(events.count) events")
        let changelogTopic = "\(prefix)-vigil-state-changelog"
        try kafka.createTopics(
            "\(prefix).in", "\(prefix).decisions", "\(prefix).alerts", "\(prefix).dlq", partitions: partitions)
        try kafka.createInternalTopics(prefix: prefix, changelog: changelog, partitions: partitions)
        try kafka.preload(events, topic: "\(prefix).in")
        try writeDaemonConfig(
            to: scratch + "/\(prefix).yaml", bootstrap: kafka.cluster.bootstrapServers, input: "\(prefix).in",
            prefix: prefix, cityDatabase: cityDatabase, asnDatabase: asnDatabase, vpnList: vpnList,
            changelog: changelog ? (scratch + "/\(prefix)-state", "\(flushIntervalMilliseconds)ms") : nil,
            keyedByUser: keyedByUser, threads: threads)
        var daemon: DaemonProcess?
        let result = try kafka.throughput(
            inputs: events.count, expected: decisionsIn(events), observed: "\(prefix).decisions", timeout: 600,
            isAlive: { daemon?.isRunning ?? true },
            isAssigned: { daemon?.log.contains("partitions assigned") ?? false }
        ) {
            daemon = try self.daemon(config: "\(prefix).yaml")
        }
        let peak = daemon?.peakResidentBytes
        let cpuSeconds = daemon?.cpuSeconds
        try daemon?.stop()
        if result.rates == nil, let daemon {
            progress("vigil run (\(prefix)) did not answer every event:\n\(daemon.log)")
        }
        return (
            result.rates?.steady, result.rates?.assigned, peak, cpuSeconds,
            changelog ? try kafka.partitionContents(changelogTopic, partitions: partitions) : nil
        )
    }
}
