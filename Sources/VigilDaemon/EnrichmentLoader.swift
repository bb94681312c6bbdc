import Logging
import VigilCore
import VigilGeo

/// Opens the configured MaxMind databases and reputation lists. Startup fails with the file and the
/// reason when any of them is missing or corrupt: running without enrichment would silently weaken
/// every decision.
public enum EnrichmentLoader {
    struct Loaded: Sendable {
        var enricher: Enricher
        /// Kept for hot swap (`reloadIfChanged`) and metrics.
        var databases: GeoDatabases
    }

    static func open(_ config: DaemonConfig, logger: Logger) throws -> Loaded {
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

    /// What `open` would stop at, for `vigil check-config`: the geo databases' first problem (they open
    /// one after the other) and the reputation lists', each with its file and reason; empty when both
    /// open. A config that validates but names a missing file would otherwise pass the check and fail
    /// the start or the reload it was meant to make safe.
    public static func fileProblems(_ config: DaemonConfig) -> [String] {
        var problems: [String] = []
        do { _ = try GeoDatabases(settings: config.geo) } catch { problems.append("geo: \(error)") }
        do { _ = try ReputationTable.load(config.reputation) } catch { problems.append("reputation: \(error)") }
        return problems
    }
}
