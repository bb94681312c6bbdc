import MetricsTestKit
import NIOCore
import Prometheus
import ServiceLifecycle
import Testing
import VigilCore
import VigilKafka
import VigilTestSupport

@testable import VigilDaemon

@Suite struct MetricsServerTests {
    /// Runs a MetricsServer on a free loopback port inside a ServiceGroup, hands the port to
    /// `body`, then shuts the group down gracefully and returns once the server has stopped.
    static func withServer(
        status: DaemonStatus, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(),
        _ body: (LoopbackHTTP) async throws -> Void
    ) async throws {
        var settings = HTTPSettings()
        // Port 0: the kernel picks a free one, and `onBound` says which.
        settings.listen = "127.0.0.1:0"
        let (bound, continuation) = AsyncStream.makeStream(of: SocketAddress.self)
        let server = MetricsServer(settings: settings, status: status, registry: registry, logger: testLogger) {
            continuation.yield($0)
        }
        let group = ServiceGroup(services: [server], logger: testLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var addresses = bound.makeAsyncIterator()
            let port = try #require(await addresses.next()?.port)
            let client = LoopbackHTTP(port: port)
            var listener: Set<String> = []
            do {
                // /proc/net/tcp is read in pieces and can miss a row while other sockets come and go (other
                // tests, the mock brokers): reads for up to 5 s on a loaded machine, not one.
                for _ in 0..<100 {
                    listener = try client.listenerInodes()
                    if listener.count == 1 { break }
                    try await Task.sleep(for: .milliseconds(50))
                }
                try #require(listener.count == 1, "one socket listens on port \(port): \(listener)")
                try await body(client)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            // Not a refused connection: the freed port may already serve another test's listener. On a loaded
            // machine the socket may take a moment to leave /proc/net/tcp: up to 5 s.
            var open = try client.listenerInodes()
            for _ in 0..<100 where !open.isDisjoint(with: listener) {
                try await Task.sleep(for: .milliseconds(50))
                open = try client.listenerInodes()
            }
            #expect(open.isDisjoint(with: listener), "the listener is closed after graceful shutdown")
        }
    }

    /// Known traffic recorded through `DaemonMetrics` the way the daemon records it: totals reported
    /// twice (the second batch adds to the first), state figures, latencies, reloads and lookup errors.
    static func recordSampleTraffic(_ metrics: DaemonMetrics) {
        var stats = PipelineStats()
        var delivered = DeliveredOutputs()
        stats.eventsRead = 4
        stats.eventsByType[0] = 3  // login
        delivered.deadLetters = ["invalid_json": 1]
        metrics.record(pipeline: stats, delivered: delivered)
        stats.eventsRead = 7
        stats.eventsByType[0] = 5
        delivered.decisions = ["step_up_soft": 2]
        delivered.alerts = ["push_bombing": 1]
        delivered.reemitted = ["decisions": 3]
        stats.lateEvents = 3
        delivered.deadLetters = ["invalid_json": 4, "invalid_type:a\"b\\c\nd": 1]
        metrics.record(pipeline: stats, delivered: delivered)
        var global = GlobalFigures()
        global.failures = 11
        global.failingUsers = 4
        global.resetRequests = 3
        metrics.record(
            state: StateFigures(
                users: 42, sources: 9, domains: 2, names: 5, approximateBytes: 9_000, evictedUsers: 8,
                evictedSources: 1,
                droppedAtCapacity: 6, global: global))
        metrics.recordEventTimeLag(seconds: 1.5)
        metrics.recordConsumerLag(messages: 17)
        metrics.recordProducerBackpressure(active: true, episodes: 2)
        metrics.recordPolicyVersion("1111111111111111")
        metrics.recordPolicyVersion("00ff00ff00ff00ff")
        metrics.recordConfigReload(succeeded: true)
        metrics.recordConfigReload(succeeded: true)
        metrics.recordConfigReload(succeeded: false)
        metrics.recordGeoLookupErrors(total: 6)
        metrics.recordReady(true)
        metrics.recordProcessingLatency(.microseconds(300))
        metrics.recordProcessingLatency(.milliseconds(3))
        metrics.recordProcessingLatency(.seconds(2))
        var table = KafkaGlobalTableStatus()
        table.recordsApplied = 3
        table.entries = 2
        metrics.sourceRiskTable.record(
            KafkaGlobalTableUpdate(status: table, delays: [.milliseconds(20), .milliseconds(40), .seconds(45)]))
    }

    /// The registry behind /metrics with the sample traffic recorded.
    static func sampleRegistry() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        recordSampleTraffic(DaemonMetrics(factory: MetricsServer.metricsFactory(registry: registry), version: "9.9.9"))
        return registry
    }

    @Test func exposition() throws {
        let text = Self.sampleRegistry().emitToString()
        let samples = try PrometheusText.parse(text)
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        for (name, labels, expected) in [
            ("vigil_events_total", ["type": "login"], 5),
            ("vigil_events_total", ["type": "sensitive_action"], 0),
            ("vigil_decisions_total", ["action": "step_up_soft"], 2),
            ("vigil_decisions_total", ["action": "allow"], 0),
            ("vigil_alerts_total", ["kind": "push_bombing"], 1),
            ("vigil_reemitted_outputs_total", ["output": "decisions"], 3),
            ("vigil_reemitted_outputs_total", ["output": "alerts"], 0),
            ("vigil_dead_letters_total", ["reason": "invalid_json"], 4),
            ("vigil_dead_letters_total", ["reason": "invalid_type:a\"b\\c\nd"], 1),
            ("vigil_late_events_total", [:], 3),
            ("vigil_processing_latency_seconds_bucket", ["le": "0.0005"], 1),
            ("vigil_processing_latency_seconds_bucket", ["le": "0.001"], 1),
            ("vigil_processing_latency_seconds_bucket", ["le": "0.005"], 2),
            ("vigil_processing_latency_seconds_bucket", ["le": "1.0"], 2),
            ("vigil_processing_latency_seconds_bucket", ["le": "+Inf"], 3),
            ("vigil_processing_latency_seconds_count", [:], 3),
            ("vigil_event_time_lag_seconds", [:], 1.5),
            ("vigil_consumer_lag_messages", [:], 17),
            ("vigil_producer_backpressure", [:], 1),
            ("vigil_producer_backpressure_total", [:], 2),
            ("vigil_users_in_state", [:], 42),
            ("vigil_sources_in_state", [:], 9),
            ("vigil_email_domains_in_state", [:], 2),
            ("vigil_state_names", [:], 5),
            ("vigil_state_bytes", [:], 9000),
            ("vigil_state_evictions_total", ["kind": "user"], 8),
            ("vigil_state_evictions_total", ["kind": "source_or_domain"], 1),
            ("vigil_state_evictions_total", ["kind": "capacity"], 6),
            ("vigil_window_failed_logins", [:], 11),
            ("vigil_window_failing_users", [:], 4),
            ("vigil_window_reset_requests", [:], 3),
            ("vigil_config_reloads_total", ["result": "ok"], 2),
            ("vigil_config_reloads_total", ["result": "failed"], 1),
            ("vigil_policy_info", ["policy_version": "00ff00ff00ff00ff"], 1),
            ("vigil_build_info", ["version": "9.9.9"], 1),
            ("vigil_geo_lookup_errors_total", [:], 6),
            ("vigil_ready", [:], 1),
            ("vigil_global_table_records_total", ["table": "source-risk", "result": "applied"], 3),
            ("vigil_global_table_entries", ["table": "source-risk"], 2),
            ("vigil_global_table_propagation_delay_seconds_bucket", ["table": "source-risk", "le": "0.025"], 1),
            ("vigil_global_table_propagation_delay_seconds_bucket", ["table": "source-risk", "le": "0.05"], 2),
            ("vigil_global_table_propagation_delay_seconds_bucket", ["table": "source-risk", "le": "30.0"], 2),
            ("vigil_global_table_propagation_delay_seconds_bucket", ["table": "source-risk", "le": "+Inf"], 3),
        ] as [(String, [String: String], Double)] {
            #expect(value(name, labels) == expected, "\(name)\(labels)")
        }
        let sum = try #require(value("vigil_processing_latency_seconds_sum"))
        #expect(abs(sum - 2.0033) < 1e-9)
        #expect(
            !samples.contains { $0.labels["policy_version"] == "1111111111111111" }, "a replaced policy version is gone"
        )
        let lines = Set(text.split(separator: "\n").map(String.init))
        for type in [
            "# TYPE vigil_processing_latency_seconds histogram",
            "# TYPE vigil_events_total counter",
            "# TYPE vigil_ready gauge",
        ] {
            #expect(lines.contains(type), "missing: \(type)")
        }
        #expect(
            lines.contains(#"vigil_dead_letters_total{reason="invalid_type:a\"b\\c\nd"} 1"#), "label values escaped")
    }

    /// What the daemon records, read back through swift-metrics' test kit rather than an exposition.
    @Test func countersAdvanceByTheDifferenceBetweenReportedTotals() throws {
        let recorded = TestMetrics()
        let metrics = DaemonMetrics(factory: recorded, version: "9.9.9")
        var stats = PipelineStats()
        var delivered = DeliveredOutputs()
        stats.eventsByType[0] = 3
        delivered.deadLetters = ["invalid_json": 2]
        metrics.record(pipeline: stats, delivered: delivered)
        metrics.record(pipeline: stats, delivered: delivered)
        stats.eventsByType[0] = 5
        metrics.record(pipeline: stats, delivered: delivered)
        #expect(try recorded.expectCounter("vigil_events_total", [("type", "login")]).values == [3, 2])
        #expect(try recorded.expectCounter("vigil_dead_letters_total", [("reason", "invalid_json")]).totalValue == 2)

        metrics.recordProducerBackpressure(active: true, episodes: 1)
        metrics.recordProducerBackpressure(active: false, episodes: 1)
        #expect(try recorded.expectCounter("vigil_producer_backpressure_total").totalValue == 1)
        #expect(try recorded.expectGauge("vigil_producer_backpressure").lastValue == 0)

        metrics.recordProcessingLatency(.microseconds(1500))
        #expect(try recorded.expectRecorder(DaemonMetrics.Name.processingLatency).values == [0.0015])
        #expect(try recorded.expectGauge("vigil_build_info", [("version", "9.9.9")]).lastValue == 1)
    }

    @Test func durableStateMetricsAddUpRestoresChangelogWritesAndSnapshots() throws {
        let recorded = TestMetrics()
        let metrics = DaemonMetrics(factory: recorded)
        #expect(try recorded.expectGauge("vigil_state_changelog_lag_records").lastValue == 0)
        metrics.recordRestoreStep(records: 10, bytes: 400, lag: 5)
        metrics.recordRestoreStep(records: 5, bytes: 200, lag: 0)
        #expect(try recorded.expectCounter("vigil_state_restore_records_total").totalValue == 15)
        #expect(try recorded.expectCounter("vigil_state_restore_bytes_total").totalValue == 600)
        #expect(try recorded.expectGauge("vigil_state_changelog_lag_records").values == [0, 5, 0])
        // TestMetrics keeps a floating-point counter as a rounded integer one.
        metrics.recordRestoreFinished(after: .seconds(2))
        #expect(try recorded.expectCounter("vigil_state_restore_seconds_total").totalValue == 2)

        metrics.recordPartitionState(kept: true)
        metrics.recordPartitionState(kept: false)
        metrics.recordPartitionState(kept: false)
        #expect(try recorded.expectCounter("vigil_state_partition_states_total", [("source", "kept")]).totalValue == 1)
        #expect(
            try recorded.expectCounter("vigil_state_partition_states_total", [("source", "restored")]).totalValue == 2)

        metrics.recordChangelogWritten(records: 3, bytes: 90)
        metrics.recordChangelogWritten(records: 1, bytes: 13)
        #expect(try recorded.expectCounter("vigil_state_changelog_records_total").totalValue == 4)
        #expect(try recorded.expectCounter("vigil_state_changelog_bytes_total").totalValue == 103)

        metrics.recordSnapshotWrite(succeeded: true)
        metrics.recordSnapshotWrite(succeeded: true)
        metrics.recordSnapshotWrite(succeeded: false)
        #expect(try recorded.expectCounter("vigil_state_snapshot_writes_total", [("result", "ok")]).totalValue == 2)
        #expect(try recorded.expectCounter("vigil_state_snapshot_writes_total", [("result", "failed")]).totalValue == 1)
    }

    @Test func endpoints() async throws {
        let status = DaemonStatus()
        status.update {
            $0.ready = false
            $0.notReadyReason = "kafka: no partitions assigned"
        }
        try await Self.withServer(status: status, registry: Self.sampleRegistry()) { http in
            let health = try http.get("/healthz")
            #expect(health.status == 200)
            #expect(health.body == "ok\n")

            let notReady = try http.get("/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.body.contains("kafka: no partitions assigned"))
            status.update {
                $0.ready = true
                $0.notReadyReason = nil
            }
            #expect(try http.get("/readyz").status == 200)

            let metrics = try http.get("/metrics?debug=1")
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let samples = try PrometheusText.parse(metrics.body)
            #expect(samples.contains { $0.name == "vigil_users_in_state" && $0.value == 42 })
            #expect(samples.count > 30)

            let head = try http.get("/healthz", method: "HEAD")
            #expect(head.status == 200)
            #expect(head.headers["content-length"] == "3")
            #expect(head.body.isEmpty)

            #expect(try http.get("/nope").status == 404)
            let post = try http.get("/metrics", method: "POST")
            #expect(post.status == 405)
            #expect(post.headers["allow"] == "GET, HEAD")
        }
    }

    @Test func requestLimits() async throws {
        try await Self.withServer(status: DaemonStatus()) { http in
            let withBody = try http.exchange("POST /metrics HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello")
            #expect(withBody.status == 413)
            #expect(withBody.headers["connection"] == "close")

            let padding = String(repeating: "a", count: MetricsServer.Limits.maxRequestBytes)
            let oversized = try http.exchange("GET /metrics HTTP/1.1\r\nhost: x\r\nx-padding: \(padding)\r\n\r\n")
            #expect(oversized.status == 431)

            let garbage = try http.exchange("NOT HTTP AT ALL\r\n\r\n")
            #expect(garbage.status == 400)

            // A connection with keep-alive serves several requests; the size bound is per request.
            let twice = try http.exchange(
                "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\nGET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            #expect(twice.status == 200)
            #expect(twice.body.ranges(of: "HTTP/1.1 200").count == 1, "the second response follows the first body")
        }
    }

    @Test func listenAddresses() throws {
        for (listen, host, port) in [
            ("127.0.0.1:9464", "127.0.0.1", 9464), ("[::1]:9464", "::1", 9464), ("0.0.0.0:0", "0.0.0.0", 0),
        ] {
            let parsed = try MetricsServer.hostAndPort(listen)
            #expect(parsed.0 == host && parsed.1 == port, "\(listen)")
        }
        #expect(throws: ListenAddressError.self) { try MetricsServer.hostAndPort("9464") }
        #expect(MetricsServer.isLoopback(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(MetricsServer.isLoopback(try SocketAddress(ipAddress: "::1", port: 1)))
        #expect(!MetricsServer.isLoopback(try SocketAddress(ipAddress: "0.0.0.0", port: 1)))
        #expect(!MetricsServer.isLoopback(try SocketAddress(ipAddress: "::", port: 1)))
    }
}

/// A strict reader of the text exposition format: every line is a comment (`# HELP`/`# TYPE`) or
/// `name{label="value",...} value`, labels unescaped, values parsed as floats.
enum PrometheusText {
    struct Sample {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    struct Invalid: Error, CustomStringConvertible {
        var line: String
        var description: String { "not a valid exposition line: \(line.debugDescription)" }
    }

    static func parse(_ text: String) throws -> [Sample] {
        var samples: [Sample] = []
        var typed: Set<String> = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty { continue }
            if line.hasPrefix("# HELP ") { continue }
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                guard parts.count == 4, ["counter", "gauge", "histogram"].contains(parts[3]) else {
                    throw Invalid(line: String(line))
                }
                typed.insert(String(parts[2]))
                continue
            }
            var rest = Substring(line)
            let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" }
            guard let first = name.first, !first.isNumber else { throw Invalid(line: String(line)) }
            rest = rest.dropFirst(name.count)
            var labels: [String: String] = [:]
            if rest.first == "{" {
                rest = rest.dropFirst()
                while rest.first != "}" {
                    let key = rest.prefix { $0 != "=" }
                    rest = rest.dropFirst(key.count)
                    guard rest.hasPrefix("=\"") else { throw Invalid(line: String(line)) }
                    rest = rest.dropFirst(2)
                    var value = ""
                    while let character = rest.first, character != "\"" {
                        rest = rest.dropFirst()
                        if character == "\\" {
                            switch rest.first {
                            case "\\": value.append("\\")
                            case "\"": value.append("\"")
                            case "n": value.append("\n")
                            default: throw Invalid(line: String(line))
                            }
                            rest = rest.dropFirst()
                        } else {
                            value.append(character)
                        }
                    }
                    guard rest.first == "\"" else { throw Invalid(line: String(line)) }
                    rest = rest.dropFirst()
                    labels[String(key)] = value
                    if rest.first == "," { rest = rest.dropFirst() }
                }
                rest = rest.dropFirst()
            }
            guard rest.first == " " else { throw Invalid(line: String(line)) }
            let number = rest.dropFirst()
            let value: Double? =
                switch number {
                case "+Inf": .infinity
                case "-Inf": -.infinity
                case "NaN": .nan
                default: Double(number)
                }
            guard let value else { throw Invalid(line: String(line)) }
            let family = ["_bucket", "_sum", "_count"].reduce(String(name)) { base, suffix in
                typed.contains(base) || !base.hasSuffix(suffix) ? base : String(base.dropLast(suffix.count))
            }
            guard typed.contains(family) else { throw Invalid(line: "no TYPE before: \(line)") }
            samples.append(Sample(name: String(name), labels: labels, value: value))
        }
        return samples
    }
}
