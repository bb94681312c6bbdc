/// Hard caps on users, sources and email domains per shard. The idle sweeps bound them in time only,
/// so without a cap a spray of invented usernames, a flood of new source addresses (a botnet failing
/// once from each of a million IPs) or of invented email domains would grow memory until the sweep
/// caught up. At a cap the least recently seen tenth is dropped in one pass, ordered by last-seen time
/// and then key so replays drop the same entries; the sort is paid once per tenth of the cap, not per
/// event (at a 10-million-user cap that is a pause of about a second per million new users). A dropped user's baseline
/// and a dropped source's or domain's counts restart from zero, which is why drops are counted.
extension ShardState {
    mutating func enforceCapacity(settings: EngineSettings) {
        if users.count > settings.maxUsers {
            counters.droppedAtCapacity += dropLeastRecentlySeenUsers(keeping: settings.maxUsers)
        }
        if sources.count > settings.maxSources {
            counters.droppedAtCapacity += Self.dropLeastRecentlySeen(&sources, keeping: settings.maxSources) {
                $0.lastSeen
            }
        }
        if domains.count > settings.maxEmailDomains {
            counters.droppedAtCapacity += Self.dropLeastRecentlySeen(&domains, keeping: settings.maxEmailDomains) {
                $0.lastSeen
            }
        }
    }

    /// Keeps nine tenths of `limit` users, dropping those seen least recently; returns how many.
    mutating func dropLeastRecentlySeenUsers(keeping limit: Int) -> Int {
        users.removeLeastRecentlySeen(users.count - max(1, limit - limit / 10))
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
