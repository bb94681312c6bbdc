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
        /// Whether the new file took over.
        public enum Outcome: Sendable, Equatable {
            /// The new file is in force.
            case reloaded(databaseType: String, buildEpoch: UInt64)
            /// The new file could not be used; the previously opened database stays in force.
            case failed(GeoDatabaseError)
        }

        /// Which database the file is.
        public let kind: MaxMindDatabase.Kind
        /// The configured path.
        public let path: String
        /// What happened to it.
        public let outcome: Outcome
    }

    /// Cache counters for metrics.
    public struct CacheStatistics: Sendable, Equatable {
        /// Lookups answered from the cache since start.
        public let hits: Int
        /// Lookups that went to the databases since start.
        public let misses: Int
        /// Addresses cached now.
        public let entries: Int
        /// Most addresses the cache holds (`geo.cache_entries`); 0 when it is off.
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

    /// Everything the configured databases know about `address`; what a database lacks stays nil or empty.
    /// Safe from any thread, and during a reload.
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

    /// A consistent copy of the cache counters.
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

    /// What identifies the data in force, as `policy_version` covers it: per kind, the database's
    /// `database_type` and `build_epoch` from its metadata, or `none`. MaxMind stamps every build, so
    /// a weekly update changes it, while the same build copied, moved or touched does not.
    public var dataIdentity: String {
        let handles = state.withLock { $0.handles }
        return Self.dataIdentity { handles[$0].map { .opened($0) } ?? .notConfigured }
    }

    /// `dataIdentity` of the files `settings` names, each opened for its metadata and closed again
    /// (`vigil check-config` and the config loader, which open nothing for good). A file that does
    /// not open contributes `unreadable`: the daemon then fails on it at startup anyway.
    public static func dataIdentity(of settings: GeoSettings) -> String {
        let paths: [MaxMindDatabase.Kind: String] = [
            .city: settings.cityDatabase, .asn: settings.asnDatabase, .anonymousIP: settings.anonymousDatabase,
        ].compactMapValues { $0 }
        return dataIdentity { kind in
            guard let path = paths[kind] else { return .notConfigured }
            return (try? MaxMindDatabase(path: path, kind: kind)).map { .opened($0) } ?? .unreadable
        }
    }

    private enum Identified {
        case opened(MaxMindDatabase)
        case notConfigured
        case unreadable
    }

    private static func dataIdentity(_ identify: (MaxMindDatabase.Kind) -> Identified) -> String {
        MaxMindDatabase.Kind.allCases.map { kind in
            let identity =
                switch identify(kind) {
                case .opened(let database): "\(database.databaseType)@\(database.buildEpoch)"
                case .notConfigured: "none"
                case .unreadable: "unreadable"
                }
            return "\(kind.rawValue)=\(identity)"
        }.joined(separator: ";")
    }
}
