/// Turns a warning that can repeat once per message into one line per interval and kind.
///
/// A broker outage fails every output in flight, and each failure is worth knowing about, but one log
/// line each floods the log (tens of thousands of lines a minute) exactly when an operator reads it.
/// So the first occurrence of a kind (for example "delivery to auth.decisions failed") is logged at
/// once, with its detail; the ones after it within `interval` are only counted; and once the interval
/// is over, one summary line gives their count with the first and last detail. `due(now:)` emits the
/// summaries of kinds that went quiet, so no count is lost when the fault stops.
///
/// A value with no clock of its own: the caller passes the time, so tests drive it directly.
struct RepeatedWarnings {
    /// What to log for one occurrence or one summary.
    struct Line: Equatable {
        /// The kind, as given to `record` (also the log message).
        var kind: String
        /// The detail of the occurrence logged, or of the last one summarised.
        var detail: String
        /// Occurrences this line stands for: 1 for the first one, the suppressed count for a summary.
        var count: Int
        /// For a summary, the first suppressed occurrence's detail; nil for a first occurrence.
        var firstDetail: String?
        /// For a summary, how long the occurrences it counts spread over.
        var over: Duration?
    }

    private struct Window {
        var openedAt: Duration
        var suppressed = 0
        var firstDetail: String?
        var lastDetail = ""
    }

    /// How long occurrences of one kind are counted before the next line.
    let interval: Duration
    private var windows: [String: Window] = [:]

    init(interval: Duration) { self.interval = interval }

    /// One occurrence of `kind` at `now`: the line to log, or nil while it is being counted.
    mutating func record(_ kind: String, detail: String, now: Duration) -> Line? {
        guard var window = windows[kind] else {
            windows[kind] = Window(openedAt: now)
            return Line(kind: kind, detail: detail, count: 1)
        }
        if now - window.openedAt >= interval {
            // The fault went on: the summary covers the interval before, and this occurrence is the first
            // counted in the next. It had stopped (nothing suppressed): this one is logged at once.
            guard let summary = Self.summary(kind, window, now: now) else {
                windows[kind] = Window(openedAt: now)
                return Line(kind: kind, detail: detail, count: 1)
            }
            windows[kind] = Window(openedAt: now, suppressed: 1, firstDetail: detail, lastDetail: detail)
            return summary
        }
        window.suppressed += 1
        if window.firstDetail == nil { window.firstDetail = detail }
        window.lastDetail = detail
        windows[kind] = window
        return nil
    }

    /// Summaries of kinds whose interval is over; a kind with nothing suppressed is forgotten, so its
    /// next occurrence is logged at once again.
    mutating func due(now: Duration) -> [Line] {
        var lines: [Line] = []
        for (kind, window) in windows.sorted(by: { $0.key < $1.key }) where now - window.openedAt >= interval {
            if let summary = Self.summary(kind, window, now: now) { lines.append(summary) }
            windows[kind] = nil
        }
        return lines
    }

    private static func summary(_ kind: String, _ window: Window, now: Duration) -> Line? {
        guard window.suppressed > 0 else { return nil }
        return Line(
            kind: kind, detail: window.lastDetail, count: window.suppressed, firstDetail: window.firstDetail,
            over: now - window.openedAt)
    }
}
