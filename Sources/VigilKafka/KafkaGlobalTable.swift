import Foundation
import Logging
import Synchronization

/// A compacted topic read whole into memory and kept up to date, like Kafka Streams' GlobalKTable: every
/// partition is assigned to a consumer of its own (no group membership, no commits, so every instance reads
/// everything and no rebalance ever moves it), read from the beginning, then followed for as long as the
/// table runs. librdkafka reconnects by itself after a broker outage; meanwhile the table keeps what it
/// has and `status` says why it does not advance.
///
/// Each record's key and value bytes go through the caller's `decodeKey` and `decodeValue` (the formats are
/// the caller's): a value replaces the key's entry, a tombstone (null value) removes it. A record either
/// closure rejects is counted (`KafkaGlobalTableStatus.recordsRejected`), logged and skipped: one bad record
/// must not stop the table.
///
/// Threading: `start` spawns the one thread that calls librdkafka (its calls block, so never Swift's
/// cooperative pool). `value(forKey:)` and `status` may be called from any thread at any time: the entries
/// sit in a dictionary behind a mutex, which a lookup holds for one hash lookup and the reader for one
/// batch's changes, decoded beforehand. A lock rather than an immutable snapshot swapped per batch: a
/// snapshot would copy the whole table for every change, while the lock costs lookups a few uncontended
/// atomic operations; the table is small (only sources above a threshold), so no batch holds it long.
/// `stop` blocks until the thread has ended (at most a poll timeout plus the client's destruction).
public final class KafkaGlobalTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    /// The topic read.
    public let topic: String
    private let entries = Mutex<[Key: Value]>([:])
    private let currentStatus = Mutex(KafkaGlobalTableStatus())
    private let stopRequested = Atomic(false)
    private let finished = DispatchSemaphore(value: 0)
    private let reader: Mutex<Reader<Key, Value>?>

    /// Prepares a reader of `topic`; nothing is read before `start`. The configuration supplies the
    /// connection properties. librdkafka assigns partitions only to a consumer with a `group.id`: the
    /// configuration's is kept (its ACLs cover it), or `vigil-global-table` is used, but the group is never
    /// joined and no offset is committed. `onUpdate` is called on the reader's thread after each batch of
    /// records and at least every `statusInterval` while nothing arrives (for metrics); it must not block.
    /// Throws only when librdkafka refuses the configuration.
    public init(
        configuration: KafkaConfiguration,
        topic: String,
        decodeKey: @escaping @Sendable ([UInt8]) throws -> Key,
        decodeValue: @escaping @Sendable (ArraySlice<UInt8>) throws -> Value,
        requestTimeout: Duration = .seconds(10),
        statusInterval: Duration = .seconds(1),
        logger: Logger,
        onUpdate: @escaping @Sendable (KafkaGlobalTableUpdate) -> Void = { _ in }
    ) throws(KafkaError) {
        var configuration = configuration.assigningReader(defaultGroupID: "vigil-global-table")
        // A fact's delay should be its trip, not a fetch left waiting on the broker: librdkafka's 500 ms
        // default can hold an idle partition's fetch that long (the mock cluster does), as the daemon's
        // consumer default says too.
        if configuration["fetch.wait.max.ms"] == nil { configuration["fetch.wait.max.ms"] = "10" }
        // Broker health for `status`, as the daemon's own clients report it.
        if configuration["statistics.interval.ms"] == nil { configuration["statistics.interval.ms"] = "1000" }
        if configuration["enable.sparse.connections"] == nil { configuration["enable.sparse.connections"] = "false" }
        let client = try RdKafkaClient(
            kind: .consumer, configuration: configuration, context: CallbackContext(logger: logger, onWarning: { _ in })
        )
        self.topic = topic
        reader = Mutex(
            Reader(
                client: client, topic: topic, decodeKey: decodeKey, decodeValue: decodeValue,
                requestTimeout: requestTimeout, statusInterval: statusInterval, logger: logger, onUpdate: onUpdate))
    }

    /// Starts reading on a thread of its own; a second call does nothing.
    public func start() {
        let taken = reader.withLock { reader in
            defer { reader = nil }
            return reader
        }
        guard let taken else { return }
        // The thread holds the reader's only lasting reference and drops it before it signals, so `stop`
        // returns once the client is destroyed.
        let slot = ReaderSlot(reader: taken)
        let thread = Thread { [self] in
            slot.reader?.run(self)
            slot.reader = nil
            finished.signal()
        }
        thread.name = "vigil-global-table"
        thread.start()
    }

    /// Asks the reader to stop and waits until its thread has ended and its client is destroyed; the
    /// entries stay readable. Call it off the cooperative pool; a table never started returns at once.
    public func stop() {
        guard !stopRequested.exchange(true, ordering: .relaxed) else { return }
        if reader.withLock({ $0 != nil }) { return }
        finished.wait()
    }

    /// The entry of `key`, nil when the table holds none; callable from any thread.
    public func value(forKey key: Key) -> Value? {
        entries.withLock { $0[key] }
    }

    /// What the reader has done so far; callable from any thread.
    public var status: KafkaGlobalTableStatus { currentStatus.withLock { $0 } }

    fileprivate var isStopRequested: Bool { stopRequested.load(ordering: .relaxed) }

    /// Applies decoded changes (nil: remove) and returns the number of entries.
    fileprivate func apply(_ changes: [(Key, Value?)]) -> Int {
        entries.withLock { entries in
            for (key, value) in changes { entries[key] = value }
            return entries.count
        }
    }

    fileprivate func updateStatus(_ body: (inout KafkaGlobalTableStatus) -> Void) -> KafkaGlobalTableStatus {
        currentStatus.withLock { status in
            body(&status)
            return status
        }
    }
}

/// What a ``KafkaGlobalTable`` has done so far.
public struct KafkaGlobalTableStatus: Sendable {
    /// Every partition has been read up to the end offset it had when the reader first learned it: the
    /// table holds at least everything written before the start (readiness). Stays true afterwards.
    public var isCaughtUp = false
    /// Records applied since start, tombstones included.
    public var recordsApplied = 0
    /// Records `decodeKey` or `decodeValue` rejected, skipped.
    public var recordsRejected = 0
    /// Entries in the table.
    public var entries = 0
    /// Records on the brokers not yet read, over all partitions, as of the latest fetch; nil before the
    /// first one.
    public var lag: Int64?
    /// Partitions of the topic; nil until its metadata was read.
    public var partitions: Int?
    /// Whether the reader's client reaches the brokers it needs (librdkafka's statistics); nil before the
    /// first statistics.
    public var brokerHealth: KafkaBrokerHealth?
    /// Why the reader cannot start reading yet (metadata or offsets not answered, topic missing) or has
    /// stopped (a fatal error); nil while all is well.
    public var problem: String?

    /// Nothing read yet.
    public init() {}
}

/// What ``KafkaGlobalTable`` reports after a batch of records, or after a quiet `statusInterval`.
public struct KafkaGlobalTableUpdate: Sendable {
    /// The status after the batch.
    public var status: KafkaGlobalTableStatus
    /// For each record of the batch applied with a timestamp: the time from its Kafka timestamp to its
    /// application (the propagation delay; zero when the clocks disagree the other way).
    public var delays: [Duration]

    /// `status` after a batch whose records took `delays` to arrive.
    public init(status: KafkaGlobalTableStatus, delays: [Duration]) {
        self.status = status
        self.delays = delays
    }
}

/// Carries the reader to its thread, which releases it when done.
private final class ReaderSlot<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    var reader: Reader<Key, Value>?

    init(reader: Reader<Key, Value>) { self.reader = reader }
}

/// The reader's side: everything used only on the reader's thread, carried there once by `start`.
private final class Reader<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    private let client: RdKafkaClient
    private let topic: String
    private let decodeKey: @Sendable ([UInt8]) throws -> Key
    private let decodeValue: @Sendable (ArraySlice<UInt8>) throws -> Value
    private let requestTimeout: Duration
    private let statusInterval: Duration
    private let logger: Logger
    private let onUpdate: @Sendable (KafkaGlobalTableUpdate) -> Void
    /// Per partition: the end offset learned at start, and the offset of the next record to apply.
    private var startEnds: [Int32: Int64] = [:]
    private var positions: [Int32: Int64] = [:]
    private var caughtUp = false
    private var rejectedTotal = 0

    init(
        client: RdKafkaClient, topic: String, decodeKey: @escaping @Sendable ([UInt8]) throws -> Key,
        decodeValue: @escaping @Sendable (ArraySlice<UInt8>) throws -> Value, requestTimeout: Duration,
        statusInterval: Duration, logger: Logger, onUpdate: @escaping @Sendable (KafkaGlobalTableUpdate) -> Void
    ) {
        self.client = client
        self.topic = topic
        self.decodeKey = decodeKey
        self.decodeValue = decodeValue
        self.requestTimeout = requestTimeout
        self.statusInterval = statusInterval
        self.logger = logger
        self.onUpdate = onUpdate
    }

    /// Learns the partitions and their end offsets (retrying until the brokers answer or the table
    /// stops), assigns every partition from its beginning, then applies records until stopped.
    func run(_ table: KafkaGlobalTable<Key, Value>) {
        guard assignEveryPartition(table) else { return }
        var lastReport = ContinuousClock.now
        while !table.isStopRequested {
            let batch = poll()
            if let fatal = client.fatalError() {
                logger.error("global table reader stopped", metadata: ["topic": "\(topic)", "error": "\(fatal)"])
                report(table, delays: []) { $0.problem = "\(fatal)" }
                return
            }
            guard
                !batch.changes.isEmpty || batch.rejected > 0 || batch.endReached
                    || ContinuousClock.now - lastReport >= statusInterval
            else { continue }
            let count = batch.changes.isEmpty ? nil : table.apply(batch.changes)
            let appliedAt = Int64(Date().timeIntervalSince1970 * 1000)
            let delays = batch.timestamps.map { Duration.milliseconds(max(0, appliedAt - $0)) }
            let lag = try? client.lag().reduce(Int64(0)) { $0 + ($1.lag ?? 0) }
            report(table, delays: delays) { status in
                status.recordsApplied += batch.changes.count
                status.recordsRejected += batch.rejected
                if let count { status.entries = count }
                status.lag = lag ?? status.lag
                status.isCaughtUp = caughtUp
            }
            lastReport = .now
        }
    }

    private func report(
        _ table: KafkaGlobalTable<Key, Value>, delays: [Duration], _ change: (inout KafkaGlobalTableStatus) -> Void
    ) {
        let health = client.context.brokerHealth
        let status = table.updateStatus { status in
            change(&status)
            status.brokerHealth = health
        }
        onUpdate(KafkaGlobalTableUpdate(status: status, delays: delays))
    }

    /// Retries every second until the topic's partitions and end offsets are known and assigned; false
    /// when the table was stopped first.
    private func assignEveryPartition(_ table: KafkaGlobalTable<Key, Value>) -> Bool {
        while !table.isStopRequested {
            do throws(KafkaError) {
                guard let count = try client.partitionCount(of: topic, timeout: requestTimeout) else {
                    retryLater(table, problem: "topic '\(topic)' does not exist")
                    continue
                }
                var starts: [(KafkaTopicPartition, Int64)] = []
                for partition in 0..<Int32(count) {
                    let topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
                    let (low, high) = try client.watermarks(of: topicPartition, timeout: requestTimeout)
                    startEnds[partition] = high
                    positions[partition] = low
                    starts.append((topicPartition, low))
                }
                if let code = client.assign(starts) { throw .operationFailed(operation: "assign", code: code) }
                caughtUp = startEnds.allSatisfy { positions[$0.key]! >= $0.value }
                logger.info(
                    "reading global table",
                    metadata: [
                        "topic": "\(topic)", "partitions": "\(count)",
                        "records_at_start": "\(startEnds.reduce(Int64(0)) { $0 + $1.value - positions[$1.key]! })",
                    ])
                report(table, delays: []) { status in
                    status.partitions = count
                    status.problem = nil
                    status.isCaughtUp = caughtUp
                }
                return true
            } catch {
                retryLater(table, problem: "\(error)")
            }
        }
        return false
    }

    private func retryLater(_ table: KafkaGlobalTable<Key, Value>, problem: String) {
        logger.warning(
            "global table not readable yet; retrying", metadata: ["topic": "\(topic)", "error": "\(problem)"])
        report(table, delays: []) { $0.problem = problem }
        Thread.sleep(forTimeInterval: 1)
    }

    /// One batch: what the next poll and the records already fetched hold, decoded.
    private struct Batch {
        var changes: [(Key, Value?)] = []
        /// The Kafka timestamps (milliseconds since the epoch) of the changes that have one.
        var timestamps: [Int64] = []
        var rejected = 0
        /// A partition reached its end (which may complete the catch-up).
        var endReached = false
    }

    private func poll() -> Batch {
        var batch = Batch()
        var wait: Int32 = 100
        while batch.changes.count + batch.rejected < 1000, let polled = client.consumerPoll(timeout: wait) {
            wait = 0
            switch polled {
            case .message(let message) where message.topic == topic:
                positions[message.partition] = message.offset + 1
                decode(message, into: &batch)
            case .message:
                break
            case .error(let code, _, let partition, let offset, _) where code == .partitionEnd:
                positions[partition] = max(positions[partition] ?? 0, offset)
                batch.endReached = true
            case .error:
                client.context.warn(about: polled)
            }
        }
        if !caughtUp { caughtUp = startEnds.allSatisfy { (positions[$0.key] ?? 0) >= $0.value } }
        return batch
    }

    private func decode(_ message: KafkaMessage, into batch: inout Batch) {
        do {
            let key = try decodeKey(message.key ?? [])
            batch.changes.append((key, message.isNullValue ? nil : try decodeValue(message.value)))
            if let timestamp = message.timestamp { batch.timestamps.append(timestamp) }
        } catch {
            batch.rejected += 1
            rejectedTotal += 1
            // The 1st, 10th, 100th... so that a topic full of foreign records cannot flood the log; the
            // status counts them all.
            guard String(rejectedTotal).dropFirst().allSatisfy({ $0 == "0" }), String(rejectedTotal).first == "1"
            else { return }
            logger.warning(
                "global table record skipped: it cannot be decoded",
                metadata: [
                    "topic": "\(topic)", "partition": "\(message.partition)", "offset": "\(message.offset)",
                    "error": "\(error)", "skipped_so_far": "\(rejectedTotal)",
                ])
        }
    }
}
