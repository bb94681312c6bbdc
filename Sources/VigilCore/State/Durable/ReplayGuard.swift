/// What a changelog restore learned about how far each entry reaches in the input, so that input
/// processed again after a crash changes no entry twice.
///
/// Every changelog value is stamped with the flush's stamp: it reflects all input up to it. A
/// checkpoint says every entry reflects the input up to its stamp (`floor`); a flush cut short by a
/// crash leaves entries after the last checkpoint that reach further (`overrides`). An event at input
/// offset `o` may change an entry only when `o` is above what the entry reflects. Once the input
/// passes `highest`, nothing is guarded any more.
///
/// The one case this is not exact: a shard at a capacity cap in the region a cut flush covers. The
/// drop orders users by last-seen time, and guarded users show the time of input after the event, so
/// other users may be dropped than in the uninterrupted run.
struct ReplayGuard: Sendable {
    /// Every entry reflects the input up to and including this offset.
    private(set) var floor: Int64 = -1
    /// Entries that reflect input beyond `floor`: the stamp of their last record.
    private var overrides: [StateEntryKey: Int64] = [:]
    /// The stamp of the last flush begin read: a tombstone after it reflects the input up to it.
    private var currentStamp: Int64 = -1

    /// The stamp of a tombstone read now: that of the flush last begun.
    var tombstoneStamp: Int64 { currentStamp }

    /// True for an entry record stamped below the floor: no flush writes one (events up to the floor
    /// change no entry, and `takeChangelogFlush` keeps a global-window restart's changes for a flush
    /// at the floor or beyond), so it is a late write of an earlier owner, and must not be applied
    /// over the newer state the checkpoint vouches for. At the floor itself a flush may legitimately
    /// write entries: a configuration change after the last input, flushed with the same stamp.
    func isBelowFloor(_ stamp: Int64) -> Bool { stamp < floor }
    /// The counters of the furthest flush begin read beyond `floor`, set once the input passes their
    /// stamp: evictions of entries the guard spared are counted there, as the uninterrupted run did.
    private(set) var pendingCounters: (stamp: Int64, counters: StateCounters)?
    /// The highest offset anything is guarded up to.
    private(set) var highest: Int64 = -1

    /// A guard whose every entry reflects the input up to `floor` (a snapshot's stamp).
    init(floor: Int64 = -1) {
        self.floor = floor
        highest = floor
    }

    /// True when `key`'s entry already reflects the event at `offset`: the event must not change it.
    func reflects(_ key: StateEntryKey, offset: Int64) -> Bool {
        offset <= max(floor, overrides[key] ?? floor)
    }

    /// A checkpoint: everything up to `stamp` is in the changelog before it.
    mutating func noteCheckpoint(stamp: Int64) {
        guard stamp > floor else { return }
        floor = stamp
        highest = max(highest, stamp)
        overrides = overrides.filter { $0.value > stamp }
        if let pending = pendingCounters, pending.stamp <= stamp { pendingCounters = nil }
    }

    /// A flush begin at `stamp` carrying the counters as of `countersStamp`.
    mutating func noteFlushBegin(stamp: Int64, counters: StateCounters, countersStamp: Int64) {
        currentStamp = stamp
        guard countersStamp > floor, countersStamp >= pendingCounters?.stamp ?? countersStamp else { return }
        pendingCounters = (countersStamp, counters)
        highest = max(highest, countersStamp)
    }

    /// A value record of `key` stamped `appliedOffset`.
    mutating func noteValue(_ key: StateEntryKey, appliedOffset: Int64) {
        note(key, appliedOffset)
    }

    /// A tombstone of `key`: written by the flush last begun.
    mutating func noteTombstone(_ key: StateEntryKey) {
        note(key, currentStamp)
    }

    private mutating func note(_ key: StateEntryKey, _ stamp: Int64) {
        if stamp > floor {
            overrides[key] = stamp
            highest = max(highest, stamp)
        } else {
            overrides[key] = nil
        }
    }
}
