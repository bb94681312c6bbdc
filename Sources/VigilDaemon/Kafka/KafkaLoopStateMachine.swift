import VigilCore
import VigilKafka

/// Every decision of the Kafka loop, as a value: which partitions are assigned, which outputs await
/// their delivery report, which input offsets may be stored (at least once), backpressure, readiness,
/// the revocation drain and the shutdown sequence with its deadline. It performs no I/O and reads no
/// clock: `KafkaLoop` (the driver) feeds it events with the time since the loop started, performs the
/// actions it returns, in order, and reports their results as further events. So rebalance,
/// backpressure and shutdown are tested without a broker (`KafkaLoopStateMachineTests`).
///
/// The stages' step stays the driver's: between `inputArrived` and `inputProcessed` it runs the message
/// through the partition's shard. Partitions of `Changelog.statelessTopics` (the decode stage's input
/// topics) keep no state: no restore, no flush, offsets stored once their outputs are acknowledged.
///
/// The revocation commit, and its retry while an eager-protocol group rejects it, is `KafkaConsumer`'s:
/// it runs right after the rebalance callback returns, on what the machine stored during it.
///
/// With the changelog on (`Configuration.changelog`), each partition is first *restoring* (paused,
/// its shard rebuilt from the local snapshot and the changelog in bounded steps, one per batch), then
/// *running*. Its state changes are captured as flushes (every flush interval and at drains) whose
/// records are produced only once every output of the inputs they reflect is acknowledged (outputs
/// before changelog), and an input offset is stored only once a fully acknowledged flush covers it.
/// So after a crash every input the changelog reflects already had its outputs delivered, and inputs
/// after the stored offset are processed again for their outputs only (the engine's replay guard).
///
/// A revocation that is not a loss keeps a cleanly drained partition's shard *suspended* (as Kafka
/// Streams keeps a task's store), with the changelog offset of its last acknowledged checkpoint: the
/// eager protocol revokes every partition on each rebalance and assigns most of them right back. If
/// the assignment that follows brings the partition back and nobody wrote to its changelog partition
/// since (its end is still just past that checkpoint), the shard is used again without a restore;
/// otherwise, and for a partition not brought back, it is dropped.
struct KafkaLoopStateMachine {
    typealias Token = UInt64

    struct Configuration {
        var batchSize: Int
        var pollTimeout: Duration
        /// How long to wait for delivery reports before each batch under backpressure: they free the
        /// producer's queue, so they are what the loop waits for then.
        var backpressureReportWait = Duration.milliseconds(50)
        /// Produce attempts for an output whose delivery failed non-fatally, before the loop fails.
        var maxDeliveryAttempts: Int
        /// How long the producer's queue may stay full with no output delivered or enqueued before the
        /// loop fails; nil waits forever.
        var maxProducerStall: Duration?
        /// Producer queue depth at or below which backpressure ends, so one batch does not fill it again.
        var resumeBelow: Int
        /// The whole shutdown's deadline (`kafka.shutdown_timeout`): the drain of outstanding outputs
        /// may take three quarters of it, the final commit and the group leave share the rest.
        var shutdownTimeout: Duration
        /// How long outputs may stay outstanding with none acknowledged before the daemon is not ready
        /// (a whole producer request timeout: some request went unanswered); nil: never.
        var deliveryStallLimit: Duration?
        /// The longest drain on a revocation: the whole group waits for this member meanwhile.
        var revocationDrainLimit = Duration.seconds(10)
        /// One flush of a drain, so that a drain notices its deadline.
        var drainStep = Duration.milliseconds(200)
        /// The changelog's settings; nil when it is off (state lives only in the process).
        var changelog: Changelog?
        /// Restores running at once; the other restoring partitions wait, paused. Each restore reads
        /// a changelog partition with its own fetch queue, so this bounds the memory and the broker
        /// load of a large assignment.
        var maxConcurrentRestores = 2
    }

    /// How the loop keeps state durable (the `state:` settings it needs).
    struct Changelog {
        /// The changelog topic; input partition p's state lives in its partition p.
        var topic: String
        /// The changelog topic's partition count, known once the topic is set up: an input partition
        /// at or beyond it has nowhere to keep its state.
        var partitions = Int.max
        /// How often changed state is captured and written (`state.flush_interval`).
        var flushInterval: Duration
        /// How often a partition's flush also captures a local snapshot; nil: never
        /// (`state.snapshot_interval: 0`).
        var snapshotInterval: Duration?
        /// Topics whose partitions hold no state (the decode stage's input topics, when the user stage
        /// reads a repartition topic): nothing to restore or flush, no changelog partition needed, and
        /// an input offset is stored as soon as its outputs are acknowledged.
        var statelessTopics: Set<String> = []
    }

    /// What the outbox holds: an output of an input, or a changelog record for an explicit partition.
    enum Outgoing: Equatable {
        case output(Output)
        /// A record for the changelog topic's `partition` (the input partition whose state it holds).
        case changelog(partition: Int32, ChangelogRecord)
    }

    /// One output on its way to a topic, kept whole so that a failed delivery can be produced again.
    struct Output: Equatable {
        var topic: String
        /// The partition, when the record chooses it (a stage record's, by Kafka's default partitioner
        /// over the stage's N); nil lets the producer follow the key.
        var partition: Int32?
        /// A text key (a decision's or alert's user id).
        var key: String?
        /// A binary key, for a record whose key is not text (a source-risk fact's); wins over `key`.
        var binaryKey: [UInt8]?
        /// The record value; nil is a tombstone (a source-risk fact withdrawn).
        var payload: [UInt8]?
        var headers: [KafkaHeader]
        /// What its delivery counts as in `deliveredOutputs`; nil for a record between stages (a stage
        /// record, a source-risk fact), which counts as no output.
        var kind: DeliveredOutputs.Kind?

        init(
            topic: String, partition: Int32? = nil, key: String?, binaryKey: [UInt8]? = nil, payload: [UInt8]?,
            headers: [KafkaHeader], kind: DeliveredOutputs.Kind?
        ) {
            self.topic = topic
            self.partition = partition
            self.key = key
            self.binaryKey = binaryKey
            self.payload = payload
            self.headers = headers
            self.kind = kind
        }

        /// A record between stages is never produced again after a failed delivery: behind the records
        /// produced since, it would reorder its partition, whose order a stage applies events in. Its
        /// failure fails the loop instead, and the input is consumed again after the restart.
        var isRetriable: Bool { kind != nil }
    }

    enum DeliveryOutcome: Equatable {
        /// Acknowledged at `offset` of its partition (a checkpoint record's offset locates a snapshot).
        case delivered(offset: Int64)
        case failed(reason: String, isFatal: Bool)
    }

    enum Readiness: Equatable {
        case ready
        case notReady(String)
    }

    /// What the driver publishes after each batch (readiness, backpressure gauges).
    struct Status: Equatable {
        var readiness: Readiness
        var backpressureActive: Bool
        var backpressureEpisodes: Int
    }

    enum LoopError: Error, Equatable, CustomStringConvertible {
        case deliveryFailed(topic: String, attempts: Int, reason: String)
        /// A record between stages (`Output.isRetriable`) was not delivered: never produced again.
        case stageRecordDeliveryFailed(topic: String, reason: String)
        case producerStalled(Duration, waiting: Int)
        case produceFailed(reason: String)
        case finalCommitFailed(reason: String)
        /// The shutdown drain ended with outputs unacknowledged (timed out or a delivery failed).
        case shutdownDrainFailed(reason: String)
        /// A changelog record was not written: producing it again could reorder the partition's
        /// records, which compaction would turn into wrong state, so the loop stops instead.
        case changelogDeliveryFailed(topic: String, partition: Int32, reason: String)
        case restoreFailed(KafkaTopicPartition, reason: String)
        /// An input topic grew past the changelog's partition count while the loop ran.
        case partitionBeyondChangelog(KafkaTopicPartition, changelogTopic: String, changelogPartitions: Int)
        /// Consumption of a restored partition could not be resumed: it would stay paused while ready.
        case resumeFailed(KafkaTopicPartition, reason: String)
        var description: String {
            switch self {
            case let .deliveryFailed(topic, attempts, reason):
                "delivery to \(topic) failed \(attempts) times, last: \(reason)"
            case let .stageRecordDeliveryFailed(topic, reason):
                "delivery of a stage record to \(topic) failed: \(reason); it is not produced again (behind later "
                    + "records it would reorder its partition): the inputs after the last committed offset are "
                    + "consumed again at the next start"
            case let .producerStalled(duration, waiting):
                "the producer queue stayed full for \(duration) without any progress (\(waiting) outputs waiting)"
            case let .produceFailed(reason):
                "producing an output failed: \(reason)"
            case let .finalCommitFailed(reason):
                "the final offset commit failed: \(reason); inputs after the last commit will be consumed again"
            case let .shutdownDrainFailed(reason):
                "the shutdown drain did not finish: \(reason); their inputs will be consumed again"
            case let .changelogDeliveryFailed(topic, partition, reason):
                "writing state to the changelog \(topic)[\(partition)] failed: \(reason); inputs after the last "
                    + "committed offset will be consumed again after a restart"
            case let .restoreFailed(partition, reason):
                "restoring the state of \(partition) failed: \(reason)"
            case let .partitionBeyondChangelog(partition, changelogTopic, changelogPartitions):
                "input partition \(partition) has no changelog partition: changelog topic '\(changelogTopic)' has "
                    + "\(changelogPartitions) partitions, fewer than input topic '\(partition.topic)' has now (it "
                    + "grew), and input partition p keeps its state in changelog partition p. Add partitions to "
                    + "'\(changelogTopic)' so it has as many as the largest input topic, then start Vigil again; "
                    + "users whose keys moved to other partitions when the input grew are learned again"
            case let .resumeFailed(partition, reason):
                "could not resume consuming \(partition) after restoring its state: \(reason)"
            }
        }
    }

    /// A partition whose processed inputs may not all be committed at shutdown: `lastProcessed` is its
    /// last input processed, `stored` the last one handed to the consumer's store (nil: none).
    struct Uncommitted: Equatable {
        var partition: KafkaTopicPartition
        var lastProcessed: Int64
        var stored: Int64?
    }

    /// Where a partition's changelog stands: the offset of its last acknowledged checkpoint record,
    /// and the stamp of the input its state reflects (the last fully acknowledged flush's).
    struct Checkpoint: Equatable {
        var changelogOffset: Int64
        var stamp: Int64
    }

    enum Action: Equatable {
        /// Reconfigure every shard with the configuration the driver took from the mailbox.
        case applyConfig(policyVersion: String)
        /// Serve the producer's delivery reports, waiting up to `timeout`; report them with `delivered`.
        case pollDeliveries(timeout: Duration)
        /// Poll the consumer; report each message with `inputArrived`/`inputProcessed`, then `polled`.
        case poll(maxMessages: Int, timeout: Duration)
        /// Create the shard of a newly owned partition.
        case openShard(KafkaTopicPartition)
        /// Drop the shard of a partition no longer owned (and a suspended one of it, if any),
        /// keeping its counts in the totals.
        case retireShard(KafkaTopicPartition)
        /// Keep the shard of a revoked partition, drained and fully flushed, aside (its counts
        /// still in the totals) in case the next assignment brings the partition back.
        case suspendShard(KafkaTopicPartition)
        /// A re-assigned partition has a suspended shard: use it again when the changelog partition
        /// ends just after `checkpoint`'s record (nobody wrote since), guarding the input through its
        /// stamp; report with `suspendedShardChecked`.
        case checkSuspendedShard(KafkaTopicPartition, Checkpoint)
        /// Produce the outbox in order with `nextOutput` and `outputSent`, stopping at a full queue.
        case send
        /// Log that a failed delivery is produced again (its output is back in the outbox).
        case retryDelivery(topic: String, attempt: Int, reason: String)
        /// Pause all assigned partitions (nil) because the producer's queue is full, or the listed newly
        /// assigned ones (a full queue, or their state to restore first).
        case pause([KafkaTopicPartition]?, waitingOutputs: Int)
        /// Resume the listed partitions: the producer's queue has room again after `pausedFor`, or
        /// (nil) their restore finished. Partitions still restoring are never listed.
        case resume([KafkaTopicPartition], pausedFor: Duration?)
        /// Open the local snapshot and the changelog of a restoring partition; report a failure with
        /// `restoreFailed`.
        case beginRestore(KafkaTopicPartition)
        /// Apply one bounded step of changelog records; report with `restoreProgressed` or `restoreFailed`.
        case restoreStep(KafkaTopicPartition)
        /// Restores wait for a slot: perform `restoresToBegin` until it returns nothing (or the driver's
        /// time budget for the batch ends), so that slots the batch's steps freed are taken in the same
        /// batch. A changelog partition with nothing to
        /// read finishes in its first step, and hundreds of them (a partition per stage topic) would
        /// otherwise take one batch per slot, while the stages behind them wait.
        case refillRestoreSlots
        /// Move the partition's fetch position back to `offset`: a message fetched while it restored.
        case seek(KafkaTopicPartition, offset: Int64)
        /// Take the partition's changed state as a flush stamped `stamp` (and with `withSnapshot`, its
        /// whole state as a snapshot); report with `changelogCaptured`.
        case captureChangelog(KafkaTopicPartition, stamp: Int64, withSnapshot: Bool)
        /// Write a local snapshot (off the loop thread): its flush is acknowledged, and its checkpoint
        /// record sits at `changelogOffset`.
        case writeSnapshot(KafkaTopicPartition, stamp: Int64, changelogOffset: Int64, state: [UInt8])
        /// Snapshot the state a restore left, which reflects exactly `checkpoint` (no input changed it
        /// since), and write it; report with `restoredStateSnapshotted`.
        case snapshotRestoredState(KafkaTopicPartition, Checkpoint)
        /// Wait up to `timeout` for the snapshot writes still running.
        case awaitSnapshotWrites(timeout: Duration)
        /// Continue the current batch: `batchEnded` with the producer's queue depth.
        case endBatch
        /// Record end-to-end latencies of inputs whose outputs are all acknowledged.
        case recordLatencies([Duration])
        /// Store this input offset (the consumer commits the next one); report a failure with `storeFailed`.
        case storeOffset(KafkaTopicPartition, Int64)
        case publishStatus(Status)
        /// Log the start of shutdown with the outputs still unacknowledged.
        case beginShutdown(outstandingOutputs: Int)
        /// Flush the producer up to `timeout`; report the delivery reports with `drained`.
        case flush(timeout: Duration)
        /// A drain gave up on a failed delivery: its input is consumed again.
        case abandonDrain(LoopError)
        /// A drain ran out of time with outputs unacknowledged: their inputs are consumed again.
        case drainTimedOut(outstandingOutputs: Int)
        /// Commit the stored offsets within what is left of the shutdown deadline
        /// (`remainingShutdownTime`, half of it: the close needs the rest); report with `committed`.
        case commit
        /// The final commit failed or the drain left outputs unacknowledged: say, per partition, what
        /// stays uncommitted (the driver adds the committed offsets it knows).
        case reportUncommitted([Uncommitted])
        /// Leave the group within what is left of the shutdown deadline (the consumer's final
        /// revocation comes back through `revoked`); report with `closed`.
        case close
        /// The loop is over: nil ends it cleanly, an error ends it with a failure (non-zero exit).
        case finish(LoopError?)
        /// A fatal error: stop without flushing (stored offsets cover only delivered inputs).
        case fail(LoopError)
    }

    private enum Phase: Equatable {
        case running
        /// Waiting for outstanding outputs, until `deadline`, before giving up partitions or stopping.
        case draining(DrainPurpose, deadline: Duration)
        case committing
        case closing
        case finished
    }

    private enum DrainPurpose: Equatable {
        case revocation([KafkaTopicPartition])
        case shutdown
    }

    /// One owned partition. A revoked and re-assigned partition gets a new generation: delivery
    /// reports for outputs of the old one are recognised by it and ignored.
    private struct Partition {
        var generation: UInt64
        var progress = InputProgress()
        /// Set while its state is restored: it stays paused and its messages are not processed.
        var restore: Restore?
        /// The offset of the last input processed: the stamp of its next flush.
        var lastProcessed: Int64?
        /// The stamp of the latest flush captured.
        var lastCaptured: Int64?
        /// Captured flushes not yet fully acknowledged, in order.
        var flushes: [Flush] = []
        /// When its latest snapshot was captured (or its restore ended).
        var snapshotAt = Duration.zero
        /// The stamp of its latest snapshot captured.
        var snapshotStamp: Int64?
        /// Its last acknowledged checkpoint, once a flush of this ownership wrote one (or carried
        /// over with a kept shard).
        var checkpoint: Checkpoint?
    }

    private struct Restore {
        /// A shard suspended at the revocation before, to check before anything is restored.
        var suspended: Checkpoint?
        var begun = false
        var records = 0
        /// The first message fetched before the restore ended (prefetched): consumed again from there.
        var heldOffset: Int64?
    }

    /// A flush of one partition, stamped with the last input it reflects.
    private struct Flush {
        var id: UInt64
        var stamp: Int64
        /// Its records until they enter the outbox (once the outputs of inputs through `stamp` are
        /// acknowledged); nil afterwards.
        var records: [ChangelogRecord]?
        /// Records produced whose delivery is not reported yet.
        var unacknowledged = 0
        /// The flush's checkpoint, held back until every earlier changelog record of its partition is
        /// acknowledged: librdkafka's idempotent producer drops messages that timed out and goes on
        /// with later ones, so a checkpoint produced with them could land after a lost record.
        var heldCheckpoint: ChangelogRecord?
        var snapshot: [UInt8]?
        /// The offset of its last record (the checkpoint), once delivered.
        var checkpointOffset: Int64?
    }

    /// One produced output awaiting its delivery report.
    private struct PendingOutput {
        var partition: KafkaTopicPartition
        var generation: UInt64
        var kind: Kind
        var attempts: Int

        enum Kind {
            /// An output of the input `input` tracked in its partition's `InputProgress`.
            case output(Output, input: InputProgress.Ticket)
            /// A changelog record of the flush `flush`; `isLast`: its checkpoint.
            case changelog(ChangelogRecord, flush: UInt64, isLast: Bool)
        }
    }

    private var configuration: Configuration
    private var phase = Phase.running
    /// Read and changed in place (`withPartition`): a `Partition` copied out and written back would
    /// copy its collections at their first change, once per partition and batch.
    private var partitions: [KafkaTopicPartition: Partition] = [:]
    /// The partitions currently owned, in a stable order (the order of the actions about them).
    private(set) var assignedPartitions: [KafkaTopicPartition] = []
    /// Where `withPartition` last found a partition: delivery reports and changelog records come in
    /// runs of one partition, so most lookups repeat the last one and skip hashing its topic. Reset
    /// whenever a partition is added or removed (which invalidates dictionary indices).
    private var lastFound: (partition: KafkaTopicPartition, index: [KafkaTopicPartition: Partition].Index)?
    private var nextGeneration: UInt64 = 1
    private var pending: [Token: PendingOutput] = [:]
    /// Outputs acknowledged since the loop started: what the metrics count, rather than outputs produced.
    private(set) var deliveredOutputs = DeliveredOutputs()
    private var nextToken: Token = 1
    /// Outputs not yet accepted by the producer, in order. While any wait behind a full queue,
    /// consumption is paused (backpressure) and new outputs queue up behind them (per-key order).
    private var outbox: [Token] = []
    private var outboxHead = 0
    private var backpressureSince: Duration?
    /// The latest delivery report or enqueue under backpressure, for the stall limit.
    private var lastProgress = Duration.zero
    private var backpressureEpisodes = 0
    /// What the driver last saw of the consumer's and the producer's brokers; nil: not known yet.
    private var inputHealth: KafkaBrokerHealth?
    private var outputHealth: KafkaBrokerHealth?
    /// The reason of the latest failed delivery, until a delivery succeeds again.
    private var deliveryFailure: String?
    /// Since when outputs have been outstanding without any acknowledged (nil: none outstanding).
    private var unacknowledgedSince: Duration?
    /// Set at a batch's end while `unacknowledgedSince` is older than the stall limit: for how long.
    private var deliveryStalledFor: Duration?
    /// Why the shutdown drain did not finish, for the exit status and the uncommitted report.
    private var shutdownDrainFailure: String?
    /// Set by the first assignment: a member of the group may legitimately own no partition.
    private var joinedGroup = false
    private var finalCommitFailure: String?
    /// A produce call failed during the current drain: it ends at its next step.
    private var drainFailure: String?
    /// When flushes were last captured.
    private var lastFlush = Duration.zero
    /// Partitions that took a flush and may still hold it (some of them no longer do): the end of a
    /// batch releases the flushes of these only. Most of the time, between a flush's acknowledgement and
    /// the next flush, none has one, and hundreds of partitions would be looked at for nothing.
    private var partitionsWithFlushes: Set<KafkaTopicPartition> = []
    /// Captures asked for and not reported yet: a drain waits for them.
    private var capturesAwaited = 0
    private var nextFlushID: UInt64 = 1
    /// Shards kept at the latest revocation, until the assignment that follows.
    private var suspended: [KafkaTopicPartition: Checkpoint] = [:]
    /// Changelog records awaiting their delivery report (or their drop from the outbox), of every
    /// generation, per input partition whose state they hold (their scope in the changelog partition).
    private var changelogInFlight: [KafkaTopicPartition: ChangelogInFlight] = [:]
    /// Partitions one of whose changelog records was lost: no checkpoint of theirs is produced again
    /// (it would vouch for the lost record) until a new restore reads the changelog as it is.
    private var changelogLost: Set<KafkaTopicPartition> = []
    /// When the shutdown drain must be over: the whole shutdown is bounded by it.
    private var shutdownDeadline: Duration?

    /// The changelog records of one input partition not yet reported.
    private struct ChangelogInFlight {
        /// Entry and flush-begin records: a checkpoint is produced only once there are none.
        var records = 0
        var checkpoints = 0
        var isEmpty: Bool { records == 0 && checkpoints == 0 }
    }

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Outputs produced or waiting to be, whose delivery is not yet reported.
    var outstandingOutputs: Int { pending.count }

    /// Restores that run at once (`Configuration.maxConcurrentRestores`).
    var maxConcurrentRestores: Int { configuration.maxConcurrentRestores }

    /// True between a drain's start (revocation or shutdown) and its end.
    var isDraining: Bool {
        if case .draining = phase { true } else { false }
    }

    /// Not ready while the consumer's or the producer's brokers are unreachable, while deliveries fail
    /// or stall, while any partition restores its state, or before the group assigned this member
    /// anything. Before that first assignment, only an input side with no broker at all is named (a
    /// joining consumer has no coordinator yet).
    var readiness: Readiness {
        let joining = !joinedGroup && partitions.isEmpty
        if let input = inputHealth, !input.isReachable, !joining || input.brokersUp == 0 {
            return .notReady("input brokers unreachable: \(Self.describe(input))")
        }
        if let output = outputHealth, !output.isReachable {
            return .notReady("output brokers unreachable: \(Self.describe(output))")
        }
        if let deliveryFailure { return .notReady("output delivery failing: \(deliveryFailure)") }
        if let stalled = deliveryStalledFor {
            return .notReady(
                "output delivery stalled: \(Self.grouped(pending.count)) outputs outstanding, none acknowledged "
                    + "for \(stalled.components.seconds) s")
        }
        if partitions.values.contains(where: { $0.restore != nil }) {
            let restoring = partitions.filter { $0.value.restore != nil }
            let records = restoring.values.reduce(0) { $0 + ($1.restore?.records ?? 0) }
            let waiting = restoring.filter { $0.value.restore?.begun == false }
            let writesAwaited = waiting.keys.filter { changelogInFlight[$0] != nil }.count
            var reason =
                "restoring \(restoring.count) partition\(restoring.count == 1 ? "" : "s"): "
                + "\(Self.grouped(records)) records so far"
            let slotsTaken = restoring.count - waiting.count >= configuration.maxConcurrentRestores
            if slotsTaken, waiting.count > writesAwaited {
                reason +=
                    "; \(waiting.count - writesAwaited) waiting for a restore slot "
                    + "(at most \(configuration.maxConcurrentRestores) at a time)"
            }
            if writesAwaited > 0 {
                reason +=
                    "; \(writesAwaited) waiting for the previous owner's changelog writes to be "
                    + "acknowledged or to time out (message.timeout.ms)"
            }
            return .notReady(reason)
        }
        if joinedGroup || !partitions.isEmpty { return .ready }
        return .notReady("joining consumer group")
    }

    /// What is left of the shutdown deadline at `now` (zero once passed, or before any shutdown).
    func remainingShutdownTime(now: Duration) -> Duration {
        max(.zero, (shutdownDeadline ?? now) - now)
    }

    /// Partitions whose state is being restored, in a stable order.
    var restoringPartitions: [KafkaTopicPartition] {
        assignedPartitions.filter { partitions[$0]?.restore != nil }
    }

    // MARK: The batch

    /// Starts a batch: a stop request begins the shutdown; otherwise a posted configuration is applied
    /// (between two batches, never inside one), restores take a step, delivery reports are served
    /// under backpressure, then the consumer is polled (without waiting under backpressure, where the
    /// reports are what it waits for, nor while restoring, where the restore is).
    mutating func nextBatch(
        now: Duration, stopRequested: Bool, postedConfig: (policyVersion: String, shutdownTimeout: Duration)?
    )
        -> [Action]
    {
        guard phase == .running else { return [] }
        if stopRequested {
            shutdownDeadline = now + configuration.shutdownTimeout
            phase = .draining(.shutdown, deadline: now + configuration.shutdownTimeout * 3 / 4)
            return [.beginShutdown(outstandingOutputs: pending.count)]
                + capture(runningPartitions, now: now, snapshot: .always) + drainStep(now: now)
        }
        var actions: [Action] = []
        if let postedConfig {
            configuration.shutdownTimeout = postedConfig.shutdownTimeout
            actions.append(.applyConfig(policyVersion: postedConfig.policyVersion))
        }
        let restoring = restoringPartitions
        for partition in restoring where partitions[partition]?.restore?.begun == true {
            actions.append(.restoreStep(partition))
        }
        actions += restoresToBegin()
        let waitingForSlot = restoring.contains {
            partitions[$0]?.restore?.begun == false && changelogInFlight[$0] == nil
        }
        if waitingForSlot { actions.append(.refillRestoreSlots) }
        if backpressureSince != nil {
            actions += [.pollDeliveries(timeout: configuration.backpressureReportWait), .send]
        }
        actions.append(
            .poll(
                maxMessages: configuration.batchSize,
                timeout: backpressureSince == nil && restoring.isEmpty ? configuration.pollTimeout : .zero))
        return actions
    }

    /// What to do with a polled message.
    enum Arrival: Equatable {
        /// Perform the actions, then process the message.
        case process([Action])
        /// Do not process it: its partition is restoring, and consumes it again once restored.
        case hold([Action])
    }

    /// A polled message is about to be processed: its partition's shard is opened when new. A
    /// message of a restoring partition (fetched before the pause took effect) is held instead.
    mutating func inputArrived(_ partition: KafkaTopicPartition, offset: Int64) -> Arrival {
        // One lookup on the common path: a running partition's message is processed.
        let restoring = withPartition(partition) { $0.restore != nil }
        if restoring == false { return .process([]) }
        if restoring == nil, let beyond = partitionBeyondChangelog([partition]) { return .hold(fail(beyond)) }
        let actions = restoring == nil ? open([partition]) : []
        guard partitions[partition]?.restore != nil else { return .process(actions) }
        if partitions[partition]?.restore?.heldOffset == nil { partitions[partition]?.restore?.heldOffset = offset }
        return .hold(actions)
    }

    /// The shard turned the input at `offset` into `outputs`: they join the outbox, and the input
    /// is done once every one of them is delivered.
    mutating func inputProcessed(
        _ partition: KafkaTopicPartition, offset: Int64, outputs: some Collection<Output>, now: Duration
    )
        -> [Action]
    {
        let tracked = withPartition(partition) { state in
            state.lastProcessed = offset
            return (state.generation, state.progress.track(offset: offset, outputs: outputs.count, receivedAt: now))
        }
        guard let (generation, input) = tracked else { return [] }
        if pending.isEmpty, !outputs.isEmpty { unacknowledgedSince = now }
        let sendNow = outboxIsEmpty
        for output in outputs {
            enqueue(
                PendingOutput(
                    partition: partition, generation: generation, kind: .output(output, input: input), attempts: 1))
        }
        return sendNow && !outputs.isEmpty ? [.send] : []
    }

    /// The poll returned `messageCount` messages (all reported): serve delivery reports, then end the batch.
    mutating func polled(messageCount: Int) -> [Action] {
        return [.pollDeliveries(timeout: .zero), .endBatch]
    }

    /// Delivery reports served outside a drain: a failure that cannot be retried is fatal.
    mutating func delivered(_ reports: [(token: Token, outcome: DeliveryOutcome)], now: Duration) -> [Action] {
        if backpressureSince != nil, !reports.isEmpty { lastProgress = now }
        let sendNow = outboxIsEmpty
        let handled = handle(reports)
        if handled.acknowledged { unacknowledgedSince = pending.isEmpty ? nil : now }
        if let failure = handled.failure { return fail(failure) }
        return handled.retries + (sendNow && !outboxIsEmpty ? [.send] : []) + handled.snapshots
    }

    /// Ends a batch: backpressure is entered or left (or the stall limit fails the loop), finished
    /// inputs are stored, and the status published.
    mutating func batchEnded(now: Duration, producerQueued: Int) -> [Action] {
        var actions: [Action] = []
        if let since = backpressureSince {
            if outboxIsEmpty, producerQueued <= configuration.resumeBelow {
                backpressureSince = nil
                actions.append(.resume(runningPartitions, pausedFor: now - since))
            } else if let limit = configuration.maxProducerStall, now - lastProgress > limit {
                return fail(.producerStalled(now - lastProgress, waiting: outbox.count - outboxHead))
            }
        } else if !outboxIsEmpty {
            backpressureSince = now
            lastProgress = now
            backpressureEpisodes += 1
            actions.append(.pause(nil, waitingOutputs: outbox.count - outboxHead))
        }
        if let changelog = configuration.changelog {
            let sendNow = outboxIsEmpty
            for partition in partitionsWithFlushes.sorted(by: Self.order) {
                if withPartition(partition, { $0.restore == nil }) == true {
                    actions += releaseFlushes(of: partition)
                }
                if withPartition(partition, { !$0.flushes.isEmpty }) != true {
                    partitionsWithFlushes.remove(partition)
                }
            }
            if sendNow, !outboxIsEmpty { actions.append(.send) }
            if now - lastFlush >= changelog.flushInterval {
                lastFlush = now
                actions += capture(runningPartitions, now: now, snapshot: .whenDue)
            }
        }
        actions += storeFinished(assignedPartitions, now: now)
        trackDeliveryStall(now: now)
        actions.append(.publishStatus(status(readiness)))
        return actions
    }

    /// The consumer's (`input`) and the producer's (`output`) broker health, as the driver last read
    /// it from each client (nil: not known yet). Readiness follows from the next batch's end.
    mutating func brokerHealth(input: KafkaBrokerHealth?, output: KafkaBrokerHealth?) {
        inputHealth = input
        outputHealth = output
    }

    /// Outputs outstanding with none acknowledged for longer than the stall limit make the daemon not
    /// ready, whatever the brokers' state says (a leader that accepts connections but not writes).
    private mutating func trackDeliveryStall(now: Duration) {
        guard !pending.isEmpty else {
            unacknowledgedSince = nil
            deliveryStalledFor = nil
            return
        }
        let since = unacknowledgedSince ?? now
        unacknowledgedSince = since
        let waited = now - since
        deliveryStalledFor = configuration.deliveryStallLimit.flatMap { waited > $0 ? waited : nil }
    }

    /// The unreachable part of a client's brokers, for a readiness reason.
    private static func describe(_ health: KafkaBrokerHealth) -> String {
        health.unreachable.isEmpty ? "no broker connected" : health.unreachable.joined(separator: ", ")
    }

    // MARK: The outbox

    /// The next output or changelog record to produce, dropping those of partitions given up since
    /// (their next owner processes the inputs again); nil when the outbox is empty.
    mutating func nextOutput(now: Duration) -> (token: Token, output: Outgoing)? {
        while outboxHead < outbox.count {
            let token = outbox[outboxHead]
            if let entry = pending[token] {
                if isCurrent(entry.partition, entry.generation) {
                    switch entry.kind {
                    case .output(let output, _): return (token, .output(output))
                    case .changelog(let record, _, _):
                        return (token, .changelog(partition: entry.partition.partition, record))
                    }
                }
                removePending(token)
            }
            popOutbox(now: now)
        }
        return nil
    }

    /// The producer accepted the output `nextOutput` returned.
    mutating func outputSent(now: Duration) { popOutbox(now: now) }

    // MARK: Rebalances and the consumer

    /// Partitions assigned (inside a poll). Under backpressure they are paused like the others; with
    /// the changelog on they stay paused until their state is restored (`restoreProgressed`).
    /// A partition with a suspended shard is checked before anything is restored; suspended shards of
    /// partitions not brought back are dropped.
    mutating func assigned(_ newPartitions: [KafkaTopicPartition]) -> [Action] {
        if let beyond = partitionBeyondChangelog(newPartitions) { return fail(beyond) }
        var actions = open(newPartitions.filter { partitions[$0] == nil })
        let notBack = suspended.keys.sorted(by: Self.order)
        suspended.removeAll()
        actions += notBack.map { .retireShard($0) }
        // Partitions that restore are paused until restored; under backpressure the others are paused too.
        let unrestored = newPartitions.filter { !keepsState($0) }
        if backpressureSince != nil, !unrestored.isEmpty {
            actions.append(.pause(unrestored, waitingOutputs: outbox.count - outboxHead))
        }
        joinedGroup = true
        return actions
    }

    /// The first of `candidates` the changelog has no partition for.
    private func partitionBeyondChangelog(_ candidates: [KafkaTopicPartition]) -> LoopError? {
        guard let changelog = configuration.changelog,
            let beyond = candidates.first(where: { keepsState($0) && Int($0.partition) >= changelog.partitions })
        else { return nil }
        return .partitionBeyondChangelog(
            beyond, changelogTopic: changelog.topic, changelogPartitions: changelog.partitions)
    }

    /// Whether `partition` keeps state in the changelog: the changelog is on and its topic is not stateless.
    private func keepsState(_ partition: KafkaTopicPartition) -> Bool {
        guard let changelog = configuration.changelog else { return false }
        return !changelog.statelessTopics.contains(partition.topic)
    }

    /// The changelog topic is set up with `count` partitions.
    mutating func changelogPartitionCount(_ count: Int) {
        configuration.changelog?.partitions = count
    }

    // MARK: Restores

    /// Begins the restores waiting for a slot while slots are free, each with its first step (and
    /// checks suspended shards, which take no slot: the check is done within the batch). A restore
    /// waits while its partition's changelog records of an earlier ownership are still inside the
    /// producer: they could land after the restore read the partition, and change what it restored.
    mutating func restoresToBegin() -> [Action] {
        guard phase == .running else { return [] }
        var actions: [Action] = []
        var running = partitions.values.count(where: { $0.restore?.begun == true })
        for partition in restoringPartitions {
            guard let restore = partitions[partition]?.restore, !restore.begun,
                changelogInFlight[partition] == nil
            else { continue }
            if let kept = restore.suspended {
                partitions[partition]?.restore?.begun = true
                actions.append(.checkSuspendedShard(partition, kept))
                continue
            }
            guard running < configuration.maxConcurrentRestores else { continue }
            running += 1
            partitions[partition]?.restore?.begun = true
            changelogLost.remove(partition)
            actions += [.beginRestore(partition), .restoreStep(partition)]
        }
        return actions
    }

    /// A restore step applied records (`records` so far, in all); `finished`: the partition's state
    /// is complete, and `restored` says where, when the whole state reflects one checkpoint exactly
    /// (its first snapshot needs no input then). It then resumes from its committed offset, or from
    /// the first message fetched meanwhile; under backpressure it stays paused and resumes with the others.
    mutating func restoreProgressed(
        _ partition: KafkaTopicPartition, records: Int, finished: Bool, now: Duration, restored: Checkpoint? = nil
    )
        -> [Action]
    {
        guard var restore = partitions[partition]?.restore else { return [] }
        restore.records = records
        guard finished else {
            partitions[partition]?.restore = restore
            return []
        }
        partitions[partition]?.restore = nil
        partitions[partition]?.snapshotAt = now
        if let restored { partitions[partition]?.checkpoint = restored }
        var actions: [Action] = []
        if let held = restore.heldOffset { actions.append(.seek(partition, offset: held)) }
        if backpressureSince == nil { actions.append(.resume([partition], pausedFor: nil)) }
        return actions
    }

    /// The driver checked a suspended shard (`checkSuspendedShard`). Kept: it is the partition's shard
    /// again, and the partition resumes as after a restore. Not kept (the changelog moved on, or the
    /// check failed): the partition's state is restored as for any assignment, from the next batch.
    mutating func suspendedShardChecked(_ partition: KafkaTopicPartition, kept: Bool, now: Duration) -> [Action] {
        guard let checkpoint = partitions[partition]?.restore?.suspended else { return [] }
        guard kept else {
            partitions[partition]?.restore = Restore()
            return []
        }
        partitions[partition]?.checkpoint = checkpoint
        return restoreProgressed(partition, records: 0, finished: true, now: now)
    }

    /// The driver snapshotted a restored state (`snapshotRestoredState`), or declined because input
    /// changed it meanwhile: a declined snapshot is asked for again with the next flush.
    mutating func restoredStateSnapshotted(_ partition: KafkaTopicPartition, stamp: Int64, taken: Bool, now: Duration) {
        guard taken else { return }
        partitions[partition]?.snapshotAt = now
        partitions[partition]?.snapshotStamp = stamp
    }

    /// A restore failed: the loop stops rather than run on half-restored state.
    mutating func restoreFailed(_ partition: KafkaTopicPartition, reason: String) -> [Action] {
        guard partitions[partition]?.restore != nil, phase != .finished else { return [] }
        return fail(.restoreFailed(partition, reason: reason))
    }

    // MARK: The changelog

    /// The driver took the flush `captureChangelog` asked for: its records (empty when nothing
    /// changed) and, when asked, the state as a snapshot. The records wait until every output of the
    /// inputs through `stamp` is acknowledged.
    /// A snapshot asked for and not taken (the replay guard is up) is asked for again at the next flush.
    mutating func changelogCaptured(
        _ partition: KafkaTopicPartition, stamp: Int64, records: [ChangelogRecord], snapshot: [UInt8]?,
        now: Duration
    ) -> [Action] {
        capturesAwaited = max(0, capturesAwaited - 1)
        guard partitions[partition] != nil else { return [] }
        if snapshot != nil, !records.isEmpty {
            partitions[partition]?.snapshotAt = now
            partitions[partition]?.snapshotStamp = stamp
        }
        partitions[partition]?.flushes.append(
            Flush(id: nextFlushID, stamp: stamp, records: records, snapshot: records.isEmpty ? nil : snapshot))
        partitionsWithFlushes.insert(partition)
        nextFlushID += 1
        let sendNow = outboxIsEmpty
        let snapshots = releaseFlushes(of: partition)
        return (sendNow && !outboxIsEmpty ? [.send] : []) + snapshots
    }

    /// Partitions about to be taken away (inside a poll or close). Unless lost, or the loop is
    /// closing, outstanding outputs are drained first and finished inputs stored, so that the
    /// consumer's revocation commit hands the partitions over with everything done.
    mutating func revoked(_ revokedPartitions: [KafkaTopicPartition], lost: Bool, now: Duration) -> [Action] {
        guard !lost, phase == .running else { return retire(revokedPartitions) }
        let drain = min(configuration.shutdownTimeout, configuration.revocationDrainLimit)
        phase = .draining(.revocation(revokedPartitions), deadline: now + drain)
        let running = revokedPartitions.filter { partitions[$0] != nil && partitions[$0]?.restore == nil }
        return capture(running.sorted(by: Self.order), now: now, snapshot: .never) + drainStep(now: now)
    }

    /// Storing an offset failed (the partition may be going away): it is stored again next batch.
    mutating func storeFailed(_ partition: KafkaTopicPartition) {
        partitions[partition]?.progress.storedThrough = nil
    }

    // MARK: Drains and shutdown

    /// Delivery reports served by a drain's flush. A failed delivery of an output whose partition the
    /// drain gives up ends the drain, not the loop: its input is simply consumed again by the next owner.
    /// One of a partition that stays assigned fails the loop as outside a drain, since nothing would
    /// ever store that partition's offsets past it.
    mutating func drained(_ reports: [(token: Token, outcome: DeliveryOutcome)], now: Duration) -> [Action] {
        guard case .draining = phase else { return [] }
        let handled = handle(reports)
        if handled.acknowledged { unacknowledgedSince = pending.isEmpty ? nil : now }
        if let failure = handled.failure { return fail(failure) }
        if let abandoned = handled.abandoned {
            return handled.snapshots + abandonDrain(abandoned, retries: handled.retries, now: now)
        }
        if let reason = drainFailure {
            return handled.snapshots
                + abandonDrain(.produceFailed(reason: reason), retries: handled.retries, now: now)
        }
        let released = assignedPartitions.flatMap { releaseFlushes(of: $0) }
        return handled.retries + handled.snapshots + released + [.send] + drainStep(now: now)
    }

    /// Producing failed during a drain (a client error, not a full queue): like a failed delivery,
    /// it ends the drain, at its next step, not the loop.
    mutating func sendFailedWhileDraining(reason: String) {
        if isDraining { drainFailure = reason }
    }

    /// The final commit's outcome (nil: committed). When it failed, or the drain left outputs
    /// unacknowledged, every partition with processed inputs is reported before the close.
    mutating func committed(failure: String?) -> [Action] {
        guard phase == .committing else { return [] }
        finalCommitFailure = failure
        phase = .closing
        guard failure != nil || shutdownDrainFailure != nil else { return [.close] }
        let uncommitted = assignedPartitions.compactMap { partition -> Uncommitted? in
            guard let state = partitions[partition], let last = state.lastProcessed else { return nil }
            return Uncommitted(partition: partition, lastProcessed: last, stored: state.progress.storedThrough)
        }
        return [.reportUncommitted(uncommitted), .close]
    }

    /// The consumer is closed (first, so the group can hand the partitions over meanwhile): wait for
    /// the snapshot writes for what is left of the shutdown deadline, publish the final status and end.
    mutating func closed(now: Duration) -> [Action] {
        guard phase == .closing else { return [] }
        phase = .finished
        let awaitSnapshots =
            configuration.changelog?.snapshotInterval == nil
            ? []
            : [Action.awaitSnapshotWrites(timeout: max(.zero, (shutdownDeadline ?? now) - now))]
        return awaitSnapshots + [
            .publishStatus(status(.notReady("shutting down"))),
            .finish(
                finalCommitFailure.map { .finalCommitFailed(reason: $0) }
                    ?? shutdownDrainFailure.map { .shutdownDrainFailed(reason: $0) }),
        ]
    }

    /// The driver hit a fatal error of its own (a client call threw): no drain on the way out.
    mutating func failed() { phase = .finished }

    // MARK: Private

    private static func order(_ a: KafkaTopicPartition, _ b: KafkaTopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }

    private var outboxIsEmpty: Bool { outboxHead == outbox.count }

    /// Runs `body` on `partition`'s state in place: one lookup, and no copy of its collections.
    /// Nil when the partition is not owned.
    @discardableResult
    private mutating func withPartition<Result>(
        _ partition: KafkaTopicPartition, _ body: (inout Partition) -> Result
    ) -> Result? {
        if let lastFound, lastFound.partition == partition { return body(&partitions.values[lastFound.index]) }
        guard let index = partitions.index(forKey: partition) else { return nil }
        lastFound = (partition, index)
        return body(&partitions.values[index])
    }

    /// Gives up a partition's state (and its place in `assignedPartitions`).
    private mutating func removePartition(_ partition: KafkaTopicPartition) -> Partition? {
        guard let state = partitions.removeValue(forKey: partition) else { return nil }
        lastFound = nil
        assignedPartitions.removeAll { $0 == partition }
        return state
    }

    /// Whether an entry of `partition`'s `generation` belongs to its current ownership (not one given
    /// up since).
    private mutating func isCurrent(_ partition: KafkaTopicPartition, _ generation: UInt64) -> Bool {
        withPartition(partition) { $0.generation == generation } ?? false
    }

    private func status(_ readiness: Readiness) -> Status {
        Status(
            readiness: readiness, backpressureActive: backpressureSince != nil,
            backpressureEpisodes: backpressureEpisodes)
    }

    /// Partitions not restoring, in a stable order.
    private var runningPartitions: [KafkaTopicPartition] {
        assignedPartitions.filter { partitions[$0]?.restore == nil }
    }

    /// `12345` as `12,345`, for the readiness reason.
    private static func grouped(_ count: Int) -> String {
        var digits = Array(String(count))
        var index = digits.count - 3
        while index > 0 {
            digits.insert(",", at: index)
            index -= 3
        }
        return String(digits)
    }

    /// Opens shards for `opened` partitions; with the changelog on they are paused to restore first
    /// (the restore begins at the next batch, outside the rebalance callback).
    private mutating func open(_ opened: [KafkaTopicPartition]) -> [Action] {
        for partition in opened {
            let kept = suspended.removeValue(forKey: partition)
            lastFound = nil
            if partitions[partition] == nil {
                let position =
                    assignedPartitions.firstIndex { Self.order(partition, $0) } ?? assignedPartitions.endIndex
                assignedPartitions.insert(partition, at: position)
            }
            partitions[partition] = Partition(
                generation: nextGeneration, restore: keepsState(partition) ? Restore(suspended: kept) : nil)
            nextGeneration += 1
        }
        let actions = opened.map { Action.openShard($0) }
        let restoring = opened.filter { keepsState($0) }
        guard !restoring.isEmpty else { return actions }
        return actions + [.pause(restoring, waitingOutputs: outbox.count - outboxHead)]
    }

    /// Puts an output or changelog record at the end of the outbox; a changelog record's caller
    /// counts it in `changelogInFlight` (once per flush, not per record).
    private mutating func enqueue(_ entry: consuming PendingOutput) {
        let token = nextToken
        nextToken += 1
        pending[token] = consume entry
        outbox.append(token)
    }

    /// Forgets a pending output (reported, or dropped from the outbox), counting a changelog record
    /// out of its partition's records in flight.
    @discardableResult
    private mutating func removePending(_ token: Token) -> PendingOutput? {
        guard let entry = pending.removeValue(forKey: token) else { return nil }
        if case .changelog(_, _, let isCheckpoint) = entry.kind {
            countOut(entry.partition, records: isCheckpoint ? 0 : 1, checkpoints: isCheckpoint ? 1 : 0)
        }
        return entry
    }

    /// Counts changelog records of `partition` out of those in flight (reported or dropped).
    private mutating func countOut(_ partition: KafkaTopicPartition, records: Int, checkpoints: Int) {
        guard var inFlight = changelogInFlight[partition] else { return }
        inFlight.records -= records
        inFlight.checkpoints -= checkpoints
        changelogInFlight[partition] = inFlight.isEmpty ? nil : inFlight
    }

    private enum SnapshotChoice {
        case never
        case whenDue
        case always
    }

    /// Asks for a flush of each of `selected` partitions that processed input since its last one
    /// (or, for a snapshot, since its last snapshot was captured).
    private mutating func capture(
        _ selected: [KafkaTopicPartition], now: Duration, snapshot: SnapshotChoice
    )
        -> [Action]
    {
        guard let changelog = configuration.changelog else { return [] }
        var actions: [Action] = []
        var snapshotCaptured = false
        for partition in selected where keepsState(partition) {
            guard let state = partitions[partition] else { continue }
            let snapshotsOn = changelog.snapshotInterval != nil
            let withSnapshot: Bool
            switch snapshot {
            case .never: withSnapshot = false
            case .whenDue:
                withSnapshot = changelog.snapshotInterval.map { now - state.snapshotAt >= $0 } ?? false
            case .always: withSnapshot = snapshotsOn
            }
            guard let stamp = state.lastProcessed else {
                // No input since the restore: a snapshot of what it restored, when that is one checkpoint.
                guard withSnapshot, snapshot == .always || !snapshotCaptured, let checkpoint = state.checkpoint,
                    state.flushes.isEmpty, checkpoint.stamp != state.snapshotStamp
                else { continue }
                snapshotCaptured = true
                actions.append(.snapshotRestoredState(partition, checkpoint))
                continue
            }
            // One due snapshot per flush: partitions restored together would otherwise all capture and
            // write theirs at once, an interval after their restores, and again at every interval.
            let takesSnapshot =
                withSnapshot && stamp != state.snapshotStamp && (snapshot == .always || !snapshotCaptured)
            guard stamp != state.lastCaptured || takesSnapshot else { continue }
            partitions[partition]?.lastCaptured = stamp
            if takesSnapshot { snapshotCaptured = true }
            capturesAwaited += 1
            actions.append(.captureChangelog(partition, stamp: stamp, withSnapshot: takesSnapshot))
        }
        return actions
    }

    /// Moves the records of flushes whose inputs' outputs are all acknowledged into the outbox, in
    /// order; an empty flush is acknowledged at once. Returns the snapshots that became writable.
    private mutating func releaseFlushes(of partition: KafkaTopicPartition) -> [Action] {
        var generation: UInt64?
        var released: [(flush: UInt64, records: [ChangelogRecord])] = []
        withPartition(partition) { state in
            guard !state.flushes.isEmpty else { return }
            generation = state.generation
            state.progress.advance()
            for index in state.flushes.indices {
                guard let records = state.flushes[index].records else { continue }
                guard let done = state.progress.doneThrough, done >= state.flushes[index].stamp else { break }
                state.flushes[index].records = nil
                state.flushes[index].unacknowledged = records.count
                state.flushes[index].heldCheckpoint = records.last
                released.append((state.flushes[index].id, records))
            }
        }
        guard let generation else { return [] }
        let produced = released.reduce(0) { $0 + $1.records.count - 1 }
        if produced > 0 { changelogInFlight[partition, default: ChangelogInFlight()].records += produced }
        for (flush, records) in released {
            for record in records.dropLast() {
                enqueue(
                    PendingOutput(
                        partition: partition, generation: generation,
                        kind: .changelog(record, flush: flush, isLast: false), attempts: 1))
            }
        }
        releaseCheckpoints(of: partition)
        return completeFlushes(of: partition)
    }

    /// Produces the held checkpoints of `partition` once none of its changelog records before them
    /// awaits a report, unless one of its records was lost.
    private mutating func releaseCheckpoints(of partition: KafkaTopicPartition) {
        guard (changelogInFlight[partition]?.records ?? 0) == 0, !changelogLost.contains(partition) else { return }
        var generation: UInt64?
        var released: [(flush: UInt64, checkpoint: ChangelogRecord)] = []
        withPartition(partition) { state in
            generation = state.generation
            for index in state.flushes.indices {
                guard let checkpoint = state.flushes[index].heldCheckpoint else { continue }
                state.flushes[index].heldCheckpoint = nil
                released.append((state.flushes[index].id, checkpoint))
            }
        }
        guard let generation, !released.isEmpty else { return }
        changelogInFlight[partition, default: ChangelogInFlight()].checkpoints += released.count
        for (flush, checkpoint) in released {
            enqueue(
                PendingOutput(
                    partition: partition, generation: generation,
                    kind: .changelog(checkpoint, flush: flush, isLast: true), attempts: 1))
        }
    }

    /// Drops the fully acknowledged flushes at the head of the queue, raising the flushed watermark.
    private mutating func completeFlushes(of partition: KafkaTopicPartition) -> [Action] {
        withPartition(partition) { Self.completeFlushes(of: partition, in: &$0) } ?? []
    }

    private static func completeFlushes(of partition: KafkaTopicPartition, in state: inout Partition) -> [Action] {
        var actions: [Action] = []
        while let flush = state.flushes.first, flush.records == nil, flush.heldCheckpoint == nil,
            flush.unacknowledged == 0
        {
            state.flushes.removeFirst()
            state.progress.flushedThrough = flush.stamp
            // An empty flush wrote nothing: the last checkpoint still holds, for more input. A flush
            // stamped below what the state reflects (input processed again under the guard) lowers nothing.
            let reflected = max(flush.stamp, state.checkpoint?.stamp ?? flush.stamp)
            if let offset = flush.checkpointOffset {
                state.checkpoint = Checkpoint(changelogOffset: offset, stamp: reflected)
            } else {
                state.checkpoint?.stamp = reflected
            }
            if let snapshot = flush.snapshot, let offset = flush.checkpointOffset {
                actions.append(
                    .writeSnapshot(partition, stamp: flush.stamp, changelogOffset: offset, state: snapshot))
            }
        }
        return actions
    }

    private mutating func popOutbox(now: Duration) {
        outboxHead += 1
        if backpressureSince != nil { lastProgress = now }
        if outboxHead == outbox.count {
            outbox.removeAll(keepingCapacity: true)
            outboxHead = 0
        } else if outboxHead > 4096, outboxHead * 2 > outbox.count {
            outbox.removeFirst(outboxHead)
            outboxHead = 0
        }
    }

    private mutating func fail(_ error: LoopError) -> [Action] {
        phase = .finished
        return [.fail(error)]
    }

    /// What a batch of delivery reports leaves to do.
    private struct HandledReports {
        /// A `retryDelivery` per failed output put back in the outbox.
        var retries: [Action] = []
        /// A `writeSnapshot` per fully acknowledged flush that captured one.
        var snapshots: [Action] = []
        /// The first delivery given up for a partition the current drain gives up.
        var abandoned: LoopError?
        /// The first delivery given up for a partition that stays assigned: the loop cannot go on.
        var failure: LoopError?
        /// Some output or changelog record was delivered.
        var acknowledged = false
    }

    /// Acknowledges delivered outputs and puts failed ones back in the outbox (bounded attempts). Every
    /// report of the batch is handled, even after a failure, so that no output stays pending forever.
    /// Reports for partitions given up since are dropped: their next owner redoes the inputs.
    private mutating func handle(_ reports: [(token: Token, outcome: DeliveryOutcome)]) -> HandledReports {
        var handled = HandledReports()
        // Partitions with changelog records reported, in the order first seen.
        var flushed: [KafkaTopicPartition] = []
        // Changelog records reported in a row for one partition, counted out of those in flight
        // together when the partition changes (reports come in runs of one partition).
        var reportedRun: (partition: KafkaTopicPartition, records: Int, checkpoints: Int)?
        // The entry's payload (an output, a record) is not copied on the way: only its small fields are read.
        for (token, outcome) in reports {
            guard let entry = pending.removeValue(forKey: token) else { continue }
            let partition = entry.partition
            switch entry.kind {
            case .changelog(_, let flush, let isLast):
                if reportedRun?.partition != partition {
                    if let run = reportedRun {
                        countOut(run.partition, records: run.records, checkpoints: run.checkpoints)
                    }
                    reportedRun = (partition, 0, 0)
                }
                if isLast { reportedRun?.checkpoints += 1 } else { reportedRun?.records += 1 }
                if case .failed = outcome { changelogLost.insert(partition) }
                guard isCurrent(partition, entry.generation) else { continue }
                switch outcome {
                case .delivered(let offset):
                    handled.acknowledged = true
                    deliveryFailure = nil
                    acknowledgeChangelog(partition, flush: flush, checkpointOffset: isLast ? offset : nil)
                    if flushed.last != partition, !flushed.contains(partition) { flushed.append(partition) }
                case .failed(let reason, _):
                    deliveryFailure = reason
                    // Never produced again: a retry behind later records would reorder the partition.
                    let error = LoopError.changelogDeliveryFailed(
                        topic: configuration.changelog.map(\.topic) ?? "", partition: partition.partition,
                        reason: reason)
                    record(error, of: partition, in: &handled)
                }
            case .output(let output, let input):
                // Counted even for a partition given up since: the output reached its topic all the same.
                if case .delivered = outcome, let kind = output.kind { deliveredOutputs.add(kind) }
                guard isCurrent(partition, entry.generation) else { continue }
                switch outcome {
                case .delivered:
                    handled.acknowledged = true
                    deliveryFailure = nil
                    withPartition(partition) { $0.progress.acknowledge(input) }
                case .failed(let reason, let isFatal):
                    deliveryFailure = reason
                    retry(entry, token: token, reason: reason, isFatal: isFatal, in: &handled)
                }
            }
        }
        if let run = reportedRun { countOut(run.partition, records: run.records, checkpoints: run.checkpoints) }
        for partition in flushed.sorted(by: Self.order) {
            releaseCheckpoints(of: partition)
            handled.snapshots += completeFlushes(of: partition)
        }
        return handled
    }

    /// Puts an output whose delivery failed back in the outbox, or gives it up after its last attempt.
    private mutating func retry(
        _ entry: PendingOutput, token: Token, reason: String, isFatal: Bool, in handled: inout HandledReports
    ) {
        guard case .output(let output, _) = entry.kind else { return }
        guard !isFatal, output.isRetriable, entry.attempts < configuration.maxDeliveryAttempts else {
            let error =
                output.isRetriable
                ? LoopError.deliveryFailed(topic: output.topic, attempts: entry.attempts, reason: reason)
                : LoopError.stageRecordDeliveryFailed(topic: output.topic, reason: reason)
            record(error, of: entry.partition, in: &handled)
            return
        }
        handled.retries.append(.retryDelivery(topic: output.topic, attempt: entry.attempts, reason: reason))
        var retried = entry
        retried.attempts += 1
        pending[token] = retried
        outbox.append(token)
    }

    /// A delivery given up: it ends the drain that gives its partition up, else the loop.
    private func record(_ error: LoopError, of partition: KafkaTopicPartition, in handled: inout HandledReports) {
        if isGivenUpByTheDrain(partition) {
            handled.abandoned = handled.abandoned ?? error
        } else {
            handled.failure = handled.failure ?? error
        }
    }

    private mutating func acknowledgeChangelog(
        _ partition: KafkaTopicPartition, flush: UInt64, checkpointOffset: Int64?
    ) {
        withPartition(partition) { state in
            guard let index = state.flushes.firstIndex(where: { $0.id == flush }) else { return }
            state.flushes[index].unacknowledged -= 1
            if let checkpointOffset { state.flushes[index].checkpointOffset = checkpointOffset }
        }
    }

    /// Whether the current drain ends with `partition` no longer owned: its unfinished inputs are
    /// then the next owner's to consume again, so one of its outputs may be abandoned.
    private func isGivenUpByTheDrain(_ partition: KafkaTopicPartition) -> Bool {
        switch phase {
        case .draining(.shutdown, _): true
        case .draining(.revocation(let revokedPartitions), _): revokedPartitions.contains(partition)
        case .running, .committing, .closing, .finished: false
        }
    }

    /// Finished inputs of `selected` partitions: their latencies, and their offsets when they moved
    /// (with the changelog on: as far as a fully acknowledged flush covers them).
    private mutating func storeFinished(_ selected: [KafkaTopicPartition], now: Duration) -> [Action] {
        var actions: [Action] = []
        for partition in selected {
            let flushedOnly = keepsState(partition)
            withPartition(partition) { state in
                state.progress.advance()
                let latencies = state.progress.takeFinished().map { now - $0 }
                if !latencies.isEmpty { actions.append(.recordLatencies(latencies)) }
                let storable = flushedOnly ? state.progress.flushedThrough : state.progress.doneThrough
                if let done = storable, done != state.progress.storedThrough {
                    state.progress.storedThrough = done
                    actions.append(.storeOffset(partition, done))
                }
            }
        }
        return actions
    }

    private mutating func retire(_ retired: [KafkaTopicPartition]) -> [Action] {
        retired.compactMap { removePartition($0) == nil ? nil : .retireShard($0) }
    }

    /// Gives up drained partitions, suspending the shard of each whose state is all in the changelog
    /// behind an acknowledged checkpoint: no flush outstanding, and no input processed past it.
    private mutating func suspend(_ revokedPartitions: [KafkaTopicPartition]) -> [Action] {
        revokedPartitions.compactMap { partition in
            guard let state = removePartition(partition) else { return nil }
            guard keepsState(partition), state.restore == nil, state.flushes.isEmpty,
                let checkpoint = state.checkpoint, (state.lastProcessed ?? checkpoint.stamp) <= checkpoint.stamp
            else { return .retireShard(partition) }
            suspended[partition] = checkpoint
            return .suspendShard(partition)
        }
    }

    /// Flushes again while outputs are outstanding and the deadline is ahead, else ends the drain.
    private mutating func drainStep(now: Duration) -> [Action] {
        guard case .draining(_, let deadline) = phase else { return [] }
        if !pending.isEmpty || capturesAwaited > 0 || hasUnreleasedFlushes, now < deadline {
            return [.flush(timeout: min(deadline - now, configuration.drainStep))]
        }
        if !pending.isEmpty, case .draining(.shutdown, _) = phase {
            shutdownDrainFailure = "\(pending.count) outputs still unacknowledged at the drain deadline"
        }
        return (pending.isEmpty ? [] : [.drainTimedOut(outstandingOutputs: pending.count)])
            + finishDrain(now: now, complete: pending.isEmpty)
    }

    /// Whether a captured flush still waits for outputs of a drained partition. Only a drain asks, and
    /// it waits on all outputs; the flush then enters the outbox at its next step.
    private var hasUnreleasedFlushes: Bool {
        partitions.values.contains { $0.flushes.contains { $0.records != nil } }
    }

    /// Ends the drain on `error`. Outputs put back for another attempt are produced again when the loop
    /// goes on (after a revocation); at shutdown they stay unacknowledged and their inputs are consumed again.
    private mutating func abandonDrain(_ error: LoopError, retries: [Action], now: Duration) -> [Action] {
        if case .draining(.shutdown, _) = phase { shutdownDrainFailure = "\(error)" }
        let ending = [Action.abandonDrain(error)] + finishDrain(now: now, complete: false)
        guard phase == .running, !retries.isEmpty else { return ending }
        return retries + ending + [.send]
    }

    /// After a revocation drain: store the revoked partitions' finished inputs, then suspend the shards
    /// of those left fully flushed by a `complete` drain (every output acknowledged, none abandoned)
    /// and drop the others. After the shutdown drain: store every finished input and commit.
    private mutating func finishDrain(now: Duration, complete: Bool) -> [Action] {
        guard case .draining(let purpose, _) = phase else { return [] }
        drainFailure = nil
        switch purpose {
        case .revocation(let revokedPartitions):
            phase = .running
            let stored = storeFinished(revokedPartitions, now: now)
            return stored + (complete ? suspend(revokedPartitions) : retire(revokedPartitions))
        case .shutdown:
            phase = .committing
            return storeFinished(assignedPartitions, now: now) + [.commit]
        }
    }
}

/// The inputs of one partition in arrival order, each with its count of unacknowledged outputs: an
/// offset may be stored once its outputs and those of every earlier input are acknowledged, and,
/// with the changelog on, once a fully acknowledged flush reflects it (`flushedThrough`). An output
/// names its input by the `Ticket` `track` gave it, so an acknowledgement is an index, not a lookup.
struct InputProgress {
    /// An input's place in arrival order.
    typealias Ticket = Int

    private struct Input {
        var offset: Int64
        var unacknowledged: Int
        var receivedAt: Duration
    }

    /// Inputs from the oldest one kept, in arrival order: `inputs[i]` has the ticket `firstTicket + i`.
    private var inputs: [Input] = []
    private var firstTicket: Ticket = 0
    /// The index in `inputs` of the first input not done.
    private var head = 0
    /// Receive times of inputs done since the last `takeFinished`, for their latencies.
    private var finished: [Duration] = []
    /// Highest offset whose input and every earlier one are done.
    private(set) var doneThrough: Int64?
    /// The stamp of the latest fully acknowledged changelog flush: inputs through it are durable.
    var flushedThrough: Int64?
    /// The offset last handed to the consumer's store.
    var storedThrough: Int64?

    /// Registers an input with `outputs` outputs to acknowledge (one with none is done at once), and
    /// returns the ticket its outputs are acknowledged with.
    mutating func track(offset: Int64, outputs: Int, receivedAt instant: Duration) -> Ticket {
        inputs.append(Input(offset: offset, unacknowledged: outputs, receivedAt: instant))
        return firstTicket + inputs.count - 1
    }

    /// Records one delivered output of the input `ticket` names.
    mutating func acknowledge(_ ticket: Ticket) {
        let index = ticket - firstTicket
        guard index >= head, index < inputs.count, inputs[index].unacknowledged > 0 else { return }
        inputs[index].unacknowledged -= 1
    }

    /// Advances the contiguous watermark, keeping the receive times of the inputs that finished.
    mutating func advance() {
        while head < inputs.count, inputs[head].unacknowledged == 0 {
            finished.append(inputs[head].receivedAt)
            doneThrough = inputs[head].offset
            head += 1
        }
        if head == inputs.count {
            firstTicket += head
            inputs.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 4096, head * 2 > inputs.count {
            firstTicket += head
            inputs.removeFirst(head)
            head = 0
        }
    }

    /// The receive times of the inputs finished since the last call.
    mutating func takeFinished() -> [Duration] {
        guard !finished.isEmpty else { return [] }
        defer { finished.removeAll(keepingCapacity: true) }
        return finished
    }
}
