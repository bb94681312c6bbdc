import MetricsTestKit
import Testing
import VigilKafka

@testable import VigilDaemon

/// A global table's metrics, read back through swift-metrics' test kit.
@Suite struct GlobalTableMetricsTests {
    @Test func totalsBecomeCounterStepsAndDelaysBecomeSeconds() throws {
        let recorded = TestMetrics()
        let metrics = GlobalTableMetrics(factory: recorded, table: "source-risk")
        let table = [("table", "source-risk")]
        var status = KafkaGlobalTableStatus()
        status.recordsApplied = 5
        status.recordsRejected = 1
        status.entries = 4
        status.lag = 7
        metrics.record(KafkaGlobalTableUpdate(status: status, delays: [.milliseconds(20), .milliseconds(1500)]))
        status.recordsApplied = 8
        status.entries = 6
        status.lag = 0
        status.isCaughtUp = true
        status.brokerHealth = KafkaBrokerHealth(brokersUp: 3, unreachable: [])
        metrics.record(KafkaGlobalTableUpdate(status: status, delays: []))

        let applied = try recorded.expectCounter("vigil_global_table_records_total", table + [("result", "applied")])
        #expect(applied.values == [5, 3])
        let rejected = try recorded.expectCounter("vigil_global_table_records_total", table + [("result", "rejected")])
        #expect(rejected.totalValue == 1)
        #expect(try recorded.expectGauge("vigil_global_table_entries", table).lastValue == 6)
        #expect(try recorded.expectGauge("vigil_global_table_lag_records", table).values == [0, 7, 0])
        #expect(try recorded.expectGauge("vigil_global_table_caught_up", table).values == [0, 0, 1])
        #expect(try recorded.expectGauge("vigil_global_table_brokers_up", table).values == [0, 3])
        #expect(
            try recorded.expectRecorder(GlobalTableMetrics.propagationDelayName, table).values == [0.02, 1.5])
    }

    @Test func theReadinessReasonCountsRecordsUntilCaughtUp() {
        var status = KafkaGlobalTableStatus()
        status.recordsApplied = 1200
        #expect(
            GlobalTableMetrics.loadingReason(table: "source-risk", status) == "loading source-risk table: 1200 records")
        status.problem = "topic 'vigil-source-risk' does not exist"
        #expect(
            GlobalTableMetrics.loadingReason(table: "source-risk", status)
                == "loading source-risk table: 1200 records (topic 'vigil-source-risk' does not exist)")
        status.isCaughtUp = true
        #expect(GlobalTableMetrics.loadingReason(table: "source-risk", status) == nil)
    }
}
