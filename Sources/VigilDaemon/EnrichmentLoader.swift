import Logging
import VigilCore
import VigilGeo

/// Opens the configured MaxMind databases and reputation lists. Startup fails with the file and the
/// reason when any of them is missing or corrupt: running without enrichment would silently weaken
/// every decision.
public enum EnrichmentLoader {
    public struct Loaded: Sendable {
        public var enricher: Enricher
        /// Kept for hot swap (`reloadIfChanged`) and metrics.
        public var databases: GeoDatabases
    }

    public static func open(_ config: DaemonConfig, logger: Logger) throws -> Loaded {
        let databases = try GeoDatabases(settings: config.geo)
        let reputation = try ReputationTable.load(config.reputation)
        for kind in MaxMindDatabase.Kind.allCases {
            if let database = databases.database(kind) {
                logger.info(
                    "geo database opened",
                    metadata: [
                        "kind": "\(kind.rawValue)", "path": "\(database.path)", "type": "\(database.databaseType)",
                    ])
            } else {
                logger.notice("geo database not configured", metadata: ["kind": "\(kind.rawValue)"])
            }
        }
        return Loaded(enricher: Enricher(geo: databases, reputation: reputation), databases: databases)
    }
}
