import Foundation
import Logging
import Synchronization
import VigilKafka
import VigilTestSupport

/// Figure 8, the source-risk table's delay end to end: from the failed login that makes a source a
/// sprayer (its `engine.signals.source_ip_spraying.distinct_users`-th failing user) entering the input
/// topic, to the fact reaching a table on another client, as another instance's user stage would read
/// it. It covers what figure 7 leaves out: the daemon's decode stage, the by-source hop and the source
/// stage, each with its poll and its producer's linger. The daemon runs idle between campaigns, so this
/// is the delay of a quiet cluster; under load the stages' backlog adds to it (their consumer lag).
struct PropagationBench {
    let daemonBench: DaemonThroughputBench

    /// Facts applied by the bench's table, and when the last batch of them was.
    private final class Applied: Sendable {
        let value = Mutex<(count: Int, at: ContinuousClock.Instant?)>((0, nil))
    }

    /// Runs `campaigns` sprayings from fresh addresses and returns each one's delay in milliseconds, sorted.
    func delays(campaigns: Int, distinctUsers: Int = 5) throws -> [Double] {
        let kafka = daemonBench.kafka
        let prefix = "prop"
        let partitions = 4
        try kafka.createTopics(
            "\(prefix).in", "\(prefix).decisions", "\(prefix).alerts", "\(prefix).dlq", partitions: partitions)
        try kafka.createInternalTopics(prefix: prefix, changelog: false, partitions: partitions)
        try writeDaemonConfig(
            to: daemonBench.scratch + "/\(prefix).yaml", bootstrap: kafka.cluster.bootstrapServers,
            input: "\(prefix).in", prefix: prefix, cityDatabase: daemonBench.cityDatabase,
            asnDatabase: daemonBench.asnDatabase, vpnList: daemonBench.vpnList)
        let daemon = try daemonBench.daemon(config: "\(prefix).yaml")
        defer { _ = try? daemon.stop() }
        try waitUntil("the daemon's assignment", timeout: .seconds(60), pause: .milliseconds(50)) {
            try daemon.requireRunning()
            return daemon.log.contains("partitions assigned")
        }

        var logger = Logger(label: "vigil-bench.propagation")
        logger.logLevel = .error
        let connection = KafkaConfiguration(["bootstrap.servers": kafka.cluster.bootstrapServers])
        let applied = Applied()
        let table = try KafkaGlobalTable<[UInt8], ArraySlice<UInt8>>(
            configuration: connection, topic: "\(prefix)-vigil-source-risk", decodeKey: { $0 },
            decodeValue: { $0 }, logger: logger,
            onUpdate: { update in
                guard !update.delays.isEmpty else { return }
                let now = ContinuousClock.now
                applied.value.withLock { $0 = ($0.count + update.delays.count, now) }
            })
        table.start()
        defer { table.stop() }
        try waitUntil("the table to read its empty topic", timeout: .seconds(60), pause: .milliseconds(10)) {
            table.status.isCaughtUp
        }
        var producerConfiguration = connection
        producerConfiguration["linger.ms"] = "1"
        let producer = try KafkaProducer(configuration: producerConfiguration, logger: logger)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func failedLogin(campaign: Int, user: Int) throws {
            // A second in the past: the decode stage refuses events from the future of its receive time.
            let line = EventLines.login(
                id: "prop-\(campaign)-\(user)", time: formatter.string(from: Date(timeIntervalSinceNow: -1)),
                user: "prop-\(campaign)-\(user)", ip: "81.2.\(campaign / 250).\(campaign % 250 + 1)", outcome: "failure"
            )
            try producer.produce(topic: "\(prefix).in", key: nil, value: Array(line.utf8))
            _ = try producer.poll()
        }

        var delays: [Double] = []
        for campaign in 0..<campaigns {
            for user in 0..<(distinctUsers - 1) { try failedLogin(campaign: campaign, user: user) }
            _ = producer.flush(timeout: .seconds(10))
            // Long enough for the first failures to pass both stages, so that only the last one is timed.
            Thread.sleep(forTimeInterval: 0.3)
            let before = applied.value.withLock { $0.count }
            let start = ContinuousClock.now
            try failedLogin(campaign: campaign, user: distinctUsers - 1)
            try waitUntil("campaign \(campaign)'s fact", timeout: .seconds(30), pause: .microseconds(200)) {
                try daemon.requireRunning()
                return applied.value.withLock { $0.count } > before
            }
            let at = applied.value.withLock { $0.at }!
            delays.append(Double((at - start) / .microseconds(1)) / 1000)
        }
        return delays.sorted()
    }
}
