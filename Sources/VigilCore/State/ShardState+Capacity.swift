/// Hard caps on the cross-user maps. The idle sweep bounds them in time only, so without a cap a
/// flood of new source addresses (a botnet failing once from each of a million IPs) or of invented
/// email domains would grow memory until the sweep caught up. At the cap the least recently seen
/// tenth is dropped in one pass, ordered by last-seen time and then key so replays drop the same
/// entries; the sort is paid once per tenth of the cap, not per event. Counting against a dropped
/// source or domain restarts from zero, which is why the drops are counted and exported.
extension ShardState {
    mutating func enforceCapacity(settings: EngineSettings) {
        if sources.count > settings.maxSources {
            counters.droppedAtCapacity += Self.dropLeastRecentlySeen(&sources, keeping: settings.maxSources) { $0.lastSeen }
        }
        if domains.count > settings.maxEmailDomains {
            counters.droppedAtCapacity += Self.dropLeastRecentlySeen(&domains, keeping: settings.maxEmailDomains) {
                $0.lastSeen
            }
        }
    }

    /// Keeps the most recently seen nine tenths of `limit`; returns how many entries were dropped.
    static func dropLeastRecentlySeen<Key: Comparable, Value>(
        _ map: inout [Key: Value], keeping limit: Int, lastSeen: (Value) -> Timestamp
    ) -> Int {
        let keep = max(1, limit - limit / 10)
        guard map.count > keep else { return 0 }
        let oldestFirst = map.map { (key: $0.key, seen: lastSeen($0.value)) }
            .sorted { ($0.seen, $0.key) < ($1.seen, $1.key) }
        let dropped = map.count - keep
        for entry in oldestFirst.prefix(dropped) { map[entry.key] = nil }
        return dropped
    }
}
