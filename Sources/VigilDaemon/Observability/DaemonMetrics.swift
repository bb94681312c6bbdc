import CoreMetrics
import Synchronization
import VigilCore

/// The daemon's metrics as swift-metrics handles, made from the factory the composition root passes
/// in (`PrometheusMetricsFactory` behind `/metrics` in `vigil run`, `TestMetrics` in tests). Nothing
/// here reads the global `MetricsSystem`, so several daemons in one process keep apart.
///
/// The names, labels and meanings are the operators' contract (README and BENCHMARKS list them).
///
/// The Kafka thread keeps its counts in plain integers per shard and reports running totals here once
/// per poll batch; each counter then moves by one atomic add per batch, never per event. The only
/// per-message update is the processing-latency histogram.
public final class DaemonMetrics: Sendable {
    /// Metric names that other code must spell the same way (the server's bucket setup, tests).
    public enum Name {
        /// The processing-latency histogram; the Prometheus factory is given its buckets under this name.
        public static let processingLatency = "vigil_processing_latency_seconds"
    }

    /// Bounds of the processing-latency histogram in seconds: a decision budget is about 10 ms, so the
    /// buckets are dense below it.
    public static let latencyBucketsSeconds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]

    private let factory: any MetricsFactory
    /// The global source-risk table's reader (`vigil_global_table_*{table="source-risk"}`): pass its
    /// `record` as the table's `onUpdate`.
    public let sourceRiskTable: GlobalTableMetrics
    /// The global campaigns table's reader (`vigil_global_table_*{table="campaigns"}`).
    public let campaignsTable: GlobalTableMetrics
    // What each series means (swift-metrics has no help text, so `/metrics` carries no `# HELP` lines).
    /// `vigil_events_total{type}`: events decoded, by type.
    private let events: [Counter]
    /// Successful logins per `BaselineLearning` outcome (`vigil_baseline_logins_total{outcome}`).
    private let baselineLogins: [Counter]
    // `vigil_decisions_total{action}`, `vigil_alerts_total{kind}`, `vigil_dead_letters_total{reason}`:
    // outputs the brokers acknowledged, re-emitted copies excepted; `vigil_reemitted_outputs_total{output}`:
    // acknowledged re-emitted copies of decisions and alerts (see `DeliveredOutputs`). In `Reported`.
    /// `vigil_late_events_total`: events older than the watermark (event time minus allowed lateness).
    private let lateEvents: Counter
    /// `vigil_input_duplicates_total`: events dropped as repeated deliveries (`input.duplicate_window`).
    private let duplicateEvents: Counter
    /// `vigil_processing_latency_seconds`: message received to all outputs acknowledged.
    ///
    /// The one update made per message, so it takes the cheapest route (BENCHMARKS.md, "Metrics through
    /// swift-metrics"): an aggregating recorder's handler fed seconds as a `Double`. A `Timer` would
    /// have swift-prometheus place each observation by comparing `Duration`s (128-bit arithmetic per
    /// bucket), and `Recorder.record` is generic and cannot be specialised outside swift-metrics.
    private let processingLatency: any RecorderHandler
    /// `vigil_event_time_lag_seconds`: wall clock minus the newest event time seen.
    private let eventTimeLag: Gauge
    /// `vigil_consumer_lag_messages`: high watermark minus the consumer's position, over assigned partitions.
    private let consumerLag: Gauge
    /// `vigil_producer_backpressure`: 1 while the producer queue is full and consumption is paused.
    private let producerBackpressure: Gauge
    /// `vigil_producer_backpressure_total`: times consumption was paused for a full producer queue.
    private let producerBackpressureEpisodes: Counter
    /// `vigil_users_in_state`: users with per-user state held in memory.
    private let usersInState: Gauge
    /// `vigil_sources_in_state`: source addresses (IPv6 per /64) with cross-user state.
    private let sourcesInState: Gauge
    /// `vigil_email_domains_in_state`: email domains with cross-user state.
    private let emailDomainsInState: Gauge
    /// `vigil_state_names`: interned city and AS organisation names.
    private let stateNames: Gauge
    /// `vigil_state_bytes`: approximate memory held by engine state (records, indexes, heap parts).
    private let stateBytes: Gauge
    /// `vigil_state_evictions_total{kind}`: entries evicted since start: idle users (`user`), idle
    /// sources or domains (`source_or_domain`), and entries dropped at engine.max_users /
    /// max_sources / max_email_domains (`capacity`).
    private let evictedUsers: Counter
    private let evictedSourcesOrDomains: Counter
    private let droppedAtCapacity: Counter
    /// `vigil_window_failed_logins`: failed logins over all users within engine.global_window.
    private let windowFailedLogins: Gauge
    /// `vigil_window_failing_users`: distinct users with a failed login within engine.global_window
    /// (estimate, about 3%).
    private let windowFailingUsers: Gauge
    /// `vigil_window_reset_requests`: password-reset requests over all users within engine.global_window.
    private let windowResetRequests: Gauge
    /// `vigil_config_reloads_total{result}`: config reload attempts, `ok` or `failed`.
    private let configReloadsSucceeded: Counter
    private let configReloadsFailed: Counter
    /// `vigil_geo_lookup_errors_total`: GeoIP lookups that failed on damaged database data.
    private let geoLookupErrors: Counter
    /// `vigil_ready`: 1 when the daemon is ready to process events (see /readyz), else 0.
    private let ready: Gauge
    /// `vigil_kafka_brokers_up{client}`: brokers the consumer (`consumer`), the producer (`producer`)
    /// or, with the changelog on, the changelog's producer (`changelog_producer`) is connected to, from
    /// librdkafka's statistics. The last is made at its first reading: with the changelog off there is
    /// no such client, and a series stuck at 0 would read as an outage.
    private let consumerBrokersUp: Gauge
    private let producerBrokersUp: Gauge
    /// `vigil_state_restore_records_total`: changelog records applied by restores (tombstones included).
    private let restoreRecords: Counter
    /// `vigil_state_restore_bytes_total`: key and value bytes of those records.
    private let restoreBytes: Counter
    /// `vigil_state_restore_seconds_total`: time spent restoring partitions, over finished restores.
    private let restoreSeconds: FloatingPointCounter
    /// `vigil_state_changelog_lag_records`: changelog records the running restores still have to read.
    private let changelogLag: Gauge
    /// `vigil_state_partition_states_total{source}`: partitions assigned whose state was kept in
    /// memory across the rebalance (`kept`) or read from the snapshot and changelog (`restored`).
    private let partitionStatesKept: Counter
    private let partitionStatesRestored: Counter
    /// `vigil_state_changelog_records_total`: changelog records produced (tombstones included).
    private let changelogRecords: Counter
    /// `vigil_state_changelog_bytes_total`: key and value bytes of those records.
    private let changelogBytes: Counter
    /// `vigil_state_snapshot_writes_total{result}`: local snapshots written (`ok`) or not (`failed`).
    private let snapshotWrites: Counter
    private let snapshotWriteFailures: Counter

    /// The totals already added to the counters, and the series whose label values change at run time.
    private struct Reported {
        var pipeline = PipelineStats()
        var delivered = DeliveredOutputs()
        var evictions = StateFigures()
        var backpressureEpisodes = 0
        var geoLookupErrors = 0
        /// The delivered-output counters by metric name and label value, made when first needed (dead-letter
        /// reasons are open-ended) or up front (every action and alert kind, so that they start at zero).
        var outputCounters: [String: [String: Counter]] = [:]
        /// `vigil_policy_info{policy_version}`: the policy version in force (stamped on decisions).
        var policy: (version: String, gauge: Gauge)?
    }

    private let reported: Mutex<Reported>

    private static let decisionsName = "vigil_decisions_total"
    private static let alertsName = "vigil_alerts_total"
    private static let deadLettersName = "vigil_dead_letters_total"
    /// Identity-provider records of event types Vigil does not read, by `format:type`.
    private static let skippedName = "vigil_input_skipped_total"
    private static let reemittedName = "vigil_reemitted_outputs_total"
    /// Security event tokens on the signals topic, by event type.
    private static let signalsName = "vigil_signals_total"

    /// Creates every handle through `factory`; `version` labels the build-info gauge.
    public init(factory: any MetricsFactory, version: String = VigilVersion.current) {
        self.factory = factory
        sourceRiskTable = GlobalTableMetrics(factory: factory, table: "source-risk")
        campaignsTable = GlobalTableMetrics(factory: factory, table: "campaigns")
        func counter(_ name: String, _ dimensions: [(String, String)] = []) -> Counter {
            Counter(label: name, dimensions: dimensions, factory: factory)
        }
        func gauge(_ name: String, _ dimensions: [(String, String)] = []) -> Gauge {
            Gauge(label: name, dimensions: dimensions, factory: factory)
        }
        events = EventType.allCases.map { counter("vigil_events_total", [("type", $0.rawValue)]) }
        baselineLogins = BaselineLearning.allCases.map {
            counter("vigil_baseline_logins_total", [("outcome", $0.rawValue)])
        }
        var outputCounters: [String: [String: Counter]] = [:]
        for (name, label, values) in [
            (Self.decisionsName, "action", DecisionAction.allCases.map(\.rawValue)),
            (Self.alertsName, "kind", AlertKind.allCases.map(\.rawValue)),
            (Self.reemittedName, "output", [OutputStream.decisions.rawValue, OutputStream.alerts.rawValue]),
            (Self.signalsName, "type", SecurityEventType.allCases.map(\.rawValue)),
        ] {
            for value in values { outputCounters[name, default: [:]][value] = counter(name, [(label, value)]) }
        }
        reported = Mutex(Reported(outputCounters: outputCounters))
        lateEvents = counter("vigil_late_events_total")
        duplicateEvents = counter("vigil_input_duplicates_total")
        processingLatency = factory.makeRecorder(label: Name.processingLatency, dimensions: [], aggregate: true)
        eventTimeLag = gauge("vigil_event_time_lag_seconds")
        consumerLag = gauge("vigil_consumer_lag_messages")
        producerBackpressure = gauge("vigil_producer_backpressure")
        producerBackpressureEpisodes = counter("vigil_producer_backpressure_total")
        usersInState = gauge("vigil_users_in_state")
        sourcesInState = gauge("vigil_sources_in_state")
        emailDomainsInState = gauge("vigil_email_domains_in_state")
        stateNames = gauge("vigil_state_names")
        stateBytes = gauge("vigil_state_bytes")
        evictedUsers = counter("vigil_state_evictions_total", [("kind", "user")])
        evictedSourcesOrDomains = counter("vigil_state_evictions_total", [("kind", "source_or_domain")])
        droppedAtCapacity = counter("vigil_state_evictions_total", [("kind", "capacity")])
        windowFailedLogins = gauge("vigil_window_failed_logins")
        windowFailingUsers = gauge("vigil_window_failing_users")
        windowResetRequests = gauge("vigil_window_reset_requests")
        configReloadsSucceeded = counter("vigil_config_reloads_total", [("result", "ok")])
        configReloadsFailed = counter("vigil_config_reloads_total", [("result", "failed")])
        geoLookupErrors = counter("vigil_geo_lookup_errors_total")
        ready = gauge("vigil_ready")
        consumerBrokersUp = gauge("vigil_kafka_brokers_up", [("client", "consumer")])
        producerBrokersUp = gauge("vigil_kafka_brokers_up", [("client", "producer")])
        restoreRecords = counter("vigil_state_restore_records_total")
        restoreBytes = counter("vigil_state_restore_bytes_total")
        restoreSeconds = FloatingPointCounter(label: "vigil_state_restore_seconds_total", factory: factory)
        changelogLag = gauge("vigil_state_changelog_lag_records")
        partitionStatesKept = counter("vigil_state_partition_states_total", [("source", "kept")])
        partitionStatesRestored = counter("vigil_state_partition_states_total", [("source", "restored")])
        changelogRecords = counter("vigil_state_changelog_records_total")
        changelogBytes = counter("vigil_state_changelog_bytes_total")
        snapshotWrites = counter("vigil_state_snapshot_writes_total", [("result", "ok")])
        snapshotWriteFailures = counter("vigil_state_snapshot_writes_total", [("result", "failed")])
        // The running Vigil version.
        gauge("vigil_build_info", [("version", version)]).record(1)
        // Zero-valued series exist from the start, so a dashboard's rate() has a baseline.
        for gauge in [
            eventTimeLag, consumerLag, producerBackpressure, usersInState, sourcesInState, emailDomainsInState,
            stateNames, stateBytes, windowFailedLogins, windowFailingUsers, windowResetRequests, ready, changelogLag,
        ] {
            gauge.record(0)
        }
    }

    /// Pipeline totals over all shards since start (they never go down: revoked shards' counts are kept),
    /// and the outputs acknowledged since start: decisions, alerts and dead letters count once delivered.
    public func record(pipeline totals: PipelineStats, delivered: DeliveredOutputs) {
        reported.withLock { reported in
            let before = reported.pipeline
            Self.advance(events, from: before.eventsByType, to: totals.eventsByType)
            Self.advance(baselineLogins, from: before.baselineLogins, to: totals.baselineLogins)
            Self.advance(lateEvents, from: before.lateEvents, to: totals.lateEvents)
            Self.advance(duplicateEvents, from: before.duplicateEvents, to: totals.duplicateEvents)
            reported.pipeline = totals
            let earlier = reported.delivered
            for (name, label, counts, previous) in [
                (Self.decisionsName, "action", delivered.decisions, earlier.decisions),
                (Self.alertsName, "kind", delivered.alerts, earlier.alerts),
                (Self.deadLettersName, "reason", delivered.deadLetters, earlier.deadLetters),
                (Self.reemittedName, "output", delivered.reemitted, earlier.reemitted),
                (Self.signalsName, "type", delivered.signals, earlier.signals),
                (Self.skippedName, "type", totals.skippedRecords, before.skippedRecords),
            ] {
                for (value, count) in counts where count != previous[value] {
                    let counter =
                        reported.outputCounters[name]?[value]
                        ?? {
                            let made = Counter(label: name, dimensions: [(label, value)], factory: factory)
                            reported.outputCounters[name, default: [:]][value] = made
                            return made
                        }()
                    Self.advance(counter, from: previous[value] ?? 0, to: count)
                }
            }
            reported.delivered = delivered
        }
    }

    /// State sizes and global windows summed over shards, with eviction totals since start.
    public func record(state figures: StateFigures) {
        usersInState.record(figures.users)
        sourcesInState.record(figures.sources)
        emailDomainsInState.record(figures.domains)
        stateNames.record(figures.names)
        stateBytes.record(figures.approximateBytes)
        windowFailedLogins.record(figures.global.failures)
        windowFailingUsers.record(figures.global.failingUsers)
        windowResetRequests.record(figures.global.resetRequests)
        reported.withLock { reported in
            let before = reported.evictions
            Self.advance(evictedUsers, from: before.evictedUsers, to: figures.evictedUsers)
            Self.advance(evictedSourcesOrDomains, from: before.evictedSources, to: figures.evictedSources)
            Self.advance(droppedAtCapacity, from: before.droppedAtCapacity, to: figures.droppedAtCapacity)
            reported.evictions = figures
        }
    }

    /// Message received to all outputs acknowledged.
    public func recordProcessingLatency(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        processingLatency.record(Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// Wall clock minus the newest event time seen.
    public func recordEventTimeLag(seconds: Double) { eventTimeLag.record(seconds) }

    /// High watermark minus committed offset, summed over assigned partitions.
    public func recordConsumerLag(messages: Int64) { consumerLag.record(messages) }

    /// Whether consumption is paused for a full producer queue, and how many times it was since start.
    public func recordProducerBackpressure(active: Bool, episodes: Int) {
        producerBackpressure.record(active ? 1 : 0)
        reported.withLock { reported in
            Self.advance(producerBackpressureEpisodes, from: reported.backpressureEpisodes, to: episodes)
            reported.backpressureEpisodes = episodes
        }
    }

    /// Counts one reload, adopted (`succeeded`) or refused.
    public func recordConfigReload(succeeded: Bool) {
        (succeeded ? configReloadsSucceeded : configReloadsFailed).increment()
    }

    /// GeoIP lookups that failed on damaged database data, in total since start.
    public func recordGeoLookupErrors(total: Int) {
        reported.withLock { reported in
            Self.advance(geoLookupErrors, from: reported.geoLookupErrors, to: total)
            reported.geoLookupErrors = total
        }
    }

    /// The policy version in force: one `vigil_policy_info` series, replaced when the version changes.
    public func recordPolicyVersion(_ version: String) {
        reported.withLock { reported in
            guard reported.policy?.version != version else { return }
            reported.policy?.gauge.destroy()
            let gauge = Gauge(label: "vigil_policy_info", dimensions: [("policy_version", version)], factory: factory)
            gauge.record(1)
            reported.policy = (version, gauge)
        }
    }

    /// 1 when the daemon is ready to process events (see /readyz).
    public func recordReady(_ isReady: Bool) { ready.record(isReady ? 1 : 0) }

    /// The Kafka clients whose brokers `vigil_kafka_brokers_up` counts.
    public enum KafkaClient: Sendable {
        /// The input side.
        case consumer
        /// The output side's producer of decisions, alerts and dead letters.
        case producer
        /// The output side's producer of changelog records (with `state.changelog` on).
        case changelogProducer
    }

    /// Records how many brokers `client` is connected to.
    public func recordBrokersUp(client: KafkaClient, _ count: Int) {
        switch client {
        case .consumer: consumerBrokersUp.record(count)
        case .producer: producerBrokersUp.record(count)
        case .changelogProducer:
            Gauge(label: "vigil_kafka_brokers_up", dimensions: [("client", "changelog_producer")], factory: factory)
                .record(count)
        }
    }

    /// One restore step: the changelog records it applied, their bytes, and the records the running
    /// restores still have to read.
    public func recordRestoreStep(records: Int, bytes: Int, lag: Int64) {
        restoreRecords.increment(by: records)
        restoreBytes.increment(by: bytes)
        changelogLag.record(lag)
    }

    /// An assigned partition's state: kept in memory across the rebalance, or being restored.
    public func recordPartitionState(kept: Bool) {
        (kept ? partitionStatesKept : partitionStatesRestored).increment()
    }

    /// A partition's restore finished after `duration`.
    public func recordRestoreFinished(after duration: Duration) {
        let (seconds, attoseconds) = duration.components
        restoreSeconds.increment(by: Double(seconds) + Double(attoseconds) / 1e18)
    }

    /// Changelog records produced since the last call, with their key and value bytes.
    public func recordChangelogWritten(records: Int, bytes: Int) {
        changelogRecords.increment(by: records)
        changelogBytes.increment(by: bytes)
    }

    /// One local snapshot written, or failed.
    public func recordSnapshotWrite(succeeded: Bool) {
        (succeeded ? snapshotWrites : snapshotWriteFailures).increment()
    }

    private static func advance(_ counters: [Counter], from before: [Int], to after: [Int]) {
        for (index, counter) in counters.enumerated() { advance(counter, from: before[index], to: after[index]) }
    }

    private static func advance(_ counter: Counter, from before: Int, to after: Int) {
        if after > before { counter.increment(by: after - before) }
    }
}
