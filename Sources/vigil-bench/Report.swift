import Foundation

/// One measured figure, with the target it is judged against when it has one.
struct Figure {
    /// `unreliable`: the run measured something it cannot support (a single-threaded daemon faster than
    /// the single-thread engine, say), so the figure is printed but judged against no target.
    enum Status: String { case met, missed, reference, pending, unreliable }

    var key: String
    var label: String
    var value: Double?
    var unit: String
    var target: String?
    var status: Status
    var note: String?
}

/// Collects figures, prints them as a table and writes them as JSON.
struct Report {
    private(set) var figures: [Figure] = []
    var context: [String: Any] = [:]

    /// `unreliable` names why the run cannot support `value`; the figure is then neither met nor missed.
    mutating func add(
        _ key: String, _ label: String, _ value: Double?, _ unit: String, target: String? = nil, met: Bool? = nil,
        note: String? = nil, unreliable: String? = nil
    ) {
        let note = unreliable ?? note
        let status: Figure.Status =
            value == nil ? .pending : unreliable != nil ? .unreliable : met.map { $0 ? .met : .missed } ?? .reference
        figures.append(
            Figure(key: key, label: label, value: value, unit: unit, target: target, status: status, note: note))
        print(Self.row(figures.last!))
        fflush(nil)  // rows appear as they are measured, also through a pipe
    }

    static func header() -> String {
        pad("figure", 52) + pad("value", 18) + pad("target", 14) + "status"
    }

    private static func row(_ figure: Figure) -> String {
        let value = figure.value.map { format($0) + " " + figure.unit } ?? "pending"
        var line = pad(figure.label, 52) + pad(value, 18) + pad(figure.target ?? "", 14) + figure.status.rawValue
        if let note = figure.note { line += "  (\(note))" }
        return line
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    static func format(_ value: Double) -> String {
        if value >= 100 { return String(Int(value.rounded())) }
        return String(format: "%.2f", value)
    }

    func write(to path: String) throws {
        let figures = self.figures.map { figure -> [String: Any] in
            var entry: [String: Any] = [
                "key": figure.key, "label": figure.label, "unit": figure.unit, "status": figure.status.rawValue,
            ]
            if let value = figure.value { entry["value"] = value }
            if let target = figure.target { entry["target"] = target }
            if let note = figure.note { entry["note"] = note }
            return entry
        }
        let document: [String: Any] = ["context": context, "figures": figures]
        let data = try JSONSerialization.data(withJSONObject: document, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// Monotonic nanoseconds, for intervals.
func monotonicNanoseconds() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}

/// Seconds taken by `body`.
func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = monotonicNanoseconds()
    try body()
    return Double(monotonicNanoseconds() - start) / 1e9
}

/// The one-minute load average now, for figures that a shared machine's load moves.
func oneMinuteLoadAverage() -> String {
    (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first.map(String.init)
        ?? "?"
}

/// What the bench is doing, on stderr: some figures take a minute on a shared machine.
func progress(_ message: String) {
    FileHandle.standardError.write(Data(("vigil-bench: " + message + "\n").utf8))
}
