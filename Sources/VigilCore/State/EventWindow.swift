/// The most recent `capacity` occurrences of something, by event time, with the ids of the events
/// behind them (alert evidence). Exact for "at least N within W" as long as N ≤ capacity, because the
/// N-th most recent occurrence decides it. Kept sorted, so events inside the allowed lateness land in
/// their place.
struct EventWindow: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var time: Timestamp
        var eventID: String
    }

    private(set) var entries: [Entry] = []

    init() {}

    /// A window as a snapshot held it (entries already in time order).
    init(restoring entries: [Entry]) { self.entries = entries }

    var isEmpty: Bool { entries.isEmpty }

    /// Records an occurrence, keeping at most `capacity` (the largest threshold that reads this window;
    /// passed per call so a reload that raises a threshold takes effect at once).
    mutating func record(_ time: Timestamp, eventID: String, capacity: Int) {
        var index = entries.count
        while index > 0 && entries[index - 1].time > time { index -= 1 }
        while entries.count >= max(1, capacity) {
            if index == 0 { return }  // older than everything we keep
            entries.remove(at: 0)
            index -= 1
        }
        entries.insert(Entry(time: time, eventID: eventID), at: index)
    }

    /// Occurrences at or after `start` and at or before `end`.
    func count(from start: Timestamp, through end: Timestamp) -> Int {
        var total = 0
        for entry in entries.reversed() {
            if entry.time < start { break }
            if entry.time <= end { total += 1 }
        }
        return total
    }

    func entries(from start: Timestamp, through end: Timestamp) -> [Entry] {
        entries.filter { $0.time >= start && $0.time <= end }
    }

    /// Drops occurrences before `time`.
    mutating func forget(before time: Timestamp) {
        if let first = entries.firstIndex(where: { $0.time >= time }) {
            if first > 0 { entries.removeFirst(first) }
        } else {
            entries.removeAll()
        }
    }

    var latest: Timestamp? { entries.last?.time }
}

/// The distinct keys (users, accounts) seen most recently, each with its last time and the id of that
/// event. Exact for "at least N distinct within W" while N ≤ capacity: the least recently seen key is
/// the one evicted.
struct DistinctWindow: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var key: UInt64
        var time: Timestamp
        var eventID: String
    }

    private(set) var entries: [Entry] = []

    init() {}

    /// A window as a snapshot held it.
    init(restoring entries: [Entry]) { self.entries = entries }

    var isEmpty: Bool { entries.isEmpty }

    mutating func record(_ key: UInt64, at time: Timestamp, eventID: String, capacity: Int) {
        if let index = entries.firstIndex(where: { $0.key == key }) {
            if entries[index].time <= time {
                entries[index].time = time
                entries[index].eventID = eventID
            }
            return
        }
        while entries.count >= max(1, capacity) {
            var oldest = 0
            for index in entries.indices where entries[index].time < entries[oldest].time { oldest = index }
            if entries[oldest].time > time { return }
            entries.remove(at: oldest)
        }
        entries.append(Entry(key: key, time: time, eventID: eventID))
    }

    func distinct(from start: Timestamp, through end: Timestamp) -> [Entry] {
        entries.filter { $0.time >= start && $0.time <= end }.sorted { ($0.time, $0.key) < ($1.time, $1.key) }
    }

    func distinctCount(from start: Timestamp, through end: Timestamp) -> Int {
        var total = 0
        for entry in entries where entry.time >= start && entry.time <= end { total += 1 }
        return total
    }

    mutating func forget(before time: Timestamp) {
        entries.removeAll { $0.time < time }
    }

    var latest: Timestamp? { entries.map(\.time).max() }
}
