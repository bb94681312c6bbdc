import CoreMetrics
import Synchronization
import VigilKafka

/// The metrics of one global table (`KafkaGlobalTable`, e.g. the source-risk table), labelled
/// `table="<name>"`; fed by the table's `onUpdate`, on its reader's thread:
/// - `vigil_global_table_records_total{table, result}`: records applied (`applied`, tombstones included) and
///   skipped because they could not be decoded (`rejected`);
/// - `vigil_global_table_entries{table}`: entries held;
/// - `vigil_global_table_lag_records{table}`: records on the brokers not read yet;
/// - `vigil_global_table_caught_up{table}`: 1 once everything written before the start is in;
/// - `vigil_global_table_brokers_up{table}`: brokers the reader is connected to (0 during an outage: the
///   table keeps its entries but falls behind);
/// - `vigil_global_table_propagation_delay_seconds{table}`: histogram of the time from a record's Kafka
///   timestamp (its producer's clock) to its application here, what a reading stage may lag behind the
///   stage that wrote it; p50/p99 with Prometheus' `histogram_quantile`.
public final class GlobalTableMetrics: Sendable {
    /// The histogram's name, which the Prometheus factory is given its buckets under.
    public static let propagationDelayName = "vigil_global_table_propagation_delay_seconds"
    /// Bounds in seconds: a fact crosses a produce, the brokers and a fetch, tens of milliseconds when all
    /// is well; the upper buckets catch a reader that fell behind.
    public static let delayBucketsSeconds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    private let applied: Counter
    private let rejected: Counter
    private let entries: Gauge
    private let lag: Gauge
    private let caughtUp: Gauge
    private let brokersUp: Gauge
    private let propagationDelay: any RecorderHandler
    /// The totals reported so far, since the counters move by differences.
    private let reported = Mutex((applied: 0, rejected: 0))

    /// Creates the handles through `factory`, for the table named `table` (its label).
    public init(factory: any MetricsFactory, table: String) {
        let label = [("table", table)]
        applied = Counter(
            label: "vigil_global_table_records_total", dimensions: label + [("result", "applied")], factory: factory)
        rejected = Counter(
            label: "vigil_global_table_records_total", dimensions: label + [("result", "rejected")], factory: factory)
        entries = Gauge(label: "vigil_global_table_entries", dimensions: label, factory: factory)
        lag = Gauge(label: "vigil_global_table_lag_records", dimensions: label, factory: factory)
        caughtUp = Gauge(label: "vigil_global_table_caught_up", dimensions: label, factory: factory)
        brokersUp = Gauge(label: "vigil_global_table_brokers_up", dimensions: label, factory: factory)
        propagationDelay = factory.makeRecorder(label: Self.propagationDelayName, dimensions: label, aggregate: true)
        for gauge in [entries, lag, caughtUp, brokersUp] { gauge.record(0) }
    }

    /// Records what the table reported: pass it as the table's `onUpdate`.
    public func record(_ update: KafkaGlobalTableUpdate) {
        let status = update.status
        reported.withLock { reported in
            applied.increment(by: Int64(max(0, status.recordsApplied - reported.applied)))
            rejected.increment(by: Int64(max(0, status.recordsRejected - reported.rejected)))
            reported = (status.recordsApplied, status.recordsRejected)
        }
        entries.record(status.entries)
        if let records = status.lag { lag.record(records) }
        caughtUp.record(status.isCaughtUp ? 1 : 0)
        if let health = status.brokerHealth { brokersUp.record(health.brokersUp) }
        for delay in update.delays {
            let (seconds, attoseconds) = delay.components
            propagationDelay.record(Double(seconds) + Double(attoseconds) / 1e18)
        }
    }

    /// What `/readyz` says while the table is loading, e.g. "loading source-risk table: 1200 records";
    /// nil once it caught up.
    public static func loadingReason(table: String, _ status: KafkaGlobalTableStatus) -> String? {
        guard !status.isCaughtUp else { return nil }
        let problem = status.problem.map { " (\($0))" } ?? ""
        return "loading \(table) table: \(status.recordsApplied) records\(problem)"
    }
}
