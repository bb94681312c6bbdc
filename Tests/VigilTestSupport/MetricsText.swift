/// Values read from a Prometheus text exposition (`/metrics`), for tests that check the daemon's figures.
public enum MetricsText {
    /// The sum of every series of metric `name` (all label sets), nil when no series of it is listed.
    public static func sum(_ name: String, in text: String) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[parts.count - 1]) else { continue }
            let series = parts[0]
            let metric = series.firstIndex(of: "{").map { series[..<$0] } ?? series
            if metric == name { total = (total ?? 0) + value }
        }
        return total
    }

    /// Each series of metric `name` by its label set as exposed (`action="allow"`; "" for a series
    /// without labels), with its value.
    public static func series(_ name: String, in text: String) -> [String: Double] {
        var found: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[parts.count - 1]) else { continue }
            let series = parts[0]
            let brace = series.firstIndex(of: "{")
            guard (brace.map { series[..<$0] } ?? series) == name else { continue }
            let labels = brace.map { series[series.index(after: $0)...].dropLast() } ?? ""
            found[String(labels)] = value
        }
        return found
    }
}
