/// Hard caps on users, sources, email domains and campaign entities per shard. The idle sweeps bound them in time only,
/// so without a cap a spray of invented usernames, a flood of new source addresses (a botnet failing
/// once from each of a million IPs) or of invented email domains would grow memory until the sweep
/// caught up. At a cap the least recently seen tenth is dropped in one pass, ordered by last-seen time
/// and then key so replays drop the same entries; the sort is paid once per tenth of the cap, not per
/// event (at a 10-million-user cap that is a pause of about a second per million new users). A dropped user's baseline
/// and a dropped source's or domain's counts restart from zero, which is why drops are counted.
///
/// Entries the replay guard `spares` stay, though counted as the uninterrupted run counted them; the
/// keys of those dropped go to `changes` (when recorded) so the changelog gets their tombstones.
extension ShardState {
    /// Returns the sources dropped that may have a fact in the source-risk table (`retiredSources`), then
    /// the autonomous systems and tenants dropped that may have one in the campaigns table.
    @discardableResult
    mutating func enforceCapacity(
        settings: EngineSettings, sparing spared: ((StateEntryKey) -> Bool)? = nil
    )
        -> [UInt64]
    {
        var retired: [UInt64] = []
        if users.count > settings.maxUsers {
            counters.droppedAtCapacity += dropLeastRecentlySeenUsers(keeping: settings.maxUsers, sparing: spared)
        }
        if sources.count > settings.maxSources {
            var removed: [UInt64] = []
            counters.droppedAtCapacity += Self.dropLeastRecentlySeen(
                &sources, keeping: settings.maxSources,
                sparing: { spared?(StateEntryKey(kind: .source, hash: $0)) ?? false },
                removed: &removed,
                onRemove: { key, source in if source.publishesFacts(settings.signals) { retired.append(key) } }
            ) { $0.lastSeen }
            changes?.sources.formUnion(removed)
        }
        if domains.count > settings.maxEmailDomains {
            var removed: [UInt64] = []
            counters.droppedAtCapacity += Self.dropLeastRecentlySeen(
                &domains, keeping: settings.maxEmailDomains,
                sparing: { spared?(StateEntryKey(kind: .domain, hash: $0)) ?? false }, removed: &removed
            ) { $0.lastSeen }
            changes?.domains.formUnion(removed)
        }
        if campaigns.count > settings.campaigns.maxEntities {
            var removed: [UInt64] = []
            counters.droppedAtCapacity += Self.dropLeastRecentlySeen(
                &campaigns, keeping: settings.campaigns.maxEntities,
                sparing: { spared?(StateEntryKey(kind: .campaign, hash: $0)) ?? false }, removed: &removed,
                onRemove: { key, campaign in if campaign.publishesFacts { retired.append(key) } }
            ) { $0.lastSeen }
            changes?.campaigns.formUnion(removed)
        }
        return retired
    }

    /// Keeps nine tenths of `limit` users, dropping those seen least recently; returns how many.
    mutating func dropLeastRecentlySeenUsers(
        keeping limit: Int, sparing spared: ((StateEntryKey) -> Bool)? = nil
    ) -> Int {
        var removed: [UInt64] = []
        let recording = changes != nil
        let count = users.removeLeastRecentlySeen(
            users.count - max(1, limit - limit / 10),
            sparing: { spared?(StateEntryKey(kind: .user, hash: $0)) ?? false }
        ) { if recording { removed.append($0) } }
        changes?.users.formUnion(removed)
        return count
    }

    /// Keeps the most recently seen nine tenths of `limit`; returns how many entries were dropped
    /// (those `spared` included), adds the keys removed to `removed` and hands each to `onRemove`.
    static func dropLeastRecentlySeen<Key: Comparable, Value>(
        _ map: inout [Key: Value], keeping limit: Int, sparing spared: (Key) -> Bool, removed: inout [Key],
        onRemove: (Key, Value) -> Void = { _, _ in }, lastSeen: (Value) -> Timestamp
    ) -> Int {
        let keep = max(1, limit - limit / 10)
        guard map.count > keep else { return 0 }
        let oldestFirst = map.map { (key: $0.key, seen: lastSeen($0.value)) }
            .sorted { ($0.seen, $0.key) < ($1.seen, $1.key) }
        let dropped = map.count - keep
        for entry in oldestFirst.prefix(dropped) where !spared(entry.key) {
            guard let value = map.removeValue(forKey: entry.key) else { continue }
            removed.append(entry.key)
            onRemove(entry.key, value)
        }
        return dropped
    }
}
