/// The entries of a shard changed since its last changelog flush: what the next flush writes, each
/// entry once however many events changed it. An entry marked but no longer held is written as a
/// tombstone (evicted by a sweep or dropped at a capacity limit).
struct StateChanges: Sendable, Equatable {
    var users = Set<UInt64>()
    var sources = Set<UInt64>()
    var domains = Set<UInt64>()
    var campaigns = Set<UInt64>()
    /// Global bucket slots, one bit each (`GlobalWindows.bucketCount` fits in 64).
    var bucketSlots: UInt64 = 0
    /// The shard-wide scalars (watermark, sweep schedule, counters, global window).
    var shard = false

    var isEmpty: Bool {
        !shard && users.isEmpty && sources.isEmpty && domains.isEmpty && campaigns.isEmpty && bucketSlots == 0
    }

    mutating func markBucket(slot: Int) { bucketSlots |= 1 << UInt64(slot) }

    /// Forgets a change to `key`: the replay guard put the entry back as the changelog holds it.
    mutating func unmark(_ key: StateEntryKey) {
        switch key.kind {
        case .user: users.remove(key.hash)
        case .source: sources.remove(key.hash)
        case .domain: domains.remove(key.hash)
        case .campaign: campaigns.remove(key.hash)
        case .globalBucket: bucketSlots &= ~(1 << key.hash)
        case .shard: shard = false
        case .names, .flushBegin, .checkpoint, .decodeWatermark: break
        }
    }
}
