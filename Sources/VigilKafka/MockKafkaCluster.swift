import Logging
import Synchronization

/// An in-process Kafka cluster (librdkafka's mock brokers) listening on loopback TCP, so tests,
/// `vigil demo` and external tools such as `kcat` can use it without a real Kafka.
/// Its methods are thread-safe: they only post requests to the mock cluster's own thread.
public final class MockKafkaCluster: Sendable {
    private let cluster: RdKafkaMockCluster
    /// Comma-separated `host:port` list for `bootstrap.servers`.
    public let bootstrapServers: String

    /// Brokers get ids 1...brokers.
    ///
    /// The process's open-file limit is raised first (`OpenFileLimit`): the mock aborts the whole
    /// process when it cannot open a socket for a broker's listener, which it does at creation and each
    /// time a broker goes down (the listener is closed and its port bound again at once).
    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        OpenFileLimit.raiseToHardLimit(logger: logger)
        cluster = try Self.listenerChanges.withLock { _ throws(KafkaError) in
            try RdKafkaMockCluster(brokers: brokers, logger: logger)
        }
        bootstrapServers = cluster.bootstrapServers
    }

    /// Held while brokers bind their listeners: a new cluster's brokers (each binds an ephemeral port) and a
    /// broker going down (the mock closes its listener and binds the same port again at once, and aborts the
    /// process when that bind fails). Seen once with the Kafka suites side by side: `Failed to bind mock
    /// broker socket to Address already in use`, then the abort. One way to get there is another cluster's
    /// broker being given the port in the instant it is free; in one process, this lock rules that out.
    /// Another is a child process being started (`startingChildProcess`).
    private static let listenerChanges = Mutex(())

    /// Runs `body`, the start of a child process, while no mock broker of this process binds or re-binds
    /// its listener. Between fork and exec a child holds a copy of every descriptor, close-on-exec ones
    /// included: a broker going down meanwhile closes its listener, but the child's copy keeps the port
    /// listening, the re-bind fails and the mock aborts the process. Seen: `Failed to bind mock broker
    /// socket to Address already in use`, the port listening with no process holding it a moment later
    /// (`PortHolders`), the child having exec'd by then. When the start returns, the child holds no copy
    /// (`PortHoldersTests.aStartedChildHoldsNoCopyOfAListener`).
    public static func startingChildProcess<Result, Failure: Error>(
        _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        try listenerChanges.withLock { _ throws(Failure) -> sending Result in try body() }
    }

    /// Creates `name` up front. Without it the mock brokers create a topic on first use with their
    /// default partition count, which a test of partitioning or rebalancing should not depend on.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1) throws(KafkaError) {
        try check(
            "create topic", cluster.createTopic(name, partitions: partitions, replicationFactor: replicationFactor))
    }

    /// Disconnects the broker and refuses new connections (no leader change). The mock keeps the
    /// broker's port meanwhile: it binds it again at once, without listening.
    public func setBrokerDown(id: Int32) throws(KafkaError) {
        try check("broker down", Self.listenerChanges.withLock { _ in cluster.setBrokerDown(id: id) })
    }

    /// Lets the broker accept connections again after `setBrokerDown`; clients reconnect by themselves.
    public func setBrokerUp(id: Int32) throws(KafkaError) {
        try check("broker up", cluster.setBrokerUp(id: id))
    }

    /// Kafka protocol requests whose answers `failNextRequests` can replace, by API key.
    public enum Request: Int16, Sendable {
        /// A producer's write (API key 0): a refused one is not appended. A permanent code such as
        /// `MSG_SIZE_TOO_LARGE` fails the request's messages at once; librdkafka retries a retriable one itself.
        case produce = 0
        /// A group member's keep-alive (API key 12).
        case heartbeat = 12
        /// An idempotent producer's first request, for its producer id (API key 22);
        /// `CLUSTER_AUTHORIZATION_FAILED` here is a fatal error of the producer.
        case initProducerID = 22
    }

    /// Answers the next `count` `request`s, from any client, with `code` instead of handling them: how a
    /// test makes the brokers say what the mock never says by itself (e.g. `FENCED_INSTANCE_ID`, since
    /// librdkafka 2.0.2's mock ignores `group.instance.id`).
    public func failNextRequests(_ request: Request, with code: KafkaErrorCode, count: Int = 1) {
        cluster.pushRequestErrors(apiKey: request.rawValue, Array(repeating: code, count: count))
    }

    /// Forgets the failures `failNextRequests` queued for `request` that no request has met yet: the
    /// next ones are handled again. With a retriable code and a large count in between, e.g. every
    /// produce refused with `KafkaErrorCode.notEnoughReplicas`, producers keep retrying and their
    /// messages stay unacknowledged until this is called.
    public func clearRequestFailures(_ request: Request) {
        cluster.clearRequestErrors(apiKey: request.rawValue)
    }

    /// Moves the leadership of `topic`'s `partition` to `broker`, so that one broker's outage can
    /// hit some topics only (clients learn the leader from their next metadata request).
    public func setPartitionLeader(topic: String, partition: Int32, broker: Int32) throws(KafkaError) {
        try check("partition leader", cluster.setPartitionLeader(topic: topic, partition: partition, broker: broker))
    }

    /// Makes `broker` the coordinator of consumer group `group`.
    public func setGroupCoordinator(group: String, broker: Int32) throws(KafkaError) {
        try check("group coordinator", cluster.setGroupCoordinator(group: group, broker: broker))
    }

    private func check(_ operation: String, _ code: KafkaErrorCode?) throws(KafkaError) {
        if let code { throw .operationFailed(operation: operation, code: code) }
    }
}
