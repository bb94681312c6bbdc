/// The bounded sets of things a user has been seen with — devices, countries, networks (AS numbers) —
/// each with when last. When a kind is full, its least recently seen entry is forgotten, so the sets
/// follow the user's current habits.
///
/// All three share one buffer, kind after kind: the first `inlineCapacity` entries inside the value
/// (an ordinary user has two devices, one country and one network), and one heap array for all of them
/// beyond that. Caps per kind come from the configuration with each call.
struct SeenSets: Sendable {
    enum Kind: Int, Sendable, CaseIterable {
        case device, country, network
    }

    struct Entry: Sendable, Equatable {
        var key: UInt64
        var lastSeen: Timestamp
    }

    static let inlineCapacity = 4
    /// The most entries one kind holds, whatever the configured cap (the configuration allows 1000).
    static let maxPerKind = 1023

    private var inline = InlineArray<4, Entry>(repeating: Entry(key: 0, lastSeen: Timestamp(microseconds: 0)))
    /// Every entry once there are more than fit inline; empty until then.
    private var spilled: [Entry] = []
    /// The three counts, ten bits each, kind by kind from the low bits: one word keeps the record small.
    private var counts: UInt32 = 0

    init() {}

    /// The sets as a snapshot held them, kind by kind in `Kind` order, each oldest insertion first.
    init(restoring kinds: [[Entry]]) {
        for kind in Kind.allCases {
            for entry in kinds[kind.rawValue] {
                insert(entry, at: range(kind).upperBound)
                adjust(kind, by: 1)
            }
        }
    }

    func count(_ kind: Kind) -> Int { Int(counts >> (10 * UInt32(kind.rawValue)) & 0x3FF) }

    var totalCount: Int { count(.device) + count(.country) + count(.network) }

    /// True once the entries have moved to the heap.
    var isSpilled: Bool { !spilled.isEmpty }

    var spilledCapacity: Int { spilled.capacity }

    func lastSeen(_ kind: Kind, _ key: UInt64) -> Timestamp? {
        let range = self.range(kind)
        for index in range where entry(index).key == key { return entry(index).lastSeen }
        return nil
    }

    /// The entries of one kind, oldest insertion first.
    func entries(_ kind: Kind) -> [Entry] { range(kind).map(entry) }

    /// Hands the entries of one kind to `body`, oldest insertion first, without gathering them in an
    /// array (the changelog encodes every changed user's sets).
    func forEachEntry(_ kind: Kind, _ body: (Entry) -> Void) {
        for index in range(kind) { body(entry(index)) }
    }

    /// Records `key` at `time`; never moves a last-seen time backwards. When the kind already holds
    /// `capacity` entries, the least recently seen ones are dropped first, as many as it takes: a cap
    /// lowered by a reload, or smaller than the one a restored snapshot was taken under, applies at once.
    mutating func record(_ kind: Kind, _ key: UInt64, at time: Timestamp, capacity: Int) {
        var range = self.range(kind)
        for index in range where entry(index).key == key {
            if entry(index).lastSeen < time { setEntry(index, Entry(key: key, lastSeen: time)) }
            return
        }
        while range.count >= max(1, min(capacity, Self.maxPerKind)) {
            var oldest = range.lowerBound
            for index in range where entry(index).lastSeen < entry(oldest).lastSeen { oldest = index }
            remove(at: oldest)
            adjust(kind, by: -1)
            range = self.range(kind)
        }
        insert(Entry(key: key, lastSeen: time), at: range.upperBound)
        adjust(kind, by: 1)
    }

    /// Removes `key` from `kind`'s entries, if it is there.
    mutating func forget(_ kind: Kind, _ key: UInt64) {
        for index in range(kind) where entry(index).key == key {
            remove(at: index)
            adjust(kind, by: -1)
            return
        }
    }

    private func range(_ kind: Kind) -> Range<Int> {
        let devices = count(.device)
        switch kind {
        case .device: return 0..<devices
        case .country: return devices..<devices + count(.country)
        case .network:
            let start = devices + count(.country)
            return start..<start + count(.network)
        }
    }

    private mutating func adjust(_ kind: Kind, by delta: Int) {
        let shift = 10 * UInt32(kind.rawValue)
        counts = counts & ~(0x3FF << shift) | UInt32(count(kind) + delta) << shift
    }

    private func entry(_ index: Int) -> Entry { spilled.isEmpty ? inline[index] : spilled[index] }

    private mutating func setEntry(_ index: Int, _ entry: Entry) {
        if spilled.isEmpty { inline[index] = entry } else { spilled[index] = entry }
    }

    /// Before the count of the entry's kind is lowered.
    private mutating func remove(at index: Int) {
        guard spilled.isEmpty else {
            spilled.remove(at: index)
            return
        }
        for position in index..<(totalCount - 1) { inline[position] = inline[position + 1] }
    }

    /// Before the count of the entry's kind is raised.
    private mutating func insert(_ entry: Entry, at index: Int) {
        let total = totalCount
        if spilled.isEmpty && total < Self.inlineCapacity {
            var position = total
            while position > index {
                inline[position] = inline[position - 1]
                position -= 1
            }
            inline[index] = entry
            return
        }
        if spilled.isEmpty {
            spilled.reserveCapacity(total + 1)
            for position in 0..<total { spilled.append(inline[position]) }
        }
        spilled.insert(entry, at: index)
    }
}
