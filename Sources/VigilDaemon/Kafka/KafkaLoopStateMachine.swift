import VigilKafka

/// Every decision of the Kafka loop, as a value: which partitions are assigned, which outputs await
/// their delivery report, which input offsets may be stored (at least once), backpressure, readiness,
/// the revocation drain and the shutdown sequence with its deadline. It performs no I/O and reads no
/// clock: `KafkaLoop` (the driver) feeds it events with the time since the loop started, performs the
/// actions it returns, in order, and reports their results as further events. So rebalance,
/// backpressure and shutdown are tested without a broker (`KafkaLoopStateMachineTests`).
///
/// The engine step (`Pipeline.process`) stays the driver's: between `inputArrived` and
/// `inputProcessed` it runs the message through the partition's pipeline.
///
/// The revocation commit, and its retry while an eager-protocol group rejects it, is `KafkaConsumer`'s:
/// it runs right after the rebalance callback returns, on what the machine stored during it.
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
        /// How long shutdown waits for outstanding outputs (`kafka.shutdown_timeout`).
        var shutdownTimeout: Duration
        /// The longest drain on a revocation: the whole group waits for this member meanwhile.
        var revocationDrainLimit = Duration.seconds(10)
        /// One flush of a drain, so that a drain notices its deadline.
        var drainStep = Duration.milliseconds(200)
    }

    /// One output on its way to a topic, kept whole so that a failed delivery can be produced again.
    struct Output: Equatable {
        var topic: String
        var key: String?
        var payload: [UInt8]
        var headers: [KafkaHeader]
    }

    enum DeliveryOutcome: Equatable {
        case delivered
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
        case producerStalled(Duration, waiting: Int)
        case produceFailed(reason: String)
        case finalCommitFailed(reason: String)
        var description: String {
            switch self {
            case let .deliveryFailed(topic, attempts, reason):
                "delivery to \(topic) failed \(attempts) times, last: \(reason)"
            case let .producerStalled(duration, waiting):
                "the producer queue stayed full for \(duration) without any progress (\(waiting) outputs waiting)"
            case let .produceFailed(reason):
                "producing an output failed: \(reason)"
            case let .finalCommitFailed(reason):
                "the final offset commit failed: \(reason); inputs after the last commit will be consumed again"
            }
        }
    }

    enum Action: Equatable {
        /// Reconfigure every shard with the configuration the driver took from the mailbox.
        case applyConfig(policyVersion: String)
        /// Serve the producer's delivery reports, waiting up to `timeout`; report them with `delivered`.
        case pollDeliveries(timeout: Duration)
        /// Poll the consumer; report each message with `inputArrived`/`inputProcessed`, then `polled`.
        case poll(maxMessages: Int, timeout: Duration)
        /// Create the pipeline of a newly owned partition.
        case openShard(KafkaTopicPartition)
        /// Drop the pipeline of a partition no longer owned, keeping its counts in the totals.
        case retireShard(KafkaTopicPartition)
        /// Produce the outbox in order with `nextOutput` and `outputSent`, stopping at a full queue.
        case send
        /// Log that a failed delivery is produced again (its output is back in the outbox).
        case retryDelivery(topic: String, attempt: Int, reason: String)
        /// Pause all assigned partitions (nil) or the listed ones: the producer's queue is full.
        case pause([KafkaTopicPartition]?, waitingOutputs: Int)
        /// Resume all assigned partitions: the producer's queue has room again.
        case resume(pausedFor: Duration)
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
        /// Commit the stored offsets synchronously; report with `committed`.
        case commit
        /// Leave the group (the consumer's final revocation comes back through `revoked`).
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
    }

    /// One produced output awaiting its delivery report.
    private struct PendingOutput {
        var partition: KafkaTopicPartition
        var generation: UInt64
        var inputOffset: Int64
        var output: Output
        var attempts: Int
    }

    private var configuration: Configuration
    private var phase = Phase.running
    private var partitions: [KafkaTopicPartition: Partition] = [:]
    private var nextGeneration: UInt64 = 1
    private var pending: [Token: PendingOutput] = [:]
    private var nextToken: Token = 1
    /// Outputs not yet accepted by the producer, in order. While any wait behind a full queue,
    /// consumption is paused (backpressure) and new outputs queue up behind them (per-key order).
    private var outbox: [Token] = []
    private var outboxHead = 0
    private var backpressureSince: Duration?
    /// The latest delivery report or enqueue under backpressure, for the stall limit.
    private var lastProgress = Duration.zero
    private var backpressureEpisodes = 0
    private var brokersDownReason: String?
    /// Set by the first assignment: a member of the group may legitimately own no partition.
    private var joinedGroup = false
    private var finalCommitFailure: String?
    /// A produce call failed during the current drain: it ends at its next step.
    private var drainFailure: String?

    init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// The partitions currently owned, in a stable order.
    var assignedPartitions: [KafkaTopicPartition] { partitions.keys.sorted(by: Self.order) }

    /// Outputs produced or waiting to be, whose delivery is not yet reported.
    var outstandingOutputs: Int { pending.count }

    /// True between a drain's start (revocation or shutdown) and its end.
    var isDraining: Bool {
        if case .draining = phase { true } else { false }
    }

    /// Not ready while all brokers are down, or before the group assigned this member anything.
    var readiness: Readiness {
        if let brokersDownReason { return .notReady(brokersDownReason) }
        if joinedGroup || !partitions.isEmpty { return .ready }
        return .notReady("joining consumer group")
    }

    // MARK: The batch

    /// Starts a batch: a stop request begins the shutdown; otherwise a posted configuration is applied
    /// (between two batches, never inside one), delivery reports are served under backpressure, then
    /// the consumer is polled (without waiting under backpressure: the reports are what it waits for).
    mutating func nextBatch(
        now: Duration, stopRequested: Bool, postedConfig: (policyVersion: String, shutdownTimeout: Duration)?
    )
        -> [Action]
    {
        guard phase == .running else { return [] }
        if stopRequested {
            phase = .draining(.shutdown, deadline: now + configuration.shutdownTimeout)
            return [.beginShutdown(outstandingOutputs: pending.count)] + drainStep(now: now)
        }
        var actions: [Action] = []
        if let postedConfig {
            configuration.shutdownTimeout = postedConfig.shutdownTimeout
            actions.append(.applyConfig(policyVersion: postedConfig.policyVersion))
        }
        if backpressureSince != nil {
            actions += [.pollDeliveries(timeout: configuration.backpressureReportWait), .send]
        }
        actions.append(
            .poll(
                maxMessages: configuration.batchSize,
                timeout: backpressureSince == nil ? configuration.pollTimeout : .zero))
        return actions
    }

    /// A polled message is about to be processed: its partition's shard is opened when new.
    mutating func inputArrived(_ partition: KafkaTopicPartition) -> [Action] {
        guard partitions[partition] == nil else { return [] }
        open(partition)
        return [.openShard(partition)]
    }

    /// The pipeline turned the input at `offset` into `outputs`: they join the outbox, and the input
    /// is done once every one of them is delivered.
    mutating func inputProcessed(
        _ partition: KafkaTopicPartition, offset: Int64, outputs: [Output], now: Duration
    )
        -> [Action]
    {
        guard let generation = partitions[partition]?.generation else { return [] }
        partitions[partition]?.progress.track(offset: offset, outputs: outputs.count, receivedAt: now)
        let sendNow = outboxIsEmpty
        for output in outputs {
            let token = nextToken
            nextToken += 1
            pending[token] = PendingOutput(
                partition: partition, generation: generation, inputOffset: offset, output: output, attempts: 1)
            outbox.append(token)
        }
        return sendNow && !outputs.isEmpty ? [.send] : []
    }

    /// The poll returned `messageCount` messages (all reported): serve delivery reports, then end the batch.
    mutating func polled(messageCount: Int) -> [Action] {
        if messageCount > 0 { brokersDownReason = nil }
        return [.pollDeliveries(timeout: .zero), .endBatch]
    }

    /// Delivery reports served outside a drain: a failure that cannot be retried is fatal.
    mutating func delivered(_ reports: [(token: Token, outcome: DeliveryOutcome)], now: Duration) -> [Action] {
        if backpressureSince != nil, !reports.isEmpty { lastProgress = now }
        let sendRetries = outboxIsEmpty
        let handled = handle(reports)
        if let failure = handled.failure { return fail(failure) }
        let retries = handled.retries
        return retries + (sendRetries && !retries.isEmpty ? [.send] : [])
    }

    /// Ends a batch: backpressure is entered or left (or the stall limit fails the loop), finished
    /// inputs are stored, and the status published.
    mutating func batchEnded(now: Duration, producerQueued: Int) -> [Action] {
        var actions: [Action] = []
        if let since = backpressureSince {
            if outboxIsEmpty, producerQueued <= configuration.resumeBelow {
                backpressureSince = nil
                actions.append(.resume(pausedFor: now - since))
            } else if let limit = configuration.maxProducerStall, now - lastProgress > limit {
                return fail(.producerStalled(now - lastProgress, waiting: outbox.count - outboxHead))
            }
        } else if !outboxIsEmpty {
            backpressureSince = now
            lastProgress = now
            backpressureEpisodes += 1
            actions.append(.pause(nil, waitingOutputs: outbox.count - outboxHead))
        }
        actions += storeFinished(assignedPartitions, now: now)
        actions.append(.publishStatus(status(readiness)))
        return actions
    }

    // MARK: The outbox

    /// The next output to produce, dropping those of partitions given up since (their next owner
    /// processes the inputs again); nil when the outbox is empty.
    mutating func nextOutput(now: Duration) -> (token: Token, output: Output)? {
        while outboxHead < outbox.count {
            let token = outbox[outboxHead]
            if let entry = pending[token] {
                if partitions[entry.partition]?.generation == entry.generation { return (token, entry.output) }
                pending[token] = nil
            }
            popOutbox(now: now)
        }
        return nil
    }

    /// The producer accepted the output `nextOutput` returned.
    mutating func outputSent(now: Duration) { popOutbox(now: now) }

    // MARK: Rebalances and the consumer

    /// Partitions assigned (inside a poll). Under backpressure they are paused like the others.
    mutating func assigned(_ newPartitions: [KafkaTopicPartition]) -> [Action] {
        var actions: [Action] = []
        for partition in newPartitions where partitions[partition] == nil {
            open(partition)
            actions.append(.openShard(partition))
        }
        if backpressureSince != nil { actions.append(.pause(newPartitions, waitingOutputs: outbox.count - outboxHead)) }
        brokersDownReason = nil
        joinedGroup = true
        return actions
    }

    /// Partitions about to be taken away (inside a poll or close). Unless lost, or the loop is
    /// closing, outstanding outputs are drained first and finished inputs stored, so that the
    /// consumer's revocation commit hands the partitions over with everything done.
    mutating func revoked(_ revokedPartitions: [KafkaTopicPartition], lost: Bool, now: Duration) -> [Action] {
        guard !lost, phase == .running else { return retire(revokedPartitions) }
        let drain = min(configuration.shutdownTimeout, configuration.revocationDrainLimit)
        phase = .draining(.revocation(revokedPartitions), deadline: now + drain)
        return drainStep(now: now)
    }

    /// All brokers are down (a consumer or producer warning): not ready until one answers again.
    mutating func brokersDown(reason: String) {
        brokersDownReason = "all Kafka brokers are down: \(reason)"
    }

    /// Storing `offset` failed (the partition may be going away): it is stored again next batch.
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
        if let failure = handled.failure { return fail(failure) }
        if let abandoned = handled.abandoned {
            return abandonDrain(abandoned, retries: handled.retries, now: now)
        }
        if let reason = drainFailure {
            return abandonDrain(.produceFailed(reason: reason), retries: handled.retries, now: now)
        }
        return handled.retries + [.send] + drainStep(now: now)
    }

    /// Producing failed during a drain (a client error, not a full queue): like a failed delivery,
    /// it ends the drain, at its next step, not the loop.
    mutating func sendFailedWhileDraining(reason: String) {
        if isDraining { drainFailure = reason }
    }

    /// The final commit's outcome (nil: committed).
    mutating func committed(failure: String?) -> [Action] {
        guard phase == .committing else { return [] }
        finalCommitFailure = failure
        phase = .closing
        return [.close]
    }

    /// The consumer is closed: publish the final status and end.
    mutating func closed() -> [Action] {
        guard phase == .closing else { return [] }
        phase = .finished
        return [
            .publishStatus(status(.notReady("shutting down"))),
            .finish(finalCommitFailure.map { .finalCommitFailed(reason: $0) }),
        ]
    }

    /// The driver hit a fatal error of its own (a client call threw): no drain on the way out.
    mutating func failed() { phase = .finished }

    // MARK: Private

    private static func order(_ a: KafkaTopicPartition, _ b: KafkaTopicPartition) -> Bool {
        (a.topic, a.partition) < (b.topic, b.partition)
    }

    private var outboxIsEmpty: Bool { outboxHead == outbox.count }

    private func status(_ readiness: Readiness) -> Status {
        Status(
            readiness: readiness, backpressureActive: backpressureSince != nil,
            backpressureEpisodes: backpressureEpisodes)
    }

    private mutating func open(_ partition: KafkaTopicPartition) {
        partitions[partition] = Partition(generation: nextGeneration)
        nextGeneration += 1
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
        /// The first delivery given up for a partition the current drain gives up.
        var abandoned: LoopError?
        /// The first delivery given up for a partition that stays assigned: the loop cannot go on.
        var failure: LoopError?
    }

    /// Acknowledges delivered outputs and puts failed ones back in the outbox (bounded attempts). Every
    /// report of the batch is handled, even after a failure, so that no output stays pending forever.
    /// Reports for partitions given up since are dropped: their next owner redoes the inputs.
    private mutating func handle(_ reports: [(token: Token, outcome: DeliveryOutcome)]) -> HandledReports {
        var handled = HandledReports()
        for (token, outcome) in reports {
            guard var entry = pending.removeValue(forKey: token),
                partitions[entry.partition]?.generation == entry.generation
            else { continue }
            switch outcome {
            case .delivered:
                brokersDownReason = nil
                partitions[entry.partition]?.progress.acknowledge(offset: entry.inputOffset)
            case let .failed(reason, isFatal):
                guard !isFatal, entry.attempts < configuration.maxDeliveryAttempts else {
                    let error = LoopError.deliveryFailed(
                        topic: entry.output.topic, attempts: entry.attempts, reason: reason)
                    if isGivenUpByTheDrain(entry.partition) {
                        handled.abandoned = handled.abandoned ?? error
                    } else {
                        handled.failure = handled.failure ?? error
                    }
                    continue
                }
                handled.retries.append(
                    .retryDelivery(topic: entry.output.topic, attempt: entry.attempts, reason: reason))
                entry.attempts += 1
                pending[token] = entry
                outbox.append(token)
            }
        }
        return handled
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

    /// Finished inputs of `selected` partitions: their latencies, and their offsets when they moved.
    private mutating func storeFinished(_ selected: [KafkaTopicPartition], now: Duration) -> [Action] {
        var actions: [Action] = []
        for partition in selected {
            guard var progress = partitions[partition]?.progress else { continue }
            let latencies = progress.advance().map { now - $0 }
            if !latencies.isEmpty { actions.append(.recordLatencies(latencies)) }
            if let done = progress.doneThrough, done != progress.storedThrough {
                progress.storedThrough = done
                actions.append(.storeOffset(partition, done))
            }
            partitions[partition]?.progress = progress
        }
        return actions
    }

    private mutating func retire(_ retired: [KafkaTopicPartition]) -> [Action] {
        retired.compactMap { partitions.removeValue(forKey: $0) == nil ? nil : .retireShard($0) }
    }

    /// Flushes again while outputs are outstanding and the deadline is ahead, else ends the drain.
    private mutating func drainStep(now: Duration) -> [Action] {
        guard case .draining(_, let deadline) = phase else { return [] }
        if !pending.isEmpty, now < deadline {
            return [.flush(timeout: min(deadline - now, configuration.drainStep))]
        }
        return (pending.isEmpty ? [] : [.drainTimedOut(outstandingOutputs: pending.count)]) + finishDrain(now: now)
    }

    /// Ends the drain on `error`. Outputs put back for another attempt are produced again when the loop
    /// goes on (after a revocation); at shutdown they stay unacknowledged and their inputs are consumed again.
    private mutating func abandonDrain(_ error: LoopError, retries: [Action], now: Duration) -> [Action] {
        let ending = [Action.abandonDrain(error)] + finishDrain(now: now)
        guard phase == .running, !retries.isEmpty else { return ending }
        return retries + ending + [.send]
    }

    /// After a revocation drain: store the revoked partitions' finished inputs, then drop their shards.
    /// After the shutdown drain: store every finished input and commit.
    private mutating func finishDrain(now: Duration) -> [Action] {
        guard case .draining(let purpose, _) = phase else { return [] }
        drainFailure = nil
        switch purpose {
        case .revocation(let revokedPartitions):
            phase = .running
            return storeFinished(revokedPartitions, now: now) + retire(revokedPartitions)
        case .shutdown:
            phase = .committing
            return storeFinished(assignedPartitions, now: now) + [.commit]
        }
    }
}

/// Input offsets of one partition in arrival order, each with its count of unacknowledged outputs:
/// an offset may be stored once its outputs and those of every earlier input are acknowledged.
struct InputProgress {
    private var offsets: [Int64] = []
    private var head = 0
    private var remaining: [Int64: Int] = [:]
    private var receivedAt: [Int64: Duration] = [:]
    /// Highest offset whose input and every earlier one are done.
    private(set) var doneThrough: Int64?
    /// The offset last handed to the consumer's store.
    var storedThrough: Int64?

    /// Registers an input with `outputs` outputs to acknowledge; one with none is done at once.
    mutating func track(offset: Int64, outputs: Int, receivedAt instant: Duration) {
        offsets.append(offset)
        remaining[offset] = outputs
        receivedAt[offset] = instant
    }

    /// Records one delivered output of the input at `offset`.
    mutating func acknowledge(offset: Int64) {
        if let count = remaining[offset], count > 0 { remaining[offset] = count - 1 }
    }

    /// Advances the contiguous watermark; returns the receive times of the inputs that finished.
    mutating func advance() -> [Duration] {
        var finished: [Duration] = []
        while head < offsets.count, remaining[offsets[head]] == 0 {
            let offset = offsets[head]
            remaining[offset] = nil
            if let instant = receivedAt.removeValue(forKey: offset) { finished.append(instant) }
            doneThrough = offset
            head += 1
        }
        if head > 4096, head * 2 > offsets.count {
            offsets.removeFirst(head)
            head = 0
        }
        return finished
    }
}
