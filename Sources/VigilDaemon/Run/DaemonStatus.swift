import Synchronization
import VigilCore

/// What the running daemon knows about itself, shared between the Kafka thread (which writes it once
/// per batch, never per event) and the HTTP endpoints and logs (which read snapshots). One lock, held
/// only to copy values.
public final class DaemonStatus: Sendable {
    public struct Snapshot: Sendable {
        /// Kafka reachable, partitions assigned, config and databases loaded.
        public var ready = false
        public var notReadyReason: String? = "starting"
        /// Totals over all shards since start.
        public var stats = PipelineStats()
        /// State sizes and global windows, summed over shards.
        public var state = StateFigures()
        /// Max event time seen minus now, per partition, in seconds (how far behind real time).
        public var eventTimeLagSeconds: Double = 0
        /// High watermark minus committed offset, summed over assigned partitions.
        public var consumerLag: Int64 = 0
        public var assignedPartitions: [String] = []
        /// The producer's local queue is full: consumption is paused until outputs drain.
        public var producerBackpressure = false
        public var producerBackpressureEpisodes = 0
        public var policyVersion = ""
        public var configReloadsSucceeded = 0
        public var configReloadsFailed = 0
        public var lastReloadError: String?
        public var geoLookupErrors = 0
        /// Processing latency (message received → all outputs acknowledged), cumulative histogram.
        public var latencyBucketsSeconds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
        public var latencyCounts: [Int] = Array(repeating: 0, count: 11)
        public var latencySum: Double = 0
        public var latencyCount = 0

        public init() {}

        public mutating func observeLatency(_ seconds: Double) {
            var index = latencyBucketsSeconds.count
            for (i, bound) in latencyBucketsSeconds.enumerated() where seconds <= bound {
                index = i
                break
            }
            latencyCounts[index] += 1
            latencySum += seconds
            latencyCount += 1
        }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func update(_ body: (inout Snapshot) -> Void) {
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
    public func take() -> LoadedConfig? { pending.withLock { value in defer { value = nil }; return value } }
}
