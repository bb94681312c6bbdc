import VigilCore

// The `geo` and `reputation` sections of the config file, as values. They live here, beside the code that
// opens the files they name, so VigilGeo needs nothing from the daemon; the daemon declares how they are
// written in the file (`DaemonConfig.settings`).

/// MaxMind database files. Any of them may be absent: enrichment then reports nothing for that part.
public struct GeoSettings: Sendable, Equatable {
    /// GeoIP2/GeoLite2 City (or Country) database.
    public var cityDatabase: String?
    /// GeoLite2 ASN database.
    public var asnDatabase: String?
    /// GeoIP2 Anonymous IP database (optional product).
    public var anonymousDatabase: String?
    /// Entries in the lookup cache (0 disables it).
    public var cacheEntries = 65_536
    /// How often the daemon checks the files for replacement on disk.
    public var reloadCheckInterval = EventDuration.seconds(30)

    /// No databases: every lookup gives `IPIntelligence.unknown`.
    public init() {}
}

/// The operator's own reputation data.
public struct ReputationSettings: Sendable, Equatable {
    /// ASN → category.
    public var asnCategories: [UInt32: String] = [:]
    /// Files with one CIDR per line (`#` comments), each mapped to a category.
    public var cidrLists: [CIDRList] = []

    /// One CIDR list file and the category its networks get.
    public struct CIDRList: Sendable, Equatable {
        /// The file; relative paths are resolved against the config file's directory when it is loaded.
        public var path: String
        /// What a match is reported as (`vpn`, `tor`, `bad`, ...).
        public var category: String
        /// The list at `path`, reporting `category`.
        public init(path: String, category: String) {
            self.path = path
            self.category = category
        }
    }

    /// No reputation data: no address matches anything.
    public init() {}
}
