import Logging
import ServiceLifecycle
import VigilGeo

/// Checks the MaxMind files every `interval` and hot-swaps the ones that were replaced (MaxMind
/// publishes weekly; `geoipupdate` renames new files into place). A replacement that does not open
/// is logged and the database in force stays. Also publishes the lookup error count, which only
/// changes on the lookup path and is cheapest to sample here.
public struct GeoReloadService: Service {
    private let databases: GeoDatabases
    private let interval: Duration
    private let metrics: DaemonMetrics
    private let onDataReplaced: @Sendable (String) -> Void
    private let logger: Logger

    /// Checks the files of `databases` every `interval`, reporting lookup errors into `metrics`; after a
    /// swap, `onDataReplaced` gets the data's new identity (`GeoDatabases.dataIdentity`), which
    /// `policy_version` covers.
    public init(
        databases: GeoDatabases, interval: Duration, metrics: DaemonMetrics,
        onDataReplaced: @escaping @Sendable (String) -> Void, logger: Logger
    ) {
        self.databases = databases
        self.interval = interval
        self.metrics = metrics
        self.onDataReplaced = onDataReplaced
        self.logger = logger
    }

    /// Checks and swaps until cancelled or shut down gracefully.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while (try? await Task.sleep(for: interval)) != nil { check() }
        }
    }

    func check() {
        let results = databases.reloadIfChanged()
        if results.isEmpty { logger.trace("geo databases unchanged") }
        for result in results {
            let metadata: Logger.Metadata = ["kind": "\(result.kind.rawValue)", "path": "\(result.path)"]
            switch result.outcome {
            case .reloaded(let databaseType, let buildEpoch):
                logger.notice(
                    "geo database reloaded",
                    metadata: metadata.merging(["type": "\(databaseType)", "build_epoch": "\(buildEpoch)"]) { $1 })
            case .failed(let error):
                logger.error(
                    "geo database reload failed; the open database stays in force",
                    metadata: metadata.merging(["error": "\(error)"]) { $1 })
            }
        }
        if results.contains(where: { if case .reloaded = $0.outcome { true } else { false } }) {
            onDataReplaced(databases.dataIdentity)
        }
        metrics.recordGeoLookupErrors(total: databases.lookupErrors)
    }
}
