import _VigilMachinery

/// The users of one shard, dense: their records side by side in fixed-size chunks (`ChunkedArray`, so
/// growing allocates one chunk and never copies the records), with their keys in parallel chunks and a
/// compact hash index (`PositionIndex`) from key to position. Removal moves the last record into the
/// hole (swap-remove) and fixes its index entry, so there are never gaps; a sweep frees emptied
/// trailing chunks and shrinks the index.
struct UserTable: Sendable {
    private var keys: ChunkedArray<UInt64>
    private var records: ChunkedArray<UserState>
    private var index = PositionIndex()
    /// Users whose rarely used part is allocated, and users whose seen sets spilled to the heap (with
    /// the entries they hold): kept as records change, for the size estimate.
    private(set) var rareUsers = 0
    private(set) var spilledUsers = 0
    private(set) var spilledEntries = 0

    init() { self.init(chunkShift: 14) }

    /// Chunks of `1 << chunkShift` records (tests use small ones to cross chunk boundaries).
    init(chunkShift: Int) {
        keys = ChunkedArray(chunkShift: chunkShift)
        records = ChunkedArray(chunkShift: chunkShift)
    }

    var count: Int { records.count }
    var isEmpty: Bool { records.isEmpty }

    /// Every user's state, in storage order (which a removal changes).
    var values: [UserState] { records.elements }

    /// Every user with its key, in storage order.
    func forEach(_ body: (UInt64, UserState) throws -> Void) rethrows {
        for position in 0..<records.count { try body(keys[position], records[position]) }
    }

    func contains(_ key: UInt64) -> Bool { position(of: key) != nil }

    subscript(key: UInt64) -> UserState? {
        get { position(of: key).map { records[$0] } }
        set {
            if let newValue { store(key, newValue) } else { remove(key) }
        }
    }

    /// The result of `body` on the user's record, read in place (a `UserState` is 192 bytes and holds
    /// references: a copy costs a move and retains); nil when there is none. Mutating, though `body`
    /// changes nothing: the record is reached through the chunks' `_modify`, which hands it over in
    /// place, where a read through `_read` into a closure copied it (a flush reads every changed user).
    mutating func reading<Result>(_ key: UInt64, _ body: (inout UserState) -> Result) -> Result? {
        guard let position = position(of: key) else { return nil }
        return body(&records[position])
    }

    /// Hands the user's record to `body` to update in place, inserting `newUser()` first when there is
    /// none: no copy out of the table and back.
    mutating func update(_ key: UInt64, inserting newUser: () -> UserState, _ body: (inout UserState) -> Void) {
        let position = position(of: key) ?? append(key, newUser())
        account(at: position, sign: -1)
        body(&records[position])
        account(at: position, sign: 1)
    }

    /// Inserts or replaces the user's state.
    mutating func store(_ key: UInt64, _ user: UserState) {
        if let position = position(of: key) {
            account(at: position, sign: -1)
            records[position] = user
            account(at: position, sign: 1)
        } else {
            append(key, user)
        }
    }

    /// Removes the user's state; false if there was none.
    @discardableResult
    mutating func remove(_ key: UInt64) -> Bool {
        guard let position = index.remove(key, keys: keys) else { return false }
        account(at: position, sign: -1)
        moveLast(into: position)
        return true
    }

    /// Removes the users last seen before `idleCutoff`, and drops the rarely used part of the others
    /// when all in it is before `rareCutoff` (if given). Returns how many users were removed. Frees the
    /// chunks emptied at the end and shrinks the index when it has become mostly empty. Users `spared`
    /// are left as they are (the replay guard's); `changed` hears the key of every user removed or
    /// changed, for the changelog.
    @discardableResult
    mutating func sweep(
        idleBefore idleCutoff: Timestamp, dropRareBefore rareCutoff: Timestamp?,
        sparing spared: (UInt64) -> Bool = { _ in false }, changed: (UInt64) -> Void = { _ in }
    ) -> Int {
        var removed = 0
        var position = 0
        while position < records.count {
            if records[position].lastSeen < idleCutoff, !spared(keys[position]) {
                changed(keys[position])
                account(at: position, sign: -1)
                _ = index.remove(keys[position], keys: keys)
                moveLast(into: position)
                removed += 1
                continue
            }
            if let rareCutoff, records[position].rare?.isAllBefore(rareCutoff) == true, !spared(keys[position]) {
                changed(keys[position])
                records[position].rare = nil
                rareUsers -= 1
            }
            position += 1
        }
        if removed > 0 {
            records.shrink()
            keys.shrink()
            index.shrinkIfSparse(keys: keys)
        }
        return removed
    }

    /// Removes the `count` users seen least recently, ties broken by key so replays remove the same
    /// ones: the shard's user cap. Reads 16 bytes a user (last-seen time and key), not the records.
    /// Users `spared` among them stay (the replay guard's); `removed` hears each key removed.
    @discardableResult
    mutating func removeLeastRecentlySeen(
        _ count: Int, sparing spared: (UInt64) -> Bool = { _ in false }, removed: (UInt64) -> Void = { _ in }
    ) -> Int {
        guard count > 0 else { return 0 }
        var order: [(seen: Int64, key: UInt64)] = []
        order.reserveCapacity(records.count)
        for position in 0..<records.count { order.append((records[position].lastSeen.microseconds, keys[position])) }
        order.sort { ($0.seen, $0.key) < ($1.seen, $1.key) }
        for entry in order.prefix(count) where !spared(entry.key) {
            remove(entry.key)
            removed(entry.key)
        }
        records.shrink()
        keys.shrink()
        index.shrinkIfSparse(keys: keys)
        return min(count, order.count)
    }

    private func position(of key: UInt64) -> Int? { index.position(of: key, keys: keys) }

    /// Rough bytes held: the chunks and index as allocated, plus the heap parts of records.
    var approximateBytes: Int {
        records.capacity * MemoryLayout<UserState>.stride + keys.capacity * 8
            + index.slotCount * MemoryLayout<UInt32>.stride
            + rareUsers * Self.rareStateBytes + spilledUsers * 32 + spilledEntries * MemoryLayout<SeenSets.Entry>.stride
    }

    /// An estimate for one allocated rarely used part with a few window entries.
    static let rareStateBytes = 384

    /// Chunks allocated for the records (a spare included), for tests.
    var chunkCount: Int { records.chunkCount }

    @discardableResult
    private mutating func append(_ key: UInt64, _ user: UserState) -> Int {
        guard records.count < Int(UInt32.max) - 1 else { preconditionFailure("more than 2^32 users in one shard") }
        keys.append(key)
        records.append(user)
        index.insert(key, at: records.count - 1, keys: keys)
        account(at: records.count - 1, sign: 1)
        return records.count - 1
    }

    /// Moves the last record into `position` (already unindexed) and drops the last slot.
    private mutating func moveLast(into position: Int) {
        let last = records.count - 1
        if position != last { index.move(keys[last], to: position, keys: keys) }
        records.swapRemove(at: position)
        keys.swapRemove(at: position)
    }

    private mutating func account(at position: Int, sign: Int) {
        if records[position].rare != nil { rareUsers += sign }
        if records[position].seen.isSpilled {
            spilledUsers += sign
            spilledEntries += sign * records[position].seen.spilledCapacity
        }
    }
}
