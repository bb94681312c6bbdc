import _VigilMachinery

/// The changelog side of the engine: recording which entries change, writing them as one ordered
/// flush, restoring a shard from the records, and the replay guard that keeps input processed again
/// after a crash from changing an entry twice.
extension RiskEngine {
    /// Whether the engine records the entries each event changes, for `takeChangelogFlush`. Off by
    /// default: replay, and a daemon without a changelog, pay nothing for it. Turning it on starts
    /// with nothing changed; turning it off forgets what was recorded.
    public var recordsChanges: Bool {
        get { state.changes != nil }
        set {
            guard newValue != recordsChanges else { return }
            state.changes = newValue ? StateChanges() : nil
        }
    }

    /// True when an event was processed (or the configuration restarted the global windows) since the
    /// last flush.
    public var hasUnflushedChanges: Bool { state.changes.map { !$0.isEmpty } ?? false }

    /// True from a changelog restore (or a stamped snapshot) until the input passes what it restored.
    /// Meanwhile some entries reflect more input than the rest, so a snapshot taken now could not say
    /// with one stamp what it reflects: take none until this is false.
    public var isReplayGuarded: Bool { replayGuard != nil }

    /// The input offset every entry reflects, exactly, while the guard is up with nothing beyond its
    /// floor: a restore that ended on a checkpoint (or a stamped snapshot alone), and no input since.
    /// A snapshot stamped with it is then exact, though the guard is still up. Nil otherwise.
    public var uniformlyRestoredStamp: Int64? {
        guard let protection = replayGuard, protection.floor >= 0, protection.highest == protection.floor else {
            return nil
        }
        return protection.floor
    }

    /// The records of one flush at `stamp` (the input offset of the last event processed), in the
    /// order a restore relies on: a flush begin; every changed user, source and domain entry (or its
    /// tombstone when it was evicted), by kind then key; the changed global buckets by slot; the shard
    /// entry; a checkpoint. Every value is stamped `stamp`. Clears the recorded changes; empty while
    /// changes are not recorded.
    ///
    /// Entries the replay guard still protects are left out: their last record reflects more input than
    /// `stamp`, and must stay the last. Below the guard's floor nothing is taken: events there change
    /// no entry, and what a restart of the global windows changed waits for a flush at the floor or
    /// beyond, since a restore skips entry records stamped below the floor it reached (`ReplayGuard`).
    public mutating func takeChangelogFlush(stamp: Int64, scope: ChangelogScope) -> [ChangelogRecord] {
        guard state.changes != nil else { return [] }
        if let protection = replayGuard, stamp < protection.floor { return [] }
        // All input up to `stamp` was processed (the last messages may have been dead letters that never
        // reached the engine): at or past everything guarded, the guard ends here, so the shard entry
        // this flush writes carries the uninterrupted run's counters, not the guarded run's.
        if let protection = replayGuard, stamp >= protection.highest { dropReplayGuard() }
        let changes = state.changes!
        state.changes = StateChanges()
        let codec = StateEntryCodec(keys: keys)
        var records: [ChangelogRecord] = []
        records.reserveCapacity(
            3 + changes.users.count + changes.sources.count + changes.domains.count + changes.campaigns.count)
        func add(_ kind: StateEntryKind, _ hash: UInt64, _ value: [UInt8]?) {
            records.append(
                ChangelogRecord(
                    key: ChangelogKey(entry: StateEntryKey(kind: kind, hash: hash), scope: scope.tag).bytes,
                    value: value))
        }
        let pending = replayGuard?.pendingCounters
        add(
            .flushBegin, 0,
            codec.encodeFlushBegin(
                counters: pending?.counters ?? state.counters, countersStamp: pending?.stamp ?? stamp, stamp: stamp))
        let names = state.names
        for key in changes.users.sorted() {
            add(.user, key, state.users.reading(key) { codec.encodeUser($0, names: names, appliedOffset: stamp) })
        }
        for key in changes.sources.sorted() {
            add(.source, key, state.sources[key].map { codec.encodeSource($0, appliedOffset: stamp) })
        }
        for key in changes.domains.sorted() {
            add(.domain, key, state.domains[key].map { codec.encodeDomain($0, appliedOffset: stamp) })
        }
        for key in changes.campaigns.sorted() {
            add(.campaign, key, state.campaigns[key].map { codec.encodeCampaign($0, appliedOffset: stamp) })
        }
        for slot in 0..<GlobalWindows.bucketCount where changes.bucketSlots & (1 << UInt64(slot)) != 0 {
            add(
                .globalBucket, UInt64(slot),
                state.global.bucket(atSlot: slot).map { codec.encodeBucket($0, appliedOffset: stamp) })
        }
        if changes.shard || replayGuard == nil {
            add(.shard, 0, codec.encodeShard(state, appliedOffset: stamp))
        }
        add(.checkpoint, 0, codec.encodeCheckpoint(settingsDigest: config.engine.stateDigest, stamp: stamp))
        return records
    }

    /// Applies one changelog record read back during a restore: replaces (or, for a tombstone,
    /// removes) the entry, and keeps the replay guard's bookkeeping. Returns false, changing nothing,
    /// for a record of another scope (or the decode stage's watermark). An entry record stamped below
    /// the floor reached so far is skipped (true, changing nothing): no flush writes one there, so it is
    /// a late write of an earlier owner of the partition, older than the state a later checkpoint vouches
    /// for. On error the restore must be abandoned with the engine: its state holds a part of the
    /// changelog only.
    @discardableResult
    public mutating func applyChangelogRecord(
        key keyBytes: [UInt8], value: [UInt8]?, scope: ChangelogScope
    ) throws(ChangelogRestoreError) -> Bool {
        let key: ChangelogKey
        do throws(StateDecodingError) { key = try ChangelogKey(bytes: keyBytes) } catch {
            // A kind this Vigil does not know most likely comes with a format it does not read either.
            if case .unknownEntryKind = error, let version = value?.first,
                !StateEntryCodec.readableVersions.contains(version)
            {
                throw .unknownVersion(version)
            }
            throw ChangelogRestoreError(error)
        }
        // The decode stage's record is its own (`DecodeStage.applyChangelogRecord`).
        guard key.scope == scope.tag, key.entry.kind != .decodeWatermark else { return false }
        let entry = key.entry
        let codec = StateEntryCodec(keys: keys)
        // Taken out while it changes, so its overrides are not copied once per record.
        var bookkeeping = replayGuard.take() ?? ReplayGuard()
        do throws(StateDecodingError) {
            switch entry.kind {
            case .flushBegin:
                let (stamp, counters, countersStamp) = try codec.decodeFlushBegin(key: entry, value: value ?? [])
                bookkeeping.noteFlushBegin(stamp: stamp, counters: counters, countersStamp: countersStamp)
            case .checkpoint:
                let (stamp, digest) = try codec.decodeCheckpoint(key: entry, value: value ?? [])
                if !bookkeeping.isBelowFloor(stamp) {
                    restoredCheckpoint = ChangelogCheckpoint(stamp: stamp, settingsDigest: digest)
                }
                bookkeeping.noteCheckpoint(stamp: stamp)
            case .names:
                throw .misplaced(field: "names entry", detail: "a changelog holds no names entry")
            case .decodeWatermark:
                throw .misplaced(field: "decode watermark", detail: "the decode stage's record reached an engine")
            case .user, .source, .domain, .campaign, .globalBucket, .shard:
                if let value {
                    guard !bookkeeping.isBelowFloor(try codec.appliedOffset(of: value)) else { break }
                    let applied = try codec.apply(key: entry, value: value, to: &state)
                    bookkeeping.noteValue(entry, appliedOffset: applied)
                } else {
                    guard !bookkeeping.isBelowFloor(bookkeeping.tombstoneStamp) else { break }
                    try removeEntry(entry)
                    bookkeeping.noteTombstone(entry)
                }
            }
        } catch {
            throw ChangelogRestoreError(error)
        }
        replayGuard = bookkeeping
        guardedThrough = .max
        return true
    }

    /// A tombstone's effect: the entry is gone.
    private mutating func removeEntry(_ key: StateEntryKey) throws(StateDecodingError) {
        switch key.kind {
        case .user: state.users[key.hash] = nil
        case .source: state.sources[key.hash] = nil
        case .domain: state.domains[key.hash] = nil
        case .campaign: state.campaigns[key.hash] = nil
        case .globalBucket: state.global.restore(nil, atSlot: try StateEntryCodec.bucketSlot(key))
        case .shard, .names, .flushBegin, .checkpoint, .decodeWatermark:
            throw .misplaced(field: "\(key.kind) tombstone", detail: "only evicted entries have tombstones")
        }
    }

    /// The event at `offset` while a replay guard is set: entries that already reflect it keep the
    /// value the restore gave them; sweeps and capacity drops wait while the shard entry reflects it.
    mutating func processGuarded(
        _ context: EventContext, late: Bool, globalFacts: (any GlobalFactLookup)?, offset: Int64
    ) -> Verdict {
        adoptConfiguredGlobalWindow()
        guard let protection = replayGuard, offset <= protection.highest else {
            dropReplayGuard()
            return apply(context, late: late, globalFacts: globalFacts, sparing: nil)
        }
        let saved = GuardedEntries(
            context: context, stages: stages, offset: offset, state: state, keys: keys, protection: protection)
        var verdict = apply(
            context, late: late, globalFacts: globalFacts, sparing: { protection.reflects($0, offset: offset) },
            sweeping: saved.scalars == nil)
        saved.putBack(into: &state)
        verdict.reemitted = saved.reflectsEvent
        // A fact computed from entries put back would not be the changelog's: the first run published it.
        if saved.source != nil { verdict.sourceRisk = nil }
        if !saved.campaigns.isEmpty { verdict.campaigns = [] }
        return verdict
    }

    /// The input has passed everything restored: the counters become the uninterrupted run's, and
    /// events pay one comparison again.
    private mutating func dropReplayGuard() {
        if let pending = replayGuard?.pendingCounters {
            state.counters = pending.counters
            state.changes?.shard = true
        }
        replayGuard = nil
        guardedThrough = .min
    }
}

/// The entries an event may change that already reflect it, as they were before it: put back after
/// the event so it changes none of them.
private struct GuardedEntries {
    /// The shard-wide scalars (`StateEntryKind.shard`).
    struct Scalars {
        var watermark: Watermark
        var nextSweep: Timestamp?
        var nextRareSweep: Timestamp?
        var counters: StateCounters
        var globalWindow: EventDuration
        var newestBucket: Int64?
    }

    var user: (key: UInt64, value: UserState?)?
    var source: (key: UInt64, value: SourceState?)?
    var domain: (key: UInt64, value: DomainState?)?
    /// The autonomous system's and tenant's campaign entries that reflect the event.
    var campaigns: [(key: UInt64, value: CampaignState?)] = []
    var bucket: (slot: Int, value: GlobalWindows.Bucket?)?
    var scalars: Scalars?

    init(
        context: EventContext, stages: EngineStages, offset: Int64, state: ShardState, keys: EngineKeys,
        protection: ReplayGuard
    ) {
        func reflected(_ kind: StateEntryKind, _ hash: UInt64) -> Bool {
            protection.reflects(StateEntryKey(kind: kind, hash: hash), offset: offset)
        }
        let event = context.event
        let userKey = context.userKey
        if stages.contains(.user), reflected(.user, userKey) { user = (userKey, state.users[userKey]) }
        if stages.contains(.source), let sourceKey = context.sourceStateKey, reflected(.source, sourceKey) {
            source = (sourceKey, state.sources[sourceKey])
        }
        if stages.contains(.domain), event.type == .passwordResetRequest, let name = event.user.emailDomain {
            let domainKey = keys.domainStateKey(tenant: event.tenant, domain: name)
            if reflected(.domain, domainKey) { domain = (domainKey, state.domains[domainKey]) }
        }
        if stages.contains(.campaign) {
            let counted = context.countedCampaigns
            for case let key? in [counted.asn, counted.tenant] where reflected(.campaign, key) {
                campaigns.append((key, state.campaigns[key]))
            }
        }
        let slot = state.global.slot(at: event.time)
        if reflected(.globalBucket, UInt64(slot)) { bucket = (slot, state.global.bucket(atSlot: slot)) }
        if reflected(.shard, 0) {
            scalars = Scalars(
                watermark: state.watermark, nextSweep: state.nextSweep, nextRareSweep: state.nextRareSweep,
                counters: state.counters, globalWindow: state.global.window, newestBucket: state.global.newestBucket)
        }
    }

    /// True when any entry the event reads or changes already reflects it. Its outputs were then
    /// delivered before (a record reflecting the event was produced only once they were), and may
    /// differ now: the scoring reads the user, source and domain entries and the shard's watermark, all
    /// among these. When none reflects it, each holds exactly what the first run read (input before the
    /// event only, brought forward by the input processed again), so the outputs come out identical.
    /// Any entry rather than the user's alone: marking a copy that happens to be equal costs nothing
    /// (the first still stands), missing one that differs breaks that promise, and the shard entry (the
    /// watermark, which decides lateness) can reflect a late event whose user record is older.
    var reflectsEvent: Bool {
        user != nil || source != nil || domain != nil || !campaigns.isEmpty || bucket != nil || scalars != nil
    }

    /// Restores every saved entry and forgets the changes recorded for them.
    func putBack(into state: inout ShardState) {
        if let user {
            state.users[user.key] = user.value
            state.changes?.unmark(StateEntryKey(kind: .user, hash: user.key))
        }
        if let source {
            state.sources[source.key] = source.value
            state.changes?.unmark(StateEntryKey(kind: .source, hash: source.key))
        }
        if let domain {
            state.domains[domain.key] = domain.value
            state.changes?.unmark(StateEntryKey(kind: .domain, hash: domain.key))
        }
        for campaign in campaigns {
            state.campaigns[campaign.key] = campaign.value
            state.changes?.unmark(StateEntryKey(kind: .campaign, hash: campaign.key))
        }
        if let bucket {
            state.global.restore(bucket.value, atSlot: bucket.slot)
            state.changes?.unmark(StateEntryKey(kind: .globalBucket, hash: UInt64(bucket.slot)))
        }
        if let scalars {
            state.watermark = scalars.watermark
            state.nextSweep = scalars.nextSweep
            state.nextRareSweep = scalars.nextRareSweep
            state.counters = scalars.counters
            state.global.restore(window: scalars.globalWindow, newest: scalars.newestBucket)
            state.changes?.unmark(StateEntryKey(kind: .shard, hash: 0))
        }
    }
}
