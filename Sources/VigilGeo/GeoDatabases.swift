import Synchronization
import VigilCore

/// The configured MaxMind databases behind core's `GeoLookup`, replaceable while the engine runs.
///
/// The current handles sit behind a lock that is held only to copy references (and to use the cache);
/// the database walk itself runs outside it. A lookup therefore keeps the handle it started with alive
/// through reference counting, and a swapped-out file is unmapped when its last lookup returns.
public final class GeoDatabases: GeoLookup, Sendable {
    /// What one `reloadIfChanged()` did about one changed file.
    public struct ReloadResult: Sendable, Equatable {
        public enum Outcome: Sendable, Equatable {
            /// The new file is in force.
            case reloaded(databaseType: String, buildEpoch: UInt64)
            /// The new file could not be used; the previously opened database stays in force.
            case failed(GeoDatabaseError)
        }

        public let kind: MaxMindDatabase.Kind
        public let path: String
        public let outcome: Outcome
    }

    /// Cache counters for metrics.
    public struct CacheStatistics: Sendable, Equatable {
        public let hits: Int
        public let misses: Int
        public let entries: Int
        public let capacity: Int
    }

    private struct Handles: Sendable {
        var city: MaxMindDatabase?
        var asn: MaxMindDatabase?
        var anonymous: MaxMindDatabase?
        /// Bumped on every swap, so a lookup that raced a swap does not cache an old answer.
        var generation: UInt64 = 0

        subscript(kind: MaxMindDatabase.Kind) -> MaxMindDatabase? {
            get {
                switch kind {
                case .city: city
                case .asn: asn
                case .anonymousIP: anonymous
                }
            }
            set {
                switch kind {
                case .city: city = newValue
                case .asn: asn = newValue
                case .anonymousIP: anonymous = newValue
                }
            }
        }

        func lookup(_ address: IPAddress) -> IPIntelligence {
            IPIntelligence(
                location: city?.location(of: address),
                network: asn?.autonomousSystem(of: address),
                anonymity: anonymous?.anonymity(of: address) ?? []
            )
        }
    }

    private struct State: Sendable {
        var handles: Handles
        var cache: LookupCache
        /// Errors counted by databases that have been swapped out, so the total never goes backwards.
        var retiredLookupErrors = 0
    }

    /// A configured file and the identity of the last version tried, good or bad, so a broken
    /// replacement is reported once rather than on every check.
    private struct Watched: Sendable {
        let kind: MaxMindDatabase.Kind
        let path: String
        var lastTried: FileIdentity?
    }

    private let state: Mutex<State>
    /// Also serialises reloads, which are rare and may take a while to open a file.
    private let watched: Mutex<[Watched]>
    private let cacheEnabled: Bool

    /// Opens every configured database; fails on the first one that cannot be used, so a bad path is
    /// a startup error rather than silent loss of enrichment.
    public init(settings: GeoSettings) throws(GeoDatabaseError) {
        var handles = Handles()
        var watched: [Watched] = []
        let configured: [(MaxMindDatabase.Kind, String?)] = [
            (.city, settings.cityDatabase), (.asn, settings.asnDatabase), (.anonymousIP, settings.anonymousDatabase),
        ]
        for case let (kind, path?) in configured {
            let database = try MaxMindDatabase(path: path, kind: kind)
            handles[kind] = database
            watched.append(Watched(kind: kind, path: path, lastTried: database.identity))
        }
        let cache = LookupCache(capacity: settings.cacheEntries)
        cacheEnabled = cache.isEnabled
        state = Mutex(State(handles: handles, cache: cache))
        self.watched = Mutex(watched)
    }

    public func lookup(_ address: IPAddress) -> IPIntelligence {
        let (handles, cached) = state.withLock { state -> (Handles?, IPIntelligence?) in
            if let hit = state.cache.value(for: address) { return (nil, hit) }
            return (state.handles, nil)
        }
        if let cached { return cached }
        guard let handles else { return .unknown }
        let intelligence = handles.lookup(address)
        if cacheEnabled {
            state.withLock { state in
                if state.handles.generation == handles.generation { state.cache.insert(intelligence, for: address) }
            }
        }
        return intelligence
    }

    /// Checks each configured file for replacement (device, inode, size, mtime) and swaps in the ones
    /// that changed and open cleanly. Returns one result per file that changed; empty when none did.
    /// A file that has disappeared is reported once and the open database stays in force.
    public func reloadIfChanged() -> [ReloadResult] {
        watched.withLock { watched in
            var results: [ReloadResult] = []
            for index in watched.indices {
                let (kind, path) = (watched[index].kind, watched[index].path)
                let identity: FileIdentity
                do throws(GeoDatabaseError) {
                    identity = try FileIdentity(path: path)
                } catch {
                    if watched[index].lastTried != nil {
                        watched[index].lastTried = nil
                        results.append(ReloadResult(kind: kind, path: path, outcome: .failed(error)))
                    }
                    continue
                }
                guard identity != watched[index].lastTried else { continue }
                watched[index].lastTried = identity
                do throws(GeoDatabaseError) {
                    let database = try MaxMindDatabase(path: path, kind: kind)
                    // Record what was actually opened, in case the file changed again in between.
                    watched[index].lastTried = database.identity
                    swap(in: database, as: kind)
                    results.append(
                        ReloadResult(
                            kind: kind, path: path,
                            outcome: .reloaded(databaseType: database.databaseType, buildEpoch: database.buildEpoch)))
                } catch {
                    results.append(ReloadResult(kind: kind, path: path, outcome: .failed(error)))
                }
            }
            return results
        }
    }

    private func swap(in database: MaxMindDatabase, as kind: MaxMindDatabase.Kind) {
        // The old handle is returned and dropped outside the lock: if that is its last reference, deinit
        // unmaps the file, which should not stall lookups waiting for the lock.
        _ = state.withLock { state -> MaxMindDatabase? in
            let old = state.handles[kind]
            state.handles[kind] = database
            state.handles.generation &+= 1
            state.cache.removeAll()
            state.retiredLookupErrors += old?.lookupErrors ?? 0
            return old
        }
    }

    /// Lookups that failed on damaged data since startup, across all databases ever opened. Errors an
    /// in-flight lookup hits on a database after it was swapped out are not counted.
    public var lookupErrors: Int {
        state.withLock { state in
            state.retiredLookupErrors
                + MaxMindDatabase.Kind.allCases.reduce(0) { $0 + (state.handles[$1]?.lookupErrors ?? 0) }
        }
    }

    public var cacheStatistics: CacheStatistics {
        state.withLock { state in
            CacheStatistics(
                hits: state.cache.hits, misses: state.cache.misses,
                entries: state.cache.count, capacity: state.cache.capacity)
        }
    }

    /// The databases in force, for health output and tests.
    public func database(_ kind: MaxMindDatabase.Kind) -> MaxMindDatabase? {
        state.withLock { $0.handles[kind] }
    }
}
