/// The bounded sets of things a user has been seen with — devices, countries, networks (AS numbers) —
/// each with when last. When a kind is full, its least recently seen entry is forgotten, so the sets
/// follow the user's current habits.
///
/// All three share one buffer, kind after kind: the first `inlineCapacity` entries inside the value
/// (an ordinary user has two devices, one country and one network), and one heap array for all of them
/// beyond that. Caps per kind come from the configuration with each call.
public struct SeenSets: Sendable {
    public enum Kind: Int, Sendable, CaseIterable {
        case device, country, network
    }

    public struct Entry: Sendable, Equatable {
        public var key: UInt64
        public var lastSeen: Timestamp
    }

    public static let inlineCapacity = 4

    private var inline = InlineArray<4, Entry>(repeating: Entry(key: 0, lastSeen: Timestamp(microseconds: 0)))
    /// Every entry once there are more than fit inline; empty until then.
    private var spilled: [Entry] = []
    private var deviceCount: UInt16 = 0
    private var countryCount: UInt16 = 0
    private var networkCount: UInt16 = 0

    public init() {}

    public func count(_ kind: Kind) -> Int {
        switch kind {
        case .device: Int(deviceCount)
        case .country: Int(countryCount)
        case .network: Int(networkCount)
        }
    }

    public var totalCount: Int { Int(deviceCount) + Int(countryCount) + Int(networkCount) }

    /// True once the entries have moved to the heap.
    public var isSpilled: Bool { !spilled.isEmpty }

    var spilledCapacity: Int { spilled.capacity }

    public func lastSeen(_ kind: Kind, _ key: UInt64) -> Timestamp? {
        let range = self.range(kind)
        for index in range where entry(index).key == key { return entry(index).lastSeen }
        return nil
    }

    /// The entries of one kind, oldest insertion first.
    public func entries(_ kind: Kind) -> [Entry] { range(kind).map(entry) }

    /// Records `key` at `time`; never moves a last-seen time backwards. When the kind already holds
    /// `capacity` entries, the least recently seen one is dropped first.
    public mutating func record(_ kind: Kind, _ key: UInt64, at time: Timestamp, capacity: Int) {
        var range = self.range(kind)
        for index in range where entry(index).key == key {
            if entry(index).lastSeen < time { setEntry(index, Entry(key: key, lastSeen: time)) }
            return
        }
        if range.count >= max(1, capacity) {
            var oldest = range.lowerBound
            for index in range where entry(index).lastSeen < entry(oldest).lastSeen { oldest = index }
            remove(at: oldest)
            adjust(kind, by: -1)
            range = self.range(kind)
        }
        insert(Entry(key: key, lastSeen: time), at: range.upperBound)
        adjust(kind, by: 1)
    }

    private func range(_ kind: Kind) -> Range<Int> {
        switch kind {
        case .device: return 0..<Int(deviceCount)
        case .country: return Int(deviceCount)..<Int(deviceCount) + Int(countryCount)
        case .network:
            let start = Int(deviceCount) + Int(countryCount)
            return start..<start + Int(networkCount)
        }
    }

    private mutating func adjust(_ kind: Kind, by delta: Int) {
        switch kind {
        case .device: deviceCount = UInt16(Int(deviceCount) + delta)
        case .country: countryCount = UInt16(Int(countryCount) + delta)
        case .network: networkCount = UInt16(Int(networkCount) + delta)
        }
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
