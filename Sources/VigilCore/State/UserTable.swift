/// The users of one shard, dense: their records side by side in one array, with their keys in a
/// parallel array and a compact hash index (`PositionIndex`) from key to position. Removal moves the
/// last record into the hole (swap-remove) and fixes its index entry, so the array never has gaps; a
/// sweep that removes many shrinks the storage again.
public struct UserTable: Sendable {
    private var keys: [UInt64] = []
    private var records: [UserState] = []
    private var index = PositionIndex()
    /// Users whose rarely used part is allocated, and users whose seen sets spilled to the heap (with
    /// the entries they hold): kept as records change, for the size estimate.
    private(set) var rareUsers = 0
    private(set) var spilledUsers = 0
    private(set) var spilledEntries = 0

    public init() {}

    public var count: Int { records.count }
    public var isEmpty: Bool { records.isEmpty }

    /// Every user's state, in storage order (which a removal changes).
    public var values: [UserState] { records }

    public func contains(_ key: UInt64) -> Bool { position(of: key) != nil }

    public subscript(key: UInt64) -> UserState? {
        get { position(of: key).map { records[$0] } }
        set {
            if let newValue { store(key, newValue) } else { remove(key) }
        }
    }

    /// The user's state for updating in place, and where it is: the rarely used part is moved out of the
    /// table, so writing to it does not copy. Pair with `store` (passing the position back saves a
    /// lookup); until then the table's record lacks that part.
    mutating func checkout(_ key: UInt64) -> (user: UserState, position: Int)? {
        guard let position = position(of: key) else { return nil }
        let user = records[position]
        if user.rare != nil {
            records[position].rare = nil
            rareUsers -= 1
        }
        return (user, position)
    }

    /// Inserts or replaces the user's state. `position` is a hint from `checkout`, checked before use.
    public mutating func store(_ key: UInt64, _ user: UserState, position hint: Int? = nil) {
        if let position = hint.flatMap({ $0 < keys.count && keys[$0] == key ? $0 : nil }) ?? position(of: key) {
            replace(at: position) { $0 = user }
        } else {
            guard records.count < Int(UInt32.max) - 1 else { preconditionFailure("more than 2^32 users in one shard") }
            keys.append(key)
            records.append(user)
            index.insert(key, at: records.count - 1, keys: keys)
            account(user, sign: 1)
        }
    }

    /// Removes the user's state; false if there was none.
    @discardableResult
    public mutating func remove(_ key: UInt64) -> Bool {
        guard let position = index.remove(key, keys: keys) else { return false }
        account(records[position], sign: -1)
        moveLast(into: position)
        return true
    }

    /// Removes the users last seen before `idleCutoff`, and drops the rarely used part of the others
    /// when all in it is before `rareCutoff` (if given). Returns how many users were removed. Shrinks the storage
    /// when it has become mostly empty.
    @discardableResult
    mutating func sweep(idleBefore idleCutoff: Timestamp, dropRareBefore rareCutoff: Timestamp?) -> Int {
        var removed = 0
        var position = 0
        while position < records.count {
            if records[position].lastSeen < idleCutoff {
                account(records[position], sign: -1)
                _ = index.remove(keys[position], keys: keys)
                moveLast(into: position)
                removed += 1
                continue
            }
            if let rareCutoff, records[position].rare?.isAllBefore(rareCutoff) == true {
                records[position].rare = nil
                rareUsers -= 1
            }
            position += 1
        }
        if removed > 0 { shrinkIfSparse() }
        return removed
    }

    private func position(of key: UInt64) -> Int? { index.position(of: key, keys: keys) }

    /// Rough bytes held: the arrays and index as allocated, plus the heap parts of records.
    var approximateBytes: Int {
        records.capacity * MemoryLayout<UserState>.stride + keys.capacity * 8
            + index.slotCount * MemoryLayout<UInt32>.stride
            + rareUsers * Self.rareStateBytes + spilledUsers * 32 + spilledEntries * MemoryLayout<SeenSets.Entry>.stride
    }

    /// An estimate for one allocated rarely used part with a few window entries.
    static let rareStateBytes = 384

    private mutating func replace(at position: Int, _ change: (inout UserState) -> Void) {
        account(records[position], sign: -1)
        change(&records[position])
        account(records[position], sign: 1)
    }

    /// Moves the last record into `position` (already unindexed) and drops the last slot.
    private mutating func moveLast(into position: Int) {
        let last = records.count - 1
        if position != last {
            index.move(keys[last], to: position, keys: keys)
            records.swapAt(position, last)
            keys.swapAt(position, last)
        }
        records.removeLast()
        keys.removeLast()
    }

    private mutating func shrinkIfSparse() {
        if records.capacity > 1024 && records.count < records.capacity / 4 {
            records = Self.compacted(records)
            keys = Self.compacted(keys)
        }
        index.shrinkIfSparse(keys: keys)
    }

    /// A copy in a buffer just large enough.
    private static func compacted<Element>(_ array: [Element]) -> [Element] {
        var copy: [Element] = []
        copy.reserveCapacity(array.count)
        copy.append(contentsOf: array)
        return copy
    }

    private mutating func account(_ user: UserState, sign: Int) {
        if user.rare != nil { rareUsers += sign }
        if user.seen.isSpilled {
            spilledUsers += sign
            spilledEntries += sign * user.seen.spilledCapacity
        }
    }
}
