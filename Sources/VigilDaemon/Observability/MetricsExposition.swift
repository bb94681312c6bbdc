import VigilCore

/// Renders a `DaemonStatus.Snapshot` in the Prometheus text exposition format 0.0.4. Written by hand:
/// the Kafka thread already aggregates into the snapshot once per batch, so a scrape is one lock-held
/// copy plus string building, and no metrics library sits on the hot path.
enum MetricsExposition {
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    static func render(_ snapshot: DaemonStatus.Snapshot, version: String = VigilVersion.current) -> String {
        var out = Writer()
        let stats = snapshot.stats

        out.family("vigil_events_total", .counter, "Events decoded, by type.")
        for type in EventType.allCases { out.sample("vigil_events_total", ["type": type.rawValue], stats.count(type)) }

        out.family("vigil_decisions_total", .counter, "Step-up decisions published, by action.")
        for action in DecisionAction.allCases {
            out.sample("vigil_decisions_total", ["action": action.rawValue], stats.count(action))
        }

        out.family("vigil_alerts_total", .counter, "Alerts published, by kind.")
        for kind in AlertKind.allCases { out.sample("vigil_alerts_total", ["kind": kind.rawValue], stats.count(kind)) }

        out.family("vigil_dead_letters_total", .counter, "Messages dead-lettered, by reason code.")
        for (reason, count) in stats.deadLetters.sorted(by: { $0.key < $1.key }) {
            out.sample("vigil_dead_letters_total", ["reason": reason], count)
        }

        out.family("vigil_late_events_total", .counter, "Events older than the watermark (event time minus allowed lateness).")
        out.sample("vigil_late_events_total", [:], stats.lateEvents)

        out.family("vigil_processing_latency_seconds", .histogram, "Message received to all outputs acknowledged.")
        var cumulative = 0
        for (index, bound) in snapshot.latencyBucketsSeconds.enumerated() {
            cumulative += snapshot.latencyCounts[index]
            out.sample("vigil_processing_latency_seconds_bucket", ["le": format(bound)], cumulative)
        }
        out.sample("vigil_processing_latency_seconds_bucket", ["le": "+Inf"], snapshot.latencyCount)
        out.sample("vigil_processing_latency_seconds_sum", [:], format(snapshot.latencySum))
        out.sample("vigil_processing_latency_seconds_count", [:], snapshot.latencyCount)

        out.family("vigil_event_time_lag_seconds", .gauge, "Wall clock minus the newest event time seen.")
        out.sample("vigil_event_time_lag_seconds", [:], format(snapshot.eventTimeLagSeconds))

        out.family("vigil_consumer_lag_messages", .gauge, "High watermark minus committed offset, summed over assigned partitions.")
        out.sample("vigil_consumer_lag_messages", [:], String(snapshot.consumerLag))

        out.family("vigil_producer_backpressure", .gauge, "1 while the producer queue is full and consumption is paused.")
        out.sample("vigil_producer_backpressure", [:], snapshot.producerBackpressure ? 1 : 0)
        out.family("vigil_producer_backpressure_total", .counter, "Times consumption was paused for a full producer queue.")
        out.sample("vigil_producer_backpressure_total", [:], snapshot.producerBackpressureEpisodes)

        let state = snapshot.state
        out.family("vigil_users_in_state", .gauge, "Users with per-user state held in memory.")
        out.sample("vigil_users_in_state", [:], state.users)
        out.family("vigil_sources_in_state", .gauge, "Source addresses (IPv6 per /64) with cross-user state.")
        out.sample("vigil_sources_in_state", [:], state.sources)
        out.family("vigil_email_domains_in_state", .gauge, "Email domains with cross-user state.")
        out.sample("vigil_email_domains_in_state", [:], state.domains)
        out.family("vigil_state_names", .gauge, "Interned city and AS organisation names.")
        out.sample("vigil_state_names", [:], state.names)
        out.family("vigil_state_bytes", .gauge, "Approximate memory held by engine state (records, indexes, estimated heap parts).")
        out.sample("vigil_state_bytes", [:], state.approximateBytes)
        out.family("vigil_state_evictions_total", .counter, "Entries evicted since start: idle users, idle sources or domains, and entries dropped at engine.max_users / max_sources / max_email_domains.")
        out.sample("vigil_state_evictions_total", ["kind": "user"], state.evictedUsers)
        out.sample("vigil_state_evictions_total", ["kind": "source_or_domain"], state.evictedSources)
        out.sample("vigil_state_evictions_total", ["kind": "capacity"], state.droppedAtCapacity)
        out.family("vigil_window_failed_logins", .gauge, "Failed logins over all users within engine.global_window.")
        out.sample("vigil_window_failed_logins", [:], state.global.failures)
        out.family("vigil_window_failing_users", .gauge, "Distinct users with a failed login within engine.global_window (estimate, about 3%).")
        out.sample("vigil_window_failing_users", [:], state.global.failingUsers)
        out.family("vigil_window_reset_requests", .gauge, "Password-reset requests over all users within engine.global_window.")
        out.sample("vigil_window_reset_requests", [:], state.global.resetRequests)

        out.family("vigil_config_reloads_total", .counter, "Config reload attempts, by result.")
        out.sample("vigil_config_reloads_total", ["result": "ok"], snapshot.configReloadsSucceeded)
        out.sample("vigil_config_reloads_total", ["result": "failed"], snapshot.configReloadsFailed)

        out.family("vigil_policy_info", .gauge, "The policy version in force (stamped on decisions).")
        out.sample("vigil_policy_info", ["policy_version": snapshot.policyVersion], 1)

        out.family("vigil_build_info", .gauge, "The running Vigil version.")
        out.sample("vigil_build_info", ["version": version], 1)

        out.family("vigil_geo_lookup_errors_total", .counter, "GeoIP lookups that failed on damaged database data.")
        out.sample("vigil_geo_lookup_errors_total", [:], snapshot.geoLookupErrors)

        out.family("vigil_ready", .gauge, "1 when the daemon is ready to process events (see /readyz), else 0.")
        out.sample("vigil_ready", [:], snapshot.ready ? 1 : 0)

        return out.text
    }

    /// A sample value: Prometheus spells the special floats `NaN`, `+Inf`, `-Inf`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        return value.description
    }

    /// A label value with backslash, double quote and newline escaped, as the format requires.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\n") })
        else { return value }
        var escaped = ""
        escaped.reserveCapacity(value.utf8.count + 8)
        for character in value.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    private enum Kind: String { case counter, gauge, histogram }

    private struct Writer {
        var text = ""

        init() { text.reserveCapacity(4096) }

        mutating func family(_ name: String, _ kind: Kind, _ help: String) {
            text += "# HELP \(name) \(help)\n# TYPE \(name) \(kind.rawValue)\n"
        }

        mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: Int) {
            sample(name, labels, String(value))
        }

        mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: String) {
            text += name
            if !labels.isEmpty {
                text += "{"
                for (index, label) in labels.enumerated() {
                    if index > 0 { text += "," }
                    text += "\(label.key)=\"\(escapeLabelValue(label.value))\""
                }
                text += "}"
            }
            text += " \(value)\n"
        }
    }
}
