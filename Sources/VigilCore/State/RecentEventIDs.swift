/// The keyed hashes of the event ids seen within a window of event time, to drop the repeated deliveries
/// of an at-least-once feed (an Auth0 log stream, an Event Hub, an Okta poller re-reading a page): a
/// repeat would otherwise count twice in every window it reaches. Bounded twice: ids older than `window`
/// behind the newest event time are forgotten, and beyond `capacity` ids the oldest are; a repeat of a
/// forgotten id passes as new. Event time is the only clock, so a replay drops the same repeats as the
/// live run. Held in memory only: after a restart, a repeat of an event from before it passes once.
///
/// A repeat is another record with the same id, never the same record read again: input consumed again
/// (after a rebalance, from an older committed offset) comes from the position the id was remembered
/// at, and passes, so its outputs are produced again as the at-least-once rule wants; the input marks
/// keep it from changing state twice.
struct RecentEventIDs: Sendable {
    /// How far behind the newest event time an id is still remembered.
    var window: EventDuration
    /// The most ids remembered; 0 remembers none (nothing is dropped).
    var capacity: Int {
        didSet { evict() }
    }
    private var seen: [UInt64: (time: Timestamp, position: InputPosition?)] = [:]
    /// Ids in the order they were first seen, from `head` on.
    private var order: [(id: UInt64, time: Timestamp)] = []
    private var head = 0
    private var newest: Timestamp?

    /// An empty table.
    init(window: EventDuration, capacity: Int) {
        self.window = window
        self.capacity = capacity
    }

    /// The table `input.duplicate_window` and `input.max_duplicate_ids` describe.
    init(_ input: InputSettings) {
        self.init(window: input.duplicateWindow, capacity: input.maxDuplicateIDs)
    }

    /// Adopts new bounds (live reload), keeping what is within them.
    mutating func reconfigure(_ input: InputSettings) {
        window = input.duplicateWindow
        capacity = input.maxDuplicateIDs
    }

    /// How many ids are remembered.
    var count: Int { seen.count }

    /// False when `id` was seen within `window` of `time` at another input position than `position`: the
    /// event is a repeat. Otherwise remembers it and returns true. Without positions (a file's lines, read
    /// once) every second sighting is a repeat.
    mutating func admit(_ id: UInt64, at time: Timestamp, position: InputPosition? = nil) -> Bool {
        guard capacity > 0 else { return true }
        if let earlier = seen[id], time - window <= earlier.time, earlier.time <= time + window {
            return position != nil && earlier.position == position
        }
        seen[id] = (time, position)
        order.append((id, time))
        if newest.map({ time > $0 }) ?? true { newest = time }
        evict()
        return true
    }

    /// Forgets ids beyond the capacity or behind the window, oldest first.
    private mutating func evict() {
        let horizon = newest.map { $0 - window }
        while head < order.count,
            order.count - head > capacity || horizon.map({ order[head].time < $0 }) ?? false
        {
            let (id, time) = order[head]
            // A later sighting of the same id re-recorded it: that one stays.
            if seen[id]?.time == time { seen[id] = nil }
            head += 1
        }
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}
