import Foundation
import Logging
import Synchronization
import VigilCore
import VigilKafka
import _VigilMachinery

/// The Kafka loop of `vigil run`: poll a batch of the input topics and the stages' repartition topics,
/// run each message through its partition's shard (`PartitionShard`: the decode stage on an input
/// partition, a keyed stage on a repartition topic's), produce what it made (decisions, alerts, dead
/// letters, stage records, source-risk facts), and store an offset only once everything it caused is
/// acknowledged (at least once). This class is the thin driver: `KafkaLoopStateMachine` makes every
/// decision, and this performs its actions with the consumer, the producers and the shards. Everything
/// here runs on one dedicated thread, as librdkafka's clients require, except the shards' work on a
/// batch: its partitions run side by side on `engine.threads` threads (`PartitionWorkers`) while this
/// thread waits for them.
///
/// With `state.changelog` on it also restores each assigned partition's shard (local snapshot, then
/// the changelog partition read with a `KafkaPartitionReader`), produces the flushes the machine
/// asks to capture, and hands acknowledged snapshots to a `SnapshotWriter`. A shard the machine
/// suspends at a revocation is kept aside and used again, without a restore, when the partition comes
/// back and its changelog partition still ends at the shard's last checkpoint.
final class KafkaLoop: @unchecked Sendable {
    struct Settings {
        var config: LoadedConfig
        var consumer: KafkaConfiguration
        var producer: KafkaConfiguration
        var enricher: Enricher?
        var deviceKey: SipHashKey
        /// Signs the signals stream's tokens (`ssf.signing_keys`); nil: none configured, and
        /// `ssf.enabled` cannot be on (the config's rules).
        var signer: SecurityEventSigner?
        var batchSize = 500
        /// Threads a batch's partitions run on (`engine.threads` resolved), the loop's own included.
        var threads = 1
        var pollTimeout = Duration.milliseconds(100)
        /// Re-produce attempts for an output whose delivery failed non-fatally, before giving up.
        var maxDeliveryAttempts = 3
        /// How long the producer's queue may stay full with no output delivered or enqueued before the
        /// loop fails; nil waits forever. See `KafkaPipelineService.maxProducerStall`.
        var maxProducerStall: Duration? = .seconds(360)
        /// How long outputs may stay outstanding with none acknowledged before the daemon says it is
        /// not ready; nil: never. See `KafkaPipelineService.deliveryStallLimit`.
        var deliveryStallLimit: Duration? = .seconds(30)
    }

    /// What makes state durable, opened before the loop starts (`KafkaPipelineService.prepareStart`).
    struct DurableState {
        /// `state.dir`, locked for this process.
        var directory: StateDirectory
        /// The changelog topic, created or validated.
        var changelogTopic: String
        /// Its partition count: an input partition at or beyond it fails the loop.
        var changelogPartitions: Int
    }

    /// A restore action for a partition without a shard or restore to act on: a bug, reported rather
    /// than taken for an empty state.
    private struct RestoreNotStarted: Error, CustomStringConvertible {
        var partition: KafkaTopicPartition
        var description: String { "internal error: no restore in progress for \(partition); restart Vigil" }
    }

    /// One partition's restore in progress: the changelog partition read from after the snapshot's
    /// checkpoint (or from its beginning) up to its end as of the start.
    private struct Restore {
        var reader: KafkaPartitionReader
        var startedAt: ContinuousClock.Instant
        /// The stamp of the local snapshot it started from; nil: from the changelog alone.
        var snapshotStamp: Int64?
        /// The state-shaping settings the local snapshot was written under, when it says.
        var snapshotDigest: UInt64?
        /// The offset of the last changelog record read.
        var lastOffset: Int64?
    }

    /// The fetch queue all restore readers share (`queued.max.messages.kbytes`, split between the
    /// restores running at once): librdkafka's default of 64 MiB per reader would prefetch gigabytes
    /// when many partitions restore.
    private static let restoreFetchBudgetKilobytes = 16 * 1024

    private typealias StateMachine = KafkaLoopStateMachine

    private let stopRequested = Atomic<Bool>(false)
    /// `kafka.shutdown_timeout` in force (it may be reloaded), in milliseconds, for the shutdown watchdog.
    private let shutdownTimeoutMilliseconds: Atomic<Int64>
    private var settings: Settings
    private let mailbox: ConfigMailbox
    private let status: DaemonStatus
    private let metrics: DaemonMetrics
    private let logger: Logger

    // Owned by the loop thread from here on.
    private var machine: StateMachine
    /// The origin of the machine's clock.
    private let startedAt = ContinuousClock.now
    private var policyVersion: String {
        didSet { outputHeaders = Self.outputHeaders(policyVersion: policyVersion) }
    }
    /// The headers every output carries, built once per policy version rather than once per output.
    private var outputHeaders: [KafkaHeader]
    private var shards: [KafkaTopicPartition: PartitionShard] = [:]
    /// Shards of revoked partitions kept for the assignment that follows (their counts stay in the totals).
    private var suspendedShards: [KafkaTopicPartition: PartitionShard] = [:]
    /// Why a partition's state is restored when it is not simply newly assigned: logged by its restore.
    private var restoreReasons: [KafkaTopicPartition: String] = [:]
    private var retiredStats = PipelineStats()
    /// Evictions of revoked shards, so the eviction counters never go down on a rebalance.
    private var retiredEvictions = StateFigures()
    /// State figures cost a pass over every shard's global windows: refreshed at most once a second.
    private var stateFiguresAt: ContinuousClock.Instant?
    /// The configuration taken from the mailbox, until the machine says to apply it.
    private var postedConfig: LoadedConfig?
    /// Per-message warnings (failed deliveries, offsets not stored), one line per kind and 10 s.
    private var repeatedWarnings = RepeatedWarnings(interval: .seconds(10))
    /// The newest input timestamp of the current batch, for the event-time lag.
    private var newestTimestamp: Int64?
    /// A fatal error inside a rebalance callback (which cannot throw), thrown once the poll returns.
    private var callbackFailure: (any Error)?
    /// Set by the machine's `finish`: the loop is over, with this error when it ended in failure.
    private var finished = false
    private var finishFailure: StateMachine.LoopError?
    private var consumer: KafkaConsumer?
    /// What each client's brokers looked like at the previous batch's end, to log changes.
    private var brokerHealth: (input: KafkaBrokerHealth?, output: KafkaBrokerHealth?, changelog: KafkaBrokerHealth?)
    /// Set once the shutdown closed the consumer: its lag is no longer read.
    private var consumerClosed = false
    private var producer: KafkaProducer?
    /// With the changelog on, its records go through a producer of their own: they batch for longer
    /// than outputs (`changelogLinger`) since they hold back only offset commits, and its broker
    /// thread takes the flushes' bursts without contending with the outputs' for their partition
    /// queues.
    private var changelogProducer: KafkaProducer?
    private var durableState: DurableState?
    /// The stages' topics, known once they are set up (`run`).
    private var topology: StageTopology?
    /// The global tables every user stage shard reads, started by `run` before the first poll.
    private var globalFacts: GlobalFactTables?
    /// `durableState`'s changelog topic, read for every record produced.
    private var changelogTopic = ""
    private var snapshotWriter: SnapshotWriter?
    /// The threads a batch's partitions run on, started by `run`.
    private var workers: PartitionWorkers?
    private var restores: [KafkaTopicPartition: Restore] = [:]
    /// The offset of the last changelog record this process had acknowledged, per changelog partition:
    /// the stage shards of one partition number share it, each writing its own scope.
    private var changelogWrittenThrough: [Int32: Int64] = [:]
    /// Changelog records and bytes produced since the status was last published.
    private var changelogWritten = (records: 0, bytes: 0)

    init(settings: Settings, mailbox: ConfigMailbox, status: DaemonStatus, metrics: DaemonMetrics, logger: Logger) {
        self.settings = settings
        self.mailbox = mailbox
        self.status = status
        self.metrics = metrics
        self.logger = logger
        policyVersion = settings.config.policyVersion
        outputHeaders = Self.outputHeaders(policyVersion: settings.config.policyVersion)
        shutdownTimeoutMilliseconds = Atomic(Self.milliseconds(Self.shutdownTimeout(settings.config)))
        // Half of the producer's queue (`queue.buffering.max.messages`, librdkafka's default 100,000).
        let queueCapacity = settings.producer["queue.buffering.max.messages"].flatMap { Int($0) } ?? 100_000
        var configuration = StateMachine.Configuration(
            batchSize: settings.batchSize, pollTimeout: settings.pollTimeout,
            maxDeliveryAttempts: settings.maxDeliveryAttempts, maxProducerStall: settings.maxProducerStall,
            resumeBelow: queueCapacity / 2, shutdownTimeout: Self.shutdownTimeout(settings.config),
            deliveryStallLimit: settings.deliveryStallLimit)
        let state = settings.config.config.state
        if state.changelog {
            configuration.changelog = StateMachine.Changelog(
                topic: InternalTopics.Names(settings.config.config).changelog,
                flushInterval: .microseconds(state.flushInterval.microseconds),
                snapshotInterval: state.snapshotInterval.microseconds > 0
                    ? .microseconds(state.snapshotInterval.microseconds) : nil,
                statelessTopics: settings.config.config.topology.inputKeyedByUser
                    ? [] : Set(settings.config.config.kafka.inputTopics))
        }
        machine = StateMachine(configuration: configuration)
    }

    /// Asks the loop to finish the current batch and shut down cleanly; callable from any thread.
    func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// `kafka.shutdown_timeout` in force now; callable from any thread.
    var shutdownTimeout: Duration { .milliseconds(shutdownTimeoutMilliseconds.load(ordering: .relaxed)) }

    /// The loop body; blocks until stopped or failed. Throws on a fatal Kafka error, and when the
    /// final commit failed. `topics` are the internal topics as set up; `durableState` is required with
    /// `state.changelog` on, and ignored otherwise. `globalFacts` are the global tables' readers, not
    /// started: the loop starts them, waits until they caught up (as Kafka Streams bootstraps a global
    /// table before processing), and stops them when it ends.
    func run(topics: InternalTopics.Prepared, globalFacts: GlobalFactTables, durableState: DurableState?) throws {
        logger.info(
            "starting Kafka loop",
            metadata: [
                "consumer": "\(settings.consumer)", "producer": "\(settings.producer)",
                "policy_version": "\(policyVersion)", "threads": "\(settings.threads)",
            ])
        // The clients are destroyed when the loop ends, not when the service is released.
        defer { release(globalFacts) }
        let topology = StageTopology(topics)
        self.topology = topology
        workers = PartitionWorkers(threads: settings.threads)
        self.globalFacts = globalFacts
        if let durableState {
            self.durableState = durableState
            changelogTopic = durableState.changelogTopic
            machine.changelogPartitionCount(durableState.changelogPartitions)
            let metrics = self.metrics
            let logger = self.logger
            snapshotWriter = SnapshotWriter(
                directory: durableState.directory,
                onWritten: { _ in metrics.recordSnapshotWrite(succeeded: true) },
                onFailure: { snapshot, error in
                    metrics.recordSnapshotWrite(succeeded: false)
                    logger.warning(
                        "could not write a local snapshot; the next restore reads more of the changelog",
                        metadata: [
                            "partition": "\(snapshot.inputTopic)[\(snapshot.inputPartition)]", "error": "\(error)",
                        ])
                })
        }
        let producer = try KafkaProducer(configuration: settings.producer, logger: logger) { [weak self] in
            self?.warn($0)
        }
        // A full queue is not waited out inside produce: the loop applies backpressure instead.
        producer.queueFullTimeout = .zero
        self.producer = producer
        if durableState != nil {
            var configuration = settings.producer
            let linger = configuration["linger.ms"].flatMap { Int($0) } ?? 0
            configuration["linger.ms"] = String(max(linger, Self.changelogLingerMilliseconds))
            let changelogProducer = try KafkaProducer(configuration: configuration, logger: logger) {
                [weak self] in self?.warn($0)
            }
            changelogProducer.queueFullTimeout = .zero
            self.changelogProducer = changelogProducer
        }
        let consumer = try KafkaConsumer(
            configuration: settings.consumer, logger: logger,
            onRebalance: { [weak self] in self?.rebalanced($0) },
            onWarning: { [weak self] in self?.warn($0) })
        self.consumer = consumer
        metrics.recordPolicyVersion(policyVersion)
        guard loadGlobalTables(globalFacts) else { return }
        status.update { $0.notReadyReason = "joining consumer group" }
        try consumer.subscribe(topics: topology.subscription(inputTopics: settings.config.config.kafka.inputTopics))
        do {
            while !finished {
                let stop = stopRequested.load(ordering: .relaxed)
                postedConfig = stop ? nil : mailbox.take()
                try perform(
                    machine.nextBatch(
                        now: now, stopRequested: stop,
                        postedConfig: postedConfig.map { ($0.policyVersion, Self.shutdownTimeout($0)) }))
            }
        } catch {
            machine.failed()
            logger.critical(
                "Kafka loop failed; stopping without flushing. Undelivered inputs will be consumed again",
                metadata: ["error": "\(error)"])
            status.update {
                $0.ready = false
                $0.notReadyReason = "fatal Kafka error: \(error)"
            }
            metrics.recordReady(false)
            // Offsets stored so far cover only fully delivered inputs: committing them is safe. Bounded:
            // the failure may be an outage, which would hold the group leave.
            _ = try? consumer.close(timeout: shutdownTimeout)
            throw error
        }
        if let finishFailure { throw finishFailure }
    }

    /// Starts the global tables and waits until each has read its whole topic, saying so in the
    /// readiness reason; false when a stop was requested first.
    private func loadGlobalTables(_ tables: GlobalFactTables) -> Bool {
        tables.start()
        while !stopRequested.load(ordering: .relaxed) {
            guard let reason = tables.loadingReason else { return true }
            status.update { $0.notReadyReason = reason }
            Thread.sleep(forTimeInterval: 0.02)
        }
        logger.info("Kafka loop stopped before the global tables were loaded")
        return false
    }

    /// Destroys the clients and stops the threads the loop started (`BoundedRelease`): waits for them
    /// `releaseBudget` at most, then says which step is still under way and lets the process go on
    /// stopping. Nothing left to deliver or commit depends on it: the drain and the commit are over.
    private func release(_ globalFacts: GlobalFactTables) {
        // Vigil's own threads first (they end by themselves), then librdkafka's clients, whose destruction
        // may wait on brokers.
        let release = BoundedRelease(steps: [
            .init(name: "the snapshot writer") { self.snapshotWriter?.stop() },
            .init(name: "the partition workers") {
                self.workers?.stop()
                self.workers = nil
            },
            .init(name: "the input consumer") { self.consumer = nil },
            .init(name: "the output producer") { self.producer = nil },
            .init(name: "the changelog producer") { self.changelogProducer = nil },
            .init(name: "the restore readers") { self.restores.removeAll() },
            .init(name: "the global tables' readers") { globalFacts.stop() },
        ])
        if let unfinished = release.run(budget: Self.releaseBudget) {
            logger.warning(
                "releasing the loop's clients and threads did not finish in time: stopping without waiting for it",
                metadata: ["still_releasing": "\(unfinished)", "waited": "\(Self.releaseBudget)"])
        }
    }

    /// How long the loop's end waits for its clients' destruction: well inside the watchdog's margin
    /// (`KafkaPipelineService.shutdownMargin`), so that an overrun is logged and the other services
    /// still stop by themselves.
    static let releaseBudget = Duration.seconds(2)

    /// The machine's clock: time since the loop started.
    private var now: Duration { ContinuousClock.now - startedAt }

    /// Performs the machine's actions in order; the results of an action go back to the machine
    /// at once, and the actions it answers with are performed before the next one.
    private func perform(_ actions: [StateMachine.Action]) throws {
        guard let consumer, let producer else { return }
        for action in actions {
            switch action {
            case .applyConfig:
                if let next = postedConfig { adopt(next) }
                postedConfig = nil
            case .pollDeliveries(let timeout):
                var reports = try producer.poll(timeout: timeout)
                if let changelogProducer { reports += noteChangelogWrites(try changelogProducer.poll()) }
                try perform(machine.delivered(reports.map(Self.delivery), now: now))
            case .poll(let maxMessages, let timeout):
                try poll(consumer, maxMessages: maxMessages, timeout: timeout)
            case .openShard(let partition):
                shards[partition] = makeShard(partition)
            case .retireShard(let partition):
                retire(partition)
            case .suspendShard(let partition):
                suspendShard(partition)
            case let .checkSuspendedShard(partition, checkpoint):
                let kept = reuseSuspendedShard(partition, checkpoint: checkpoint, consumer: consumer)
                try perform(machine.suspendedShardChecked(partition, kept: kept, now: now))
            case .send:
                do {
                    try sendOutbox(producer)
                } catch let error where machine.isDraining {
                    machine.sendFailedWhileDraining(reason: "\(error)")
                }
            case let .retryDelivery(topic, attempt, reason):
                warnRepeatedly(
                    "output delivery to \(topic) failed; producing it again", detail: "attempt \(attempt): \(reason)")
            case .pause(nil, let waiting):
                pausing(consumer)
                logger.warning(
                    "producer queue full: pausing consumption until outputs drain (backpressure)",
                    metadata: ["waiting_outputs": "\(waiting)", "queued": "\(producerQueued)"])
            case .pause(let partitions?, _):
                do {
                    try consumer.pause(partitions)
                } catch {
                    logger.warning("could not pause newly assigned partitions", metadata: ["error": "\(error)"])
                }
            case .resume(let partitions, let pausedFor):
                do {
                    try consumer.resume(partitions)
                } catch {
                    // A restored partition left paused would stall silently while the daemon says ready.
                    if pausedFor == nil, let partition = partitions.first {
                        throw StateMachine.LoopError.resumeFailed(partition, reason: "\(error)")
                    }
                    logger.error("could not resume the input partitions", metadata: ["error": "\(error)"])
                }
                if let pausedFor {
                    logger.notice(
                        "producer queue has room again: consuming again",
                        metadata: ["paused_for": "\(pausedFor)", "queued": "\(producerQueued)"])
                }
            case .endBatch:
                observeBrokerHealth(consumer: consumer, producer: producer)
                try perform(machine.batchEnded(now: now, producerQueued: producerQueued))
            case .recordLatencies(let latencies):
                for latency in latencies { metrics.recordProcessingLatency(latency) }
            case let .storeOffset(partition, offset):
                do {
                    try consumer.storeOffset(topic: partition.topic, partition: partition.partition, offset: offset)
                } catch {
                    machine.storeFailed(partition)
                    warnRepeatedly("could not store the offset of \(partition)", detail: "\(error)")
                }
            case .publishStatus(let report):
                publishStatus(report)
            case .beginShutdown(let outstanding):
                logger.info("stopping Kafka loop: draining outputs", metadata: ["outputs": "\(outstanding)"])
            case .flush(let timeout):
                let started = ContinuousClock.now
                var reports = producer.flush(timeout: timeout)
                if let changelogProducer {
                    // The rest of the step; with none left (outputs that do not drain), at least the
                    // reports already in, so that changelog acknowledgements still store offsets.
                    let left = timeout - (ContinuousClock.now - started)
                    reports += noteChangelogWrites(
                        left > .zero ? changelogProducer.flush(timeout: left) : (try? changelogProducer.poll()) ?? [])
                }
                try perform(machine.drained(reports.map(Self.delivery), now: now))
            case .abandonDrain(let error):
                logger.error("delivery failed while draining", metadata: ["error": "\(error)"])
            case .drainTimedOut(let outstanding):
                logger.warning(
                    "outputs still unacknowledged after the drain timeout; their inputs will be consumed again",
                    metadata: ["outputs": "\(outstanding)"])
            case .commit:
                var failure: String?
                do {
                    try consumer.commit(timeout: machine.remainingShutdownTime(now: now) / 2)
                } catch {
                    logger.warning("final commit failed", metadata: ["error": "\(error)"])
                    failure = "\(error)"
                }
                try perform(machine.committed(failure: failure))
            case .reportUncommitted(let partitions):
                reportUncommitted(partitions, committed: consumer.committedOffsets)
            case .close:
                let left = machine.remainingShutdownTime(now: now)
                if try !consumer.close(timeout: left) {
                    logger.warning(
                        """
                        leaving the consumer group did not finish by the shutdown deadline: stopping without it \
                        (the group reassigns this member's partitions after session.timeout.ms)
                        """,
                        metadata: ["waited": "\(left)"])
                }
                consumerClosed = true
                try perform(machine.closed(now: now))
            case .finish(let failure):
                finished = true
                finishFailure = failure
                logger.info("Kafka loop stopped")
            case .beginRestore(let partition):
                if case .failure(let error) = Result(catching: { try beginRestore(partition) }) {
                    try perform(machine.restoreFailed(partition, reason: "\(error)"))
                }
            case .restoreStep(let partition):
                switch Result(catching: { try restoreStep(partition) }) {
                case .success(let (records, finished, restored)):
                    try perform(
                        machine.restoreProgressed(
                            partition, records: records, finished: finished, now: now, restored: restored))
                case .failure(let error):
                    try perform(machine.restoreFailed(partition, reason: "\(error)"))
                }
            case .refillRestoreSlots:
                // Each round begins at least one restore, so this ends; the budget bounds a batch of many
                // small restores (each a fetch round trip), so that a stop request or the status waits
                // no longer: the rest are begun from the next batch on.
                let deadline = ContinuousClock.now + Self.restoreRefillBudget
                while ContinuousClock.now < deadline, case let begun = machine.restoresToBegin(), !begun.isEmpty {
                    try perform(begun)
                }
            case let .seek(partition, offset):
                // Not optional: the messages from `offset` on would never be processed.
                try consumer.seek(partition, to: offset)
            case let .captureChangelog(partition, stamp, withSnapshot):
                let (records, snapshot) = capture(partition, stamp: stamp, withSnapshot: withSnapshot)
                try perform(
                    machine.changelogCaptured(partition, stamp: stamp, records: records, snapshot: snapshot, now: now))
            case let .snapshotRestoredState(partition, checkpoint):
                let shard = shards[partition]
                let taken = shard?.uniformlyRestoredStamp == checkpoint.stamp
                if let shard, taken {
                    try perform([
                        .writeSnapshot(
                            partition, stamp: checkpoint.stamp, changelogOffset: checkpoint.changelogOffset,
                            state: shard.stateSnapshot(appliedOffset: checkpoint.stamp))
                    ])
                }
                machine.restoredStateSnapshotted(partition, stamp: checkpoint.stamp, taken: taken, now: now)
            case let .writeSnapshot(partition, stamp, changelogOffset, state):
                guard let durableState else { break }
                snapshotWriter?.submit(
                    LocalSnapshot(
                        inputTopic: partition.topic, inputPartition: partition.partition,
                        changelogTopic: durableState.changelogTopic, changelogOffset: changelogOffset, stamp: stamp,
                        state: state))
            case .awaitSnapshotWrites(let timeout):
                if snapshotWriter?.waitUntilIdle(timeout: timeout) == false {
                    logger.warning(
                        "local snapshots still being written at the shutdown timeout; the next start reads more of the changelog"
                    )
                }
            case .fail(let error):
                throw error
            }
        }
    }

    /// Polls one batch and runs each message through its partition's stages: the machine admits the
    /// messages here, the partitions run side by side on the workers (`PartitionWorkers`), and their
    /// outputs go to the machine here again, in each partition's order.
    private func poll(_ consumer: KafkaConsumer, maxMessages: Int, timeout: Duration) throws {
        let messages = try consumer.poll(maxMessages: maxMessages, timeout: timeout)
        if let failure = callbackFailure { throw failure }
        guard let topology, let workers else { return }
        let now = self.now
        let wallClock = ReceiveTime.now
        var batches: [PartitionBatch] = []
        var batchOf: [KafkaTopicPartition: Int] = [:]
        for message in messages {
            let partition = message.topicPartition
            guard case .process(let actions) = machine.inputArrived(partition, offset: message.offset) else { continue }
            try perform(actions)
            guard let shard = shards[partition] else { continue }
            let receivedAt = ReceiveTime.of(kafkaMilliseconds: message.timestamp, now: wallClock)
            // The receive time, not the raw Kafka time: one CreateTime in year 9999 would read as no lag at all.
            newestTimestamp = max(newestTimestamp ?? receivedAt.milliseconds, receivedAt.milliseconds)
            let index: Int
            // A poll returns each partition's messages in runs: the previous message's batch is the usual
            // answer, without hashing the topic name.
            if let last = batches.indices.last, batches[last].partition == partition {
                index = last
            } else if let known = batchOf[partition] {
                index = known
            } else {
                index = batches.count
                batchOf[partition] = index
                batches.append(PartitionBatch(partition: partition, shard: shard))
            }
            batches[index].messages.append((message, receivedAt))
        }
        // The largest first, so that no thread is left with a large partition when the others are done.
        batches.sort { $0.messages.count > $1.messages.count }
        let context = PartitionBatch.Context(
            topology: topology, kafka: settings.config.config.kafka, signer: settings.signer,
            commonHeaders: outputHeaders)
        batches.withUnsafeMutableBufferPointer { batches in
            workers.run(jobs: batches.count) { batches[$0].process(context) }
        }
        for batch in batches {
            var start = 0
            for (index, (message, _)) in batch.messages.enumerated() {
                let end = batch.outputEnds[index]
                try perform(
                    machine.inputProcessed(
                        batch.partition, offset: message.offset, outputs: batch.outputs[start..<end], now: now))
                start = end
            }
        }
        try perform(machine.polled(messageCount: messages.count))
    }

    /// Notes where the changelog partitions end as far as this process wrote them; returns `reports`.
    private func noteChangelogWrites(_ reports: [KafkaDeliveryReport]) -> [KafkaDeliveryReport] {
        for report in reports {
            guard case .delivered(let partition, let offset) = report.outcome else { continue }
            changelogWrittenThrough[partition] = max(changelogWrittenThrough[partition] ?? offset, offset)
        }
        return reports
    }

    /// How long one batch may go on beginning restores as slots free up (`refillRestoreSlots`).
    private static let restoreRefillBudget = Duration.seconds(1)

    /// How long the changelog producer lets a batch fill (its `linger.ms`, unless the configured one
    /// is longer): a flush's records come as a burst, and a commit waits for them anyway.
    private static let changelogLingerMilliseconds = 50

    /// The fuller of the two producers' queues (messages not yet reported): each has the same capacity,
    /// and backpressure lasts while either is above half of it.
    private var producerQueued: Int {
        max(producer?.pendingCount ?? 0, changelogProducer?.pendingCount ?? 0)
    }

    /// Produces the machine's outbox in order until it is empty or the producer's queue is full.
    private func sendOutbox(_ producer: KafkaProducer) throws {
        let now = self.now
        while let (token, outgoing) = machine.nextOutput(now: now) {
            let accepted =
                switch outgoing {
                case .output(let output): try produce(output, token: token, producer: producer)
                case let .changelog(partition, record):
                    try produceChangelog(
                        record, partition: partition, token: token, producer: changelogProducer ?? producer)
                }
            guard accepted else { return }
            machine.outputSent(now: now)
        }
    }

    /// One changelog record to its explicit partition (a nil value is a tombstone); false when the
    /// local queue is full.
    private func produceChangelog(
        _ record: ChangelogRecord, partition: Int32, token: UInt64, producer: KafkaProducer
    ) throws -> Bool {
        do throws(KafkaError) {
            try producer.produce(
                topic: changelogTopic, partition: partition, key: record.key, value: record.value, opaque: token)
        } catch {
            if case .operationFailed(_, let code) = error, code == .queueFull { return false }
            throw error
        }
        changelogWritten.records += 1
        changelogWritten.bytes += record.key.count + (record.value?.count ?? 0)
        return true
    }

    /// One produce attempt; false when the local queue is full.
    private func produce(_ output: StateMachine.Output, token: UInt64, producer: KafkaProducer) throws -> Bool {
        do throws(KafkaError) {
            if let key = output.key {
                try producer.produce(
                    topic: output.topic, partition: output.partition, key: key, value: output.payload,
                    headers: output.headers, opaque: token)
            } else {
                try producer.produce(
                    topic: output.topic, partition: output.partition, key: output.binaryKey, value: output.payload,
                    headers: output.headers, opaque: token)
            }
            return true
        } catch .operationFailed(_, let code) where code == .queueFull {
            return false
        }
    }

    private static func delivery(
        _ report: KafkaDeliveryReport
    ) -> (token: UInt64, outcome: StateMachine.DeliveryOutcome) {
        switch report.outcome {
        case .delivered(_, let offset): (report.opaque, .delivered(offset: offset))
        case .failed(let failure): (report.opaque, .failed(reason: "\(failure)", isFatal: failure.isFatal))
        }
    }

    /// Pauses the whole assignment. A failure is logged, not fatal: at worst the partitions keep
    /// fetching and their outputs queue up behind the blocked ones.
    private func pausing(_ consumer: KafkaConsumer) {
        do {
            try consumer.pause()
        } catch {
            logger.error("could not pause the input partitions", metadata: ["error": "\(error)"])
        }
    }

    /// The shard of an assigned partition: a repartition topic's runs its stage, an input topic's the
    /// decode stage (and the user stage with `input.keyed_by_user`).
    private func makeShard(_ partition: KafkaTopicPartition) -> PartitionShard {
        let config = settings.config.config
        if let stage = topology?.stage(ofTopic: partition.topic) {
            return PartitionShard(
                stage: stage, partition: partition, config: config.core, policyVersion: policyVersion,
                enricher: settings.enricher, deviceKey: settings.deviceKey, globalFacts: globalFacts,
                recordsChanges: durableState != nil)
        }
        return PartitionShard(
            decoding: partition, format: config.inputFormats[partition.topic] ?? .vigil, config: config.core,
            policyVersion: policyVersion, enricher: settings.enricher,
            deviceKey: settings.deviceKey, userStage: config.topology.inputKeyedByUser, globalFacts: globalFacts,
            recordsChanges: durableState != nil)
    }

    /// Drops a shard given up (and its restore, and a suspended shard of the partition, if any),
    /// keeping its counts in the totals.
    private func retire(_ partition: KafkaTopicPartition) {
        restores[partition] = nil
        restoreReasons[partition] = nil
        if let shard = suspendedShards.removeValue(forKey: partition) { keepCounts(of: shard) }
        if let shard = shards.removeValue(forKey: partition) { keepCounts(of: shard) }
    }

    /// Keeps a dropped shard's counts in the totals.
    private func keepCounts(of shard: PartitionShard) {
        retiredStats.add(shard.stats)
        guard let counters = shard.counters else { return }
        retiredEvictions.evictedUsers += counters.evictedUsers
        retiredEvictions.evictedSources += counters.evictedSources
        retiredEvictions.droppedAtCapacity += counters.droppedAtCapacity
    }

    private func adopt(_ next: LoadedConfig) {
        for shard in shards.values { shard.reconfigure(next.config.core, policyVersion: next.policyVersion) }
        settings.config = next
        shutdownTimeoutMilliseconds.store(Self.milliseconds(Self.shutdownTimeout(next)), ordering: .relaxed)
        policyVersion = next.policyVersion
        metrics.recordPolicyVersion(next.policyVersion)
        logger.notice("new configuration in force", metadata: ["policy_version": "\(next.policyVersion)"])
    }

    /// `output` bound for its stream's topic, with `commonHeaders` plus what is particular to it: a
    /// re-emitted copy's `vigil-reemitted: true` (so a consumer can set it aside without parsing), and for
    /// a dead letter its reason and where its input (`input` at `offset`) came from.
    /// A security event token's claims are signed here (`signer`); a token that cannot be signed becomes a
    /// dead letter holding its claims, with the reason `signing_failed`.
    static func output(
        _ output: OutputMessage, from input: KafkaTopicPartition, offset: Int64, kafka: KafkaSettings,
        signer: SecurityEventSigner?, commonHeaders: [KafkaHeader]
    ) -> KafkaLoopStateMachine.Output {
        var output = output
        var headers = commonHeaders
        let topic: String
        if output.stream == .signals {
            do throws(SigningKeyError) {
                guard let signer else { throw .noKeys }
                output.payload = try signer.sign(claims: output.payload)
                headers.removeAll { $0.name == "content-type" }
                headers.insert(KafkaHeader(name: "content-type", value: Array("application/secevent+jwt".utf8)), at: 0)
            } catch {
                output = OutputMessage(
                    stream: .deadLetters, key: nil,
                    payload: DeadLetterEncoder.encode(
                        payload: output.payload, failure: DecodeFailure(.signingFailed, detail: error.description),
                        origin: .kafka(topic: input.topic, partition: input.partition, offset: offset),
                        maxPayloadBytes: 65_536),
                    label: DecodeFailure.Kind.signingFailed.rawValue)
            }
        }
        switch output.stream {
        case .decisions: topic = kafka.decisionsTopic
        case .alerts: topic = kafka.alertsTopic
        case .signals: topic = kafka.signalsTopic
        case .deadLetters:
            topic = kafka.deadLetterTopic
            headers += [
                KafkaHeader(name: "vigil-reason", value: Array(output.label.utf8)),
                KafkaHeader(name: "vigil-source-topic", value: Array(input.topic.utf8)),
                KafkaHeader(name: "vigil-source-partition", value: Array(String(input.partition).utf8)),
                KafkaHeader(name: "vigil-source-offset", value: Array(String(offset).utf8)),
            ]
        }
        if output.reemitted { headers.append(KafkaHeader(name: "vigil-reemitted", value: Array("true".utf8))) }
        return StateMachine.Output(
            topic: topic, key: output.key, payload: output.payload, headers: headers, kind: .init(output))
    }

    private static func outputHeaders(policyVersion: String) -> [KafkaHeader] {
        [
            KafkaHeader(name: "content-type", value: Array("application/json".utf8)),
            KafkaHeader(name: "vigil-version", value: Array(VigilVersion.current.utf8)),
            KafkaHeader(name: "vigil-policy-version", value: Array(policyVersion.utf8)),
        ]
    }

    /// Runs inside `consumer.poll` (or `close`) on the loop thread. KafkaConsumer commits what is
    /// stored here for revoked partitions once this returns, and retries that commit at the next
    /// assignment if the rebalancing group rejects it.
    private func rebalanced(_ event: KafkaRebalanceEvent) {
        do {
            switch event {
            case .assigned(let partitions):
                logger.info("partitions assigned", metadata: ["partitions": "\(partitions.map(\.description))"])
                try perform(machine.assigned(partitions))
            case .revoked(let partitions, let lost):
                logger.info(
                    "partitions revoked",
                    metadata: ["partitions": "\(partitions.map(\.description))", "lost": "\(lost)"])
                try perform(machine.revoked(partitions, lost: lost, now: now))
            }
        } catch {
            if callbackFailure == nil { callbackFailure = error }
        }
    }

    // MARK: Durable state

    /// Starts a partition's restore: its local snapshot when one is usable (else a warning, and the
    /// changelog from its beginning), then a reader over its changelog partition from after the
    /// snapshot's checkpoint to the end as of now.
    private func beginRestore(_ partition: KafkaTopicPartition) throws {
        guard let durableState, let shard = shards[partition], let consumer else {
            throw RestoreNotStarted(partition: partition)
        }
        let startedAt = ContinuousClock.now
        let changelogPartition = KafkaTopicPartition(topic: durableState.changelogTopic, partition: partition.partition)
        var snapshot: LocalSnapshot?
        var snapshotDigest: UInt64?
        switch durableState.directory.loadSnapshot(inputTopic: partition.topic, partition: partition.partition) {
        case .absent: break
        case .found(let found): snapshot = found
        case .discarded(let reason): discardSnapshot(of: partition, reason: reason)
        }
        // Asked once through the loop's consumer: a reader opens a client only when there is something
        // to read, and most changelog partitions of a fresh or quiet stage have nothing.
        let watermarks = try consumer.watermarks(
            of: changelogPartition, timeout: .microseconds(settings.config.config.state.adminTimeout.microseconds))
        var reader = try openReader(
            changelogPartition, from: snapshot.map { $0.changelogOffset + 1 }, watermarks: watermarks)
        if let found = snapshot {
            if let mismatch = found.mismatch(
                changelogTopic: durableState.changelogTopic,
                changelogOffsets: reader.firstOffset..<max(reader.firstOffset, reader.endOffset))
            {
                discardSnapshot(of: partition, reason: mismatch)
                snapshot = nil
            } else {
                do {
                    // A refused snapshot leaves the shard as it was: empty.
                    snapshotDigest = try shard.restoreState(snapshot: found.state)?.settingsDigest
                } catch {
                    discardSnapshot(of: partition, reason: .stateRefused("\(error)"))
                    snapshot = nil
                }
            }
            if snapshot == nil { reader = try openReader(changelogPartition, from: nil, watermarks: watermarks) }
        }
        restores[partition] = Restore(
            reader: reader, startedAt: startedAt, snapshotStamp: snapshot?.stamp, snapshotDigest: snapshotDigest)
        metrics.recordPartitionState(kept: false)
        logger.info(
            "restoring partition state",
            metadata: [
                "partition": "\(partition)", "changelog": "\(changelogPartition)",
                "reason": "\(restoreReasons.removeValue(forKey: partition) ?? "newly assigned")",
                "snapshot_stamp": "\(snapshot.map { String($0.stamp) } ?? "none")",
                "records_to_read": "\(reader.endOffset - reader.progress.position)",
            ])
    }

    /// Keeps a drained partition's shard aside for the next assignment. One with changes no flush
    /// took (none expected after a complete drain) is dropped instead: only the changelog could say
    /// what it reflects.
    private func suspendShard(_ partition: KafkaTopicPartition) {
        guard let shard = shards.removeValue(forKey: partition) else { return }
        guard !shard.hasUnflushedChanges else {
            keepCounts(of: shard)
            restoreReasons[partition] = "its state had changes no flush took when it was revoked"
            return
        }
        suspendedShards[partition] = shard
    }

    /// Uses the partition's suspended shard again when its changelog partition ends just after the
    /// shard's last checkpoint, or just after the last record this process wrote there, at or after
    /// that checkpoint (nobody else wrote to it since), guarding the input the shard reflects, which
    /// comes again when the group's committed offset is behind it. Otherwise drops it (counts kept)
    /// and notes why, for the restore that follows. The end is the changelog's high watermark: with
    /// `acks` below `all` it may trail an acknowledged record, which only costs a restore.
    private func reuseSuspendedShard(
        _ partition: KafkaTopicPartition, checkpoint: StateMachine.Checkpoint, consumer: KafkaConsumer
    ) -> Bool {
        guard let durableState, let shard = suspendedShards.removeValue(forKey: partition) else {
            restoreReasons[partition] = restoreReasons[partition] ?? "no state was kept for it"
            return false
        }
        let changelogPartition = KafkaTopicPartition(topic: durableState.changelogTopic, partition: partition.partition)
        let reason: String
        do {
            let end = try consumer.watermarks(
                of: changelogPartition, timeout: .microseconds(settings.config.config.state.adminTimeout.microseconds)
            ).high
            // Nobody else wrote to it since: it ends just after the checkpoint, or just after the last
            // record this process wrote, at or after the checkpoint (another stage's shard of this
            // partition number, each in its own scope).
            let writtenHere = changelogWrittenThrough[partition.partition].map {
                end == $0 + 1 && $0 >= checkpoint.changelogOffset
            }
            if end == checkpoint.changelogOffset + 1 || writtenHere == true {
                shard.guardInput(through: checkpoint.stamp)
                shards[partition] = shard
                metrics.recordPartitionState(kept: true)
                logger.info(
                    "kept partition state across the rebalance",
                    metadata: [
                        "partition": "\(partition)", "changelog": "\(changelogPartition)",
                        "checkpoint_offset": "\(checkpoint.changelogOffset)", "stamp": "\(checkpoint.stamp)",
                    ])
                return true
            }
            reason =
                "the changelog was written since the state was kept: it ends at \(end), after the kept "
                + "checkpoint at \(checkpoint.changelogOffset)"
        } catch {
            reason = "could not read where the changelog ends: \(error)"
        }
        keepCounts(of: shard)
        restoreReasons[partition] = reason
        return false
    }

    private func discardSnapshot(of partition: KafkaTopicPartition, reason: SnapshotDiscardReason) {
        logger.warning("\(reason)", metadata: ["partition": "\(partition)"])
        do {
            try durableState?.directory.removeSnapshot(inputTopic: partition.topic, partition: partition.partition)
        } catch {
            logger.warning("could not remove the unused snapshot", metadata: ["error": "\(error)"])
        }
    }

    private func openReader(
        _ partition: KafkaTopicPartition, from offset: Int64?, watermarks: (low: Int64, high: Int64)
    ) throws -> KafkaPartitionReader {
        var configuration = settings.consumer
        configuration["queued.max.messages.kbytes"] = String(
            max(1024, Self.restoreFetchBudgetKilobytes / max(1, machine.maxConcurrentRestores)))
        return try KafkaPartitionReader(
            configuration: configuration, partition: partition, from: offset, watermarks: watermarks,
            timeout: .microseconds(settings.config.config.state.adminTimeout.microseconds), logger: logger,
            onWarning: { [weak self] in self?.warn($0) })
    }

    /// Applies up to `state.restore_batch` changelog records; returns the records applied so far,
    /// whether the restore is complete (it then logs and reports its figures) and, when the whole
    /// state it read reflects one checkpoint exactly, where: up to the last record read, at its stamp.
    private func restoreStep(
        _ partition: KafkaTopicPartition
    ) throws -> (records: Int, finished: Bool, restored: StateMachine.Checkpoint?) {
        guard var restore = restores[partition], let shard = shards[partition] else {
            throw RestoreNotStarted(partition: partition)
        }
        let reader = restore.reader
        let before = reader.progress
        let limit = max(1, settings.config.config.state.restoreBatch)
        var finished = false
        var applied = 0
        while applied < limit {
            guard let batch = try reader.next(maxMessages: limit - applied, timeout: settings.pollTimeout) else {
                finished = true
                break
            }
            if batch.isEmpty { break }
            for message in batch {
                try shard.applyChangelogRecord(
                    key: message.key ?? [], value: message.isNullValue ? nil : Array(message.value))
            }
            restore.lastOffset = batch.last?.offset ?? restore.lastOffset
            applied += batch.count
        }
        let progress = reader.progress
        restores[partition] = finished ? nil : restore
        metrics.recordRestoreStep(
            records: progress.records - before.records, bytes: progress.bytes - before.bytes,
            lag: restores.values.reduce(0) { $0 + max(0, $1.reader.endOffset - $1.reader.progress.position) })
        if finished {
            let duration = ContinuousClock.now - restore.startedAt
            metrics.recordRestoreFinished(after: duration)
            logger.info(
                "partition state restored",
                metadata: [
                    "partition": "\(partition)", "records": "\(progress.records)", "bytes": "\(progress.bytes)",
                    "seconds": "\(duration)",
                    "snapshot_stamp": "\(restore.snapshotStamp.map(String.init) ?? "none")",
                ])
            shard.restoreFinished()
            let digest = shard.restoredCheckpoint?.settingsDigest ?? restore.snapshotDigest
            if let digest, digest != settings.config.config.core.engine.stateDigest {
                logger.warning(
                    """
                    restored state was written under other window lengths or caps; the windows adopt this \
                    config's from the next event
                    """,
                    metadata: ["partition": "\(partition)"])
            }
        }
        guard finished, let lastOffset = restore.lastOffset, let stamp = shard.uniformlyRestoredStamp else {
            return (progress.records, finished, nil)
        }
        return (progress.records, finished, StateMachine.Checkpoint(changelogOffset: lastOffset, stamp: stamp))
    }

    /// The partition's flush stamped `stamp` (nothing when nothing changed and no snapshot is due), and
    /// with `withSnapshot` its whole state as of that flush. No snapshot while the replay guard is up
    /// (the machine asks again at the next flush): some entries may then reflect more input than
    /// `stamp`, which one stamp cannot say, unless the whole state reflects exactly `stamp`.
    private func capture(
        _ partition: KafkaTopicPartition, stamp: Int64, withSnapshot: Bool
    ) -> (records: [ChangelogRecord], snapshot: [UInt8]?) {
        guard let shard = shards[partition], withSnapshot || shard.hasUnflushedChanges else {
            return ([], nil)
        }
        let records = shard.takeChangelogFlush(stamp: stamp)
        let exact = !shard.isReplayGuarded || shard.uniformlyRestoredStamp == stamp
        guard withSnapshot, !records.isEmpty, exact else { return (records, nil) }
        return (records, shard.stateSnapshot(appliedOffset: stamp))
    }

    private static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    private static func shutdownTimeout(_ config: LoadedConfig) -> Duration {
        .microseconds(config.config.kafka.shutdownTimeout.microseconds)
    }

    /// A warning that can repeat once per message or batch: the first is logged, the rest summarised
    /// once per `repeatedWarnings.interval` (see `RepeatedWarnings`).
    private func warnRepeatedly(_ kind: String, detail: String) {
        if let line = repeatedWarnings.record(kind, detail: detail, now: now) { log(line) }
    }

    private func log(_ line: RepeatedWarnings.Line) {
        guard let firstDetail = line.firstDetail, let over = line.over else {
            logger.warning("\(line.kind)", metadata: ["error": "\(line.detail)"])
            return
        }
        logger.warning(
            "\(line.kind) (repeated)",
            metadata: [
                "count": "\(line.count)", "over": "\(over)", "first_error": "\(firstDetail)",
                "last_error": "\(line.detail)",
            ])
    }

    /// VigilKafka already logs every warning; the clients' broker health (`observeBrokerHealth`) tells
    /// the machine about an outage.
    private func warn(_ warning: KafkaWarning) {
        guard warning.code == .allBrokersDown else { return }
        logger.error("all Kafka brokers are down: not ready until one is reachable again")
    }

    /// Hands the clients' broker health to the machine (readiness) and the metrics, once per batch,
    /// and logs each client becoming unreachable or reachable again. The changelog producer belongs to
    /// the output side: a changelog record that cannot be written holds back the offset commit.
    private func observeBrokerHealth(consumer: KafkaConsumer, producer: KafkaProducer) {
        let input = consumer.brokerHealth
        let output = producer.brokerHealth
        let changelog = changelogProducer?.brokerHealth
        let changes: [(DaemonMetrics.KafkaClient, String, KafkaBrokerHealth?, KafkaBrokerHealth?)] = [
            (.consumer, "input", brokerHealth.input, input), (.producer, "output", brokerHealth.output, output),
            (.changelogProducer, "changelog", brokerHealth.changelog, changelog),
        ]
        for (client, side, before, after) in changes where before != after {
            guard let after else { continue }
            metrics.recordBrokersUp(client: client, after.brokersUp)
            if after.isReachable, before?.isReachable == false {
                logger.notice("\(side) brokers reachable again", metadata: ["brokers_up": "\(after.brokersUp)"])
            } else if !after.isReachable, before?.isReachable != false {
                logger.error(
                    "\(side) brokers unreachable: not ready until they are back",
                    metadata: ["unreachable": "\(after.unreachable)", "brokers_up": "\(after.brokersUp)"])
            }
        }
        brokerHealth = (input, output, changelog)
        machine.brokerHealth(input: input, output: Self.outputSide(output, changelog: changelog))
    }

    /// The output side's health from its producers' (the outputs', and the changelog's when it is on):
    /// reachable only while both are, naming what either cannot reach; nil while neither has reported.
    static func outputSide(_ output: KafkaBrokerHealth?, changelog: KafkaBrokerHealth?) -> KafkaBrokerHealth? {
        guard let output, let changelog else { return output ?? changelog }
        return KafkaBrokerHealth(
            brokersUp: min(output.brokersUp, changelog.brokersUp),
            unreachable: output.unreachable + changelog.unreachable.filter { !output.unreachable.contains($0) })
    }

    /// Says, per partition, which processed inputs stay uncommitted and will be consumed again after a
    /// restart: from the offset committed (as far as this process saw) through the last one processed.
    private func reportUncommitted(
        _ partitions: [StateMachine.Uncommitted], committed: [KafkaTopicPartition: Int64]
    ) {
        var reported = 0
        for partition in partitions {
            let next = committed[partition.partition]
            if let next, next > partition.lastProcessed { continue }
            reported += 1
            logger.error(
                "partition left uncommitted: its inputs from the committed offset on will be consumed again",
                metadata: [
                    "partition": "\(partition.partition)",
                    "committed_offset": "\(next.map(String.init) ?? "none committed by this process")",
                    "last_processed_offset": "\(partition.lastProcessed)",
                    "last_stored_offset": "\(partition.stored.map(String.init) ?? "none")",
                ])
        }
        if reported == 0 { logger.notice("every processed input was committed before the shutdown's failure") }
    }

    /// Once per batch: totals over every shard, readiness, lag and state figures.
    private func publishStatus(_ report: StateMachine.Status) {
        for line in repeatedWarnings.due(now: now) { log(line) }
        var stats = retiredStats
        let now = ContinuousClock.now
        if stateFiguresAt.map({ now - $0 >= .seconds(1) }) ?? true {
            stateFiguresAt = now
            // The global windows of every shard end at the newest event of them all: a partition that
            // went quiet does not keep showing its last busy window as recent.
            let held = Array(shards.values) + suspendedShards.values
            let newest = held.compactMap(\.newestEventTime).max()
            metrics.record(
                state: held.reduce(into: retiredEvictions) { $0.add($1.figures(globalWindowsAsOf: newest)) })
        }
        for shard in shards.values { stats.add(shard.stats) }
        for shard in suspendedShards.values { stats.add(shard.stats) }
        metrics.record(pipeline: stats, delivered: machine.deliveredOutputs)
        if changelogWritten.records > 0 {
            metrics.recordChangelogWritten(records: changelogWritten.records, bytes: changelogWritten.bytes)
            changelogWritten = (0, 0)
        }
        metrics.recordProducerBackpressure(active: report.backpressureActive, episodes: report.backpressureEpisodes)
        if !consumerClosed, let lag = (try? consumer?.lag()) ?? nil {
            metrics.recordConsumerLag(messages: lag.reduce(0) { $0 + ($1.lag ?? 0) })
        }
        if let newestTimestamp {
            metrics.recordEventTimeLag(seconds: max(0, Date().timeIntervalSince1970 - Double(newestTimestamp) / 1000))
        }
        newestTimestamp = nil
        let assigned = shards.keys.map(\.description).sorted()
        let ready = status.update { snapshot in
            snapshot.stats = stats
            snapshot.assignedPartitions = assigned
            switch report.readiness {
            case .ready:
                snapshot.ready = true
                snapshot.notReadyReason = nil
            case .notReady(let reason):
                snapshot.ready = false
                snapshot.notReadyReason = reason
            }
            return snapshot.ready
        }
        metrics.recordReady(ready)
    }
}
