import Logging

/// Reads one partition from a given offset (or its beginning) up to its end *as of the start of the
/// read*, without joining a consumer group: what restoring a state store from its changelog needs.
/// The end is the partition's high watermark, asked for before the first fetch, so records written
/// meanwhile (by the next owner, or by this process once it resumes) do not make the read endless.
/// The partition is assigned, never subscribed to, and no offset is ever committed, so reading
/// touches no group's offsets and triggers no rebalance.
///
/// Use: call `next` until it returns nil. Each call waits at most its `timeout`, so the caller can
/// check for cancellation (or shutdown) between calls and simply stop calling; the reader throws
/// ``KafkaError/partitionReadStalled(partition:position:endOffset:timeout:)`` when nothing at all
/// (no record, not the end) arrived for `stallTimeout`. Records come in offset order, tombstones
/// included (``KafkaMessage/isNullValue``).
///
/// Threading: not thread-safe, and `init` and `next` block: call them from one thread, off Swift's
/// cooperative pool (``onDedicatedThread(name:_:)``).
public final class KafkaPartitionReader {
    /// The partition being read.
    public let partition: KafkaTopicPartition
    /// The offset after the last record to read: the high watermark when the reader was created.
    public let endOffset: Int64
    /// The partition's first offset (its low watermark) when the reader was created: a start from
    /// below it lost records to retention or deletion, unless it is the partition's beginning.
    public let firstOffset: Int64
    /// How long `next` may go on receiving nothing before it throws.
    public let stallTimeout: Duration
    /// Records and bytes read so far, for restore metrics and progress reports.
    public private(set) var progress: KafkaReadProgress
    /// Nil when there was nothing to read from the start: no connection is opened then.
    private let client: RdKafkaClient?
    private var isAtEnd: Bool
    private var lastProgress = ContinuousClock.now

    /// Starts fetching from `startOffset`, or from the partition's first record when nil, up to the
    /// high watermark: `watermarks` when the caller already asked the leader for them (another
    /// client's ``KafkaConsumer/watermarks(of:timeout:)``), otherwise asked by this reader (bounded by
    /// `timeout`). A start below the first record (deleted or compacted away) starts at the first
    /// record. With nothing to read from the start and the watermarks given, no client is created: a
    /// consumer client is threads and connections, and a restore of many empty changelog partitions
    /// would otherwise open and close one per partition. The configuration supplies the connection
    /// properties. librdkafka assigns partitions only to a consumer with a `group.id`: the
    /// configuration's is kept (its ACLs cover it), or `vigil-partition-reader` is used, but the group
    /// is never joined and offset commits are disabled, so its members and offsets are untouched.
    public init(
        configuration: KafkaConfiguration,
        partition: KafkaTopicPartition,
        from startOffset: Int64? = nil,
        watermarks: (low: Int64, high: Int64)? = nil,
        timeout: Duration = .seconds(30),
        stallTimeout: Duration = .seconds(60),
        logger: Logger,
        onWarning: @escaping (KafkaWarning) -> Void = { _ in }
    ) throws(KafkaError) {
        func openClient() throws(KafkaError) -> RdKafkaClient {
            try RdKafkaClient(
                kind: .consumer, configuration: configuration.assigningReader(defaultGroupID: "vigil-partition-reader"),
                context: CallbackContext(logger: logger, onWarning: onWarning))
        }
        var client: RdKafkaClient?
        let (low, high): (Int64, Int64)
        if let watermarks {
            (low, high) = watermarks
        } else {
            let opened = try openClient()
            (low, high) = try opened.watermarks(of: partition, timeout: timeout)
            client = opened
        }
        self.partition = partition
        self.stallTimeout = stallTimeout
        let start = max(startOffset ?? low, low)
        endOffset = high
        firstOffset = low
        progress = KafkaReadProgress(records: 0, bytes: 0, position: start)
        isAtEnd = start >= high
        if !isAtEnd, client == nil { client = try openClient() }
        self.client = client
        guard let client, !isAtEnd else { return }
        if let code = client.assign([(partition, start)]) { throw .operationFailed(operation: "assign", code: code) }
    }

    /// The next records, at most `maxMessages`, waiting up to `timeout` for the first of them and
    /// taking what else is already fetched; empty when nothing arrived in time, nil once the end is
    /// reached (every record below `endOffset` was returned).
    public func next(maxMessages: Int, timeout: Duration) throws(KafkaError) -> [KafkaMessage]? {
        guard !isAtEnd, let client else { return nil }
        var batch: [KafkaMessage] = []
        var wait = timeout.kafkaMilliseconds
        while batch.count < maxMessages, !isAtEnd, let polled = client.consumerPoll(timeout: wait) {
            wait = 0
            switch polled {
            case let .message(message) where message.topicPartition == partition:
                if message.offset < endOffset {
                    batch.append(message)
                    progress.records += 1
                    progress.bytes += message.keyAndValueByteCount
                    progress.position = message.offset + 1
                }
                isAtEnd = message.offset + 1 >= endOffset
            case .message:
                break
            case let .error(code, _, _, offset, _) where code == .partitionEnd:
                // Everything the leader had when it answered was read; its high watermark is at
                // least `endOffset`, so whatever lies beyond belongs to a later read.
                progress.position = max(progress.position, min(offset, endOffset))
                isAtEnd = true
            case .error:
                client.context.warn(about: polled)
            }
        }
        if let fatal = client.fatalError() { throw fatal }
        let now = ContinuousClock.now
        if !batch.isEmpty || isAtEnd {
            lastProgress = now
        } else if now - lastProgress > stallTimeout {
            throw .partitionReadStalled(
                partition: partition, position: progress.position, endOffset: endOffset, timeout: stallTimeout)
        }
        return batch.isEmpty && isAtEnd ? nil : batch
    }
}

/// How far a ``KafkaPartitionReader`` got.
public struct KafkaReadProgress: Sendable, Hashable {
    /// Records returned so far, tombstones included.
    public internal(set) var records: Int
    /// Key and value bytes of those records.
    public internal(set) var bytes: Int
    /// The offset the next record will have (after compaction gaps: at least that).
    public internal(set) var position: Int64
}
