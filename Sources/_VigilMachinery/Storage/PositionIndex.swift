/// The keys of the indexed positions, as `PositionIndex` reads them: `keys[position]`.
public protocol PositionKeys {
    subscript(_ position: Int) -> UInt64 { get }
}

extension Array: PositionKeys where Element == UInt64 {}
extension ChunkedArray: PositionKeys where Element == UInt64 {}

/// Open-addressing hash index from a 64-bit key to the position of its record in a table the caller
/// owns: one `UInt32` per slot (position + 1; 0 is empty), linear probing, at most three quarters
/// full. The keys themselves are not stored here: a probe reads them from the table's key array, so
/// an entry costs 4–11 bytes (a `Dictionary<UInt64, UInt32>` costs 16–32).
public struct PositionIndex: Sendable {
    @usableFromInline var slots: [UInt32]
    /// 64 − log2(slots.count): the home slot is the top bits of the key times a Fibonacci constant.
    @usableFromInline var shift: UInt64
    /// Keys indexed.
    public var count: Int

    /// An empty index; slots are allocated on the first insert.
    @inlinable public init() {
        slots = []
        shift = 64
        count = 0
    }

    /// Slots allocated.
    @inlinable public var slotCount: Int { slots.count }

    /// The position of `key`, if indexed. `keys[position]` must be the key of each indexed position.
    @inlinable public func position(of key: UInt64, keys: some PositionKeys) -> Int? {
        guard let slot = slot(of: key, keys: keys) else { return nil }
        return Int(slots[slot]) - 1
    }

    /// Indexes a key that is not yet indexed.
    @inlinable public mutating func insert(_ key: UInt64, at position: Int, keys: some PositionKeys) {
        if (count + 1) * 4 > slots.count * 3 { rebuild(slotsFor: max(16, slots.count * 2), keys: keys) }
        place(key, value: UInt32(position + 1))
        count += 1
    }

    /// Points an indexed key at a new position.
    @inlinable public mutating func move(_ key: UInt64, to position: Int, keys: some PositionKeys) {
        guard let slot = slot(of: key, keys: keys) else { preconditionFailure("moving a key that is not indexed") }
        slots[slot] = UInt32(position + 1)
    }

    /// Unindexes `key` and returns its position.
    @inlinable public mutating func remove(_ key: UInt64, keys: some PositionKeys) -> Int? {
        guard var hole = slot(of: key, keys: keys) else { return nil }
        let position = Int(slots[hole]) - 1
        slots[hole] = 0
        count -= 1
        // Backward-shift deletion: pull later entries of the probe run into the hole, so lookups never
        // need tombstones.
        let mask = slots.count - 1
        var next = hole
        while true {
            next = (next + 1) & mask
            let value = slots[next]
            if value == 0 { break }
            let home = self.home(keys[Int(value) - 1])
            // Move it unless its home lies cyclically in (hole, next].
            let stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next)
            if !stays {
                slots[hole] = value
                slots[next] = 0
                hole = next
            }
        }
        return position
    }

    /// Rebuilds at the smallest size that holds the entries, when far larger than that.
    @inlinable public mutating func shrinkIfSparse(keys: some PositionKeys) {
        let needed = Self.slots(for: count)
        if slots.count > 1024 && slots.count >= needed * 4 { rebuild(slotsFor: needed, keys: keys) }
    }

    @inlinable static func slots(for entries: Int) -> Int {
        var size = 16
        while entries * 4 > size * 3 { size *= 2 }
        return size
    }

    /// Chosen per process: keys may be computable by anyone (a keyed hash under a public key), and
    /// without a seed an attacker could pick inputs whose slots form one long probe run. Slots never
    /// decide an order the caller can observe, so outputs built on the index stay deterministic.
    @usableFromInline static let seed = UInt64.random(in: .min ... .max)

    @inlinable func home(_ key: UInt64) -> Int {
        var mixed = key ^ Self.seed
        mixed ^= mixed >> 32
        return Int(truncatingIfNeeded: (mixed &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    @inlinable func slot(of key: UInt64, keys: some PositionKeys) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var slot = home(key)
        while true {
            let value = slots[slot]
            if value == 0 { return nil }
            if keys[Int(value) - 1] == key { return slot }
            slot = (slot + 1) & mask
        }
    }

    @inlinable mutating func place(_ key: UInt64, value: UInt32) {
        let mask = slots.count - 1
        var slot = home(key)
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = value
    }

    @inlinable mutating func rebuild(slotsFor size: Int, keys: some PositionKeys) {
        let old = slots
        slots = [UInt32](repeating: 0, count: size)
        shift = UInt64(64 - size.trailingZeroBitCount)
        for value in old where value != 0 { place(keys[Int(value) - 1], value: value) }
    }
}
