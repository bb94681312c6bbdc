import Synchronization
import VigilCore

/// What the running daemon knows about itself, shared between the Kafka thread (which writes it once
/// per batch, never per event) and `/readyz`, the config reloader and the demo (which read snapshots).
/// One lock, held only to copy values. The metrics live in `DaemonMetrics`.
public final class DaemonStatus: Sendable {
    public struct Snapshot: Sendable {
        /// Kafka reachable, partitions assigned, config and databases loaded.
        public var ready = false
        public var notReadyReason: String? = "starting"
        /// Totals over all shards since start.
        public var stats = PipelineStats()
        public var assignedPartitions: [String] = []
        public var lastReloadError: String?

        public init() {}
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    @discardableResult
    public func update<Result>(_ body: (inout Snapshot) -> Result) -> Result {
        state.withLock { body(&$0) }
    }
}

/// Hands a validated new configuration from the reload service to the Kafka thread, which adopts it
/// between two events. Only the newest pending config matters.
public final class ConfigMailbox: Sendable {
    private let pending = Mutex<LoadedConfig?>(nil)

    public init() {}

    public func post(_ config: LoadedConfig) { pending.withLock { $0 = config } }

    /// The config posted since the last call, if any.
    public func take() -> LoadedConfig? {
        pending.withLock { value in
            defer { value = nil }
            return value
        }
    }
}
