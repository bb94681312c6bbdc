import VigilCore

/// Recent lookups, so that a burst from one address (spraying, push bombing) costs one database walk.
///
/// Two-way set-associative: an address can live in one of two slots of its set, and a miss evicts the
/// slot not used last. Fixed size, no allocation after creation, no per-entry bookkeeping beyond one
/// bit per set. Not thread-safe by itself; `GeoDatabases` guards it with its lock.
struct LookupCache {
    private struct Entry {
        let address: IPAddress
        let intelligence: IPIntelligence
    }

    private var slots: [Entry?]
    /// Per set: which way (0 or 1) was used last.
    private var lastUsedWay: [UInt8]
    /// `64 - log2(set count)`: the hash's top bits pick the set.
    private let shift: UInt64
    private(set) var count = 0
    private(set) var hits = 0
    private(set) var misses = 0

    /// Holds at most `capacity` entries: the largest power of two not above it. Below 2, caching is off.
    init(capacity: Int) {
        var sets = 0
        if capacity >= 2 {
            sets = 1
            while sets * 4 <= capacity { sets *= 2 }
        }
        slots = Array(repeating: nil, count: sets * 2)
        lastUsedWay = Array(repeating: 0, count: sets)
        shift = UInt64(64 - (sets > 0 ? sets.trailingZeroBitCount : 0))
    }

    var isEnabled: Bool { !slots.isEmpty }
    var capacity: Int { slots.count }

    private func set(of address: IPAddress) -> Int {
        // Fibonacci hashing of both halves; the top bits are the well-mixed ones.
        let hash = (address.low &* 0x9E37_79B9_7F4A_7C15) ^ (address.high &* 0xC2B2_AE3D_27D4_EB4F)
        return Int(truncatingIfNeeded: hash >> shift)
    }

    mutating func value(for address: IPAddress) -> IPIntelligence? {
        guard isEnabled else { return nil }
        let set = set(of: address)
        for way in 0..<2 {
            if let entry = slots[set * 2 + way], entry.address == address {
                lastUsedWay[set] = UInt8(way)
                hits += 1
                return entry.intelligence
            }
        }
        misses += 1
        return nil
    }

    mutating func insert(_ intelligence: IPIntelligence, for address: IPAddress) {
        guard isEnabled else { return }
        let set = set(of: address)
        var way = 1 - Int(lastUsedWay[set])
        if slots[set * 2] == nil || slots[set * 2]?.address == address {
            way = 0
        } else if slots[set * 2 + 1] == nil || slots[set * 2 + 1]?.address == address {
            way = 1
        }
        if slots[set * 2 + way] == nil { count += 1 }
        slots[set * 2 + way] = Entry(address: address, intelligence: intelligence)
        lastUsedWay[set] = UInt8(way)
    }

    mutating func removeAll() {
        for index in slots.indices { slots[index] = nil }
        count = 0
    }
}
