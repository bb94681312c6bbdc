import Synchronization
import VigilCore

/// What the running daemon knows about itself, shared between the Kafka thread (which writes it once
/// per batch, never per event) and `/readyz`, the config reloader and the demo (which read snapshots).
/// One lock, held only to copy values. The metrics live in `DaemonMetrics`.
public final class DaemonStatus: Sendable {
    /// A copy of what the daemon knows about itself, as `/readyz`, the reloader and the demo read it.
    public struct Snapshot: Sendable {
        /// Kafka reachable, partitions assigned, config and databases loaded.
        public var ready = false
        /// Why the daemon is not ready, for `/readyz`'s body; nil once it is.
        public var notReadyReason: String? = "starting"
        /// Totals over all shards since start.
        public var stats = PipelineStats()
        /// `topic/partition` of each partition assigned to this instance.
        public var assignedPartitions: [String] = []
        /// The problems of the last refused reload; nil after a good one.
        public var lastReloadError: String?

        /// The state at startup: not ready, nothing counted.
        public init() {}
    }

    private let state = Mutex(Snapshot())

    /// A status at startup.
    public init() {}

    /// A consistent copy of the whole status.
    public var snapshot: Snapshot { state.withLock { $0 } }

    /// Changes the status under the lock and returns what `body` returns; keep `body` short (no I/O),
    /// readers wait for it.
    @discardableResult
    public func update<Result>(_ body: (inout Snapshot) -> Result) -> Result {
        state.withLock { body(&$0) }
    }
}

/// Hands a validated new configuration from the reload service to the Kafka thread, which adopts it
/// between two events. Only the newest pending config matters.
public final class ConfigMailbox: Sendable {
    private let pending = Mutex<LoadedConfig?>(nil)

    /// An empty mailbox.
    public init() {}

    /// Leaves `config` for the Kafka thread, replacing one it has not taken yet.
    public func post(_ config: LoadedConfig) { pending.withLock { $0 = config } }

    /// The config posted since the last call, if any.
    public func take() -> LoadedConfig? {
        pending.withLock { value in
            defer { value = nil }
            return value
        }
    }
}
