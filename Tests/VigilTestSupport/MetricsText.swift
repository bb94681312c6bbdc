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
}
