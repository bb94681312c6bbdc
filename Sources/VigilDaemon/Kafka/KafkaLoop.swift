import Foundation
import Logging
import Synchronization
import VigilCore
import VigilKafka
import _VigilMachinery

/// The Kafka loop of `vigil run`: poll a batch, run each message through its partition's pipeline,
/// produce the outputs, and store an input offset only once every output it caused is acknowledged
/// (at least once). This class is the thin driver: `KafkaLoopStateMachine` makes every decision,
/// and this performs its actions with the consumer, the producer and the pipelines. Everything here
/// runs on one dedicated thread, as librdkafka's clients require.
final class KafkaLoop: @unchecked Sendable {
    struct Settings {
        var config: LoadedConfig
        var consumer: KafkaConfiguration
        var producer: KafkaConfiguration
        var enricher: Enricher?
        var deviceKey: SipHashKey
        var batchSize = 500
        var pollTimeout = Duration.milliseconds(100)
        /// Re-produce attempts for an output whose delivery failed non-fatally, before giving up.
        var maxDeliveryAttempts = 3
        /// How long the producer's queue may stay full with no output delivered or enqueued before the
        /// loop fails; nil waits forever. See `KafkaPipelineService.maxProducerStall`.
        var maxProducerStall: Duration? = .seconds(360)
    }

    private typealias StateMachine = KafkaLoopStateMachine

    private let stopRequested = Atomic<Bool>(false)
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
    private var retiredStats = PipelineStats()
    /// Evictions of revoked shards, so the eviction counters never go down on a rebalance.
    private var retiredEvictions = StateFigures()
    /// State figures cost a pass over every shard's global windows: refreshed at most once a second.
    private var stateFiguresAt: ContinuousClock.Instant?
    /// The configuration taken from the mailbox, until the machine says to apply it.
    private var postedConfig: LoadedConfig?
    /// The newest input timestamp of the current batch, for the event-time lag.
    private var newestTimestamp: Int64?
    /// A fatal error inside a rebalance callback (which cannot throw), thrown once the poll returns.
    private var callbackFailure: (any Error)?
    /// Set by the machine's `finish`: the loop is over, with this error when it ended in failure.
    private var finished = false
    private var finishFailure: StateMachine.LoopError?
    private var consumer: KafkaConsumer?
    /// Set once the shutdown closed the consumer: its lag is no longer read.
    private var consumerClosed = false
    private var producer: KafkaProducer?

    init(settings: Settings, mailbox: ConfigMailbox, status: DaemonStatus, metrics: DaemonMetrics, logger: Logger) {
        self.settings = settings
        self.mailbox = mailbox
        self.status = status
        self.metrics = metrics
        self.logger = logger
        policyVersion = settings.config.policyVersion
        outputHeaders = Self.outputHeaders(policyVersion: settings.config.policyVersion)
        // Half of the producer's queue (`queue.buffering.max.messages`, librdkafka's default 100,000).
        let queueCapacity = settings.producer["queue.buffering.max.messages"].flatMap { Int($0) } ?? 100_000
        machine = StateMachine(
            configuration: StateMachine.Configuration(
                batchSize: settings.batchSize, pollTimeout: settings.pollTimeout,
                maxDeliveryAttempts: settings.maxDeliveryAttempts, maxProducerStall: settings.maxProducerStall,
                resumeBelow: queueCapacity / 2, shutdownTimeout: Self.shutdownTimeout(settings.config)))
    }

    /// Asks the loop to finish the current batch and shut down cleanly; callable from any thread.
    func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// The loop body; blocks until stopped or failed. Throws on a fatal Kafka error, and when the
    /// final commit failed.
    func run() throws {
        logger.info(
            "starting Kafka loop",
            metadata: [
                "consumer": "\(settings.consumer)", "producer": "\(settings.producer)",
                "policy_version": "\(policyVersion)",
            ])
        // The clients are destroyed when the loop ends, not when the service is released.
        defer {
            self.consumer = nil
            self.producer = nil
        }
        let producer = try KafkaProducer(configuration: settings.producer, logger: logger) { [weak self] in
            self?.warn($0)
        }
        // A full queue is not waited out inside produce: the loop applies backpressure instead.
        producer.queueFullTimeout = .zero
        self.producer = producer
        let consumer = try KafkaConsumer(
            configuration: settings.consumer, logger: logger,
            onRebalance: { [weak self] in self?.rebalanced($0) },
            onWarning: { [weak self] in self?.warn($0) })
        self.consumer = consumer
        status.update { $0.notReadyReason = "joining consumer group" }
        metrics.recordPolicyVersion(policyVersion)
        try consumer.subscribe(topics: settings.config.config.kafka.inputTopics)
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
            // Offsets stored so far cover only fully delivered inputs: committing them is safe.
            try? consumer.close()
            throw error
        }
        if let finishFailure { throw finishFailure }
    }

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
                let reports = try producer.poll(timeout: timeout)
                try perform(machine.delivered(reports.map(Self.delivery), now: now))
            case .poll(let maxMessages, let timeout):
                try poll(consumer, maxMessages: maxMessages, timeout: timeout)
            case .openShard(let partition):
                shards[partition] = makeShard()
            case .retireShard(let partition):
                retire(partition)
            case .send:
                do {
                    try sendOutbox(producer)
                } catch let error where machine.isDraining {
                    machine.sendFailedWhileDraining(reason: "\(error)")
                }
            case let .retryDelivery(topic, attempt, reason):
                logger.warning(
                    "output delivery failed; producing it again",
                    metadata: ["topic": "\(topic)", "attempt": "\(attempt)", "error": "\(reason)"])
            case .pause(nil, let waiting):
                pausing(consumer)
                logger.warning(
                    "producer queue full: pausing consumption until outputs drain (backpressure)",
                    metadata: ["waiting_outputs": "\(waiting)", "queued": "\(producer.pendingCount)"])
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
                    logger.error("could not resume the input partitions", metadata: ["error": "\(error)"])
                }
                if let pausedFor {
                    logger.notice(
                        "producer queue has room again: consuming again",
                        metadata: ["paused_for": "\(pausedFor)", "queued": "\(producer.pendingCount)"])
                }
            case .endBatch:
                try perform(machine.batchEnded(now: now, producerQueued: producer.pendingCount))
            case .recordLatencies(let latencies):
                for latency in latencies { metrics.recordProcessingLatency(latency) }
            case let .storeOffset(partition, offset):
                do {
                    try consumer.storeOffset(topic: partition.topic, partition: partition.partition, offset: offset)
                } catch {
                    machine.storeFailed(partition)
                    logger.warning(
                        "could not store offset", metadata: ["partition": "\(partition)", "error": "\(error)"])
                }
            case .publishStatus(let report):
                publishStatus(report)
            case .beginShutdown(let outstanding):
                logger.info("stopping Kafka loop: draining outputs", metadata: ["outputs": "\(outstanding)"])
            case .flush(let timeout):
                let reports = producer.flush(timeout: timeout)
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
                    try consumer.commit()
                } catch {
                    logger.warning("final commit failed", metadata: ["error": "\(error)"])
                    failure = "\(error)"
                }
                try perform(machine.committed(failure: failure))
            case .close:
                try consumer.close()
                consumerClosed = true
                try perform(machine.closed())
            case .finish(let failure):
                finished = true
                finishFailure = failure
                logger.info("Kafka loop stopped")
            case .beginRestore, .restoreStep, .seek, .captureChangelog, .writeSnapshot, .awaitSnapshotWrites:
                // Emitted only with the changelog on, which this driver does not configure yet.
                break
            case .fail(let error):
                throw error
            }
        }
    }

    /// Polls one batch and runs each message through its partition's pipeline.
    private func poll(_ consumer: KafkaConsumer, maxMessages: Int, timeout: Duration) throws {
        let messages = try consumer.poll(maxMessages: maxMessages, timeout: timeout)
        if let failure = callbackFailure { throw failure }
        let now = self.now
        var outputs: [OutputMessage] = []
        for message in messages {
            let partition = message.topicPartition
            guard case .process(let actions) = machine.inputArrived(partition, offset: message.offset) else { continue }
            try perform(actions)
            guard let shard = shards[partition] else { continue }
            // The producer sets CreateTime: one outside years 1970–9999 is no receive time at all.
            let receivedAt = message.timestamp.flatMap {
                (0...253_402_300_799_999).contains($0) ? Timestamp(milliseconds: $0) : nil
            }
            if let timestamp = message.timestamp { newestTimestamp = max(newestTimestamp ?? timestamp, timestamp) }
            outputs.removeAll(keepingCapacity: true)
            message.value.withUnsafeBytes {
                shard.pipeline.process(
                    $0, origin: .kafka(topic: message.topic, partition: message.partition, offset: message.offset),
                    receivedAt: receivedAt, into: &outputs)
            }
            try perform(
                machine.inputProcessed(
                    partition, offset: message.offset, outputs: outputs.map { self.output($0, from: message) },
                    now: now))
        }
        try perform(machine.polled(messageCount: messages.count))
    }

    /// Produces the machine's outbox in order until it is empty or the producer's queue is full.
    private func sendOutbox(_ producer: KafkaProducer) throws {
        let now = self.now
        while let (token, outgoing) = machine.nextOutput(now: now) {
            guard case .output(let output) = outgoing else { continue }
            guard try produce(output, token: token, producer: producer) else { return }
            machine.outputSent(now: now)
        }
    }

    /// One produce attempt; false when the local queue is full.
    private func produce(_ output: StateMachine.Output, token: UInt64, producer: KafkaProducer) throws -> Bool {
        do throws(KafkaError) {
            if let key = output.key {
                try producer.produce(
                    topic: output.topic, key: key, value: output.payload, headers: output.headers, opaque: token)
            } else {
                try producer.produce(
                    topic: output.topic, key: nil, value: output.payload, headers: output.headers, opaque: token)
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

    private func makeShard() -> PartitionShard {
        PartitionShard(
            pipeline: Pipeline(
                config: settings.config.config.core, policyVersion: policyVersion, enricher: settings.enricher,
                deviceKey: settings.deviceKey))
    }

    /// Drops a shard given up, keeping its counts in the totals.
    private func retire(_ partition: KafkaTopicPartition) {
        guard let shard = shards.removeValue(forKey: partition) else { return }
        retiredStats.add(shard.pipeline.stats)
        let counters = shard.pipeline.engine.state.counters
        retiredEvictions.evictedUsers += counters.evictedUsers
        retiredEvictions.evictedSources += counters.evictedSources
        retiredEvictions.droppedAtCapacity += counters.droppedAtCapacity
    }

    private func adopt(_ next: LoadedConfig) {
        for shard in shards.values { shard.pipeline.reconfigure(next.config.core, policyVersion: next.policyVersion) }
        settings.config = next
        policyVersion = next.policyVersion
        metrics.recordPolicyVersion(next.policyVersion)
        logger.notice("new configuration in force", metadata: ["policy_version": "\(next.policyVersion)"])
    }

    /// The output as produced: its topic, and for a dead letter where its input came from.
    private func output(_ output: OutputMessage, from message: KafkaMessage) -> StateMachine.Output {
        let kafka = settings.config.config.kafka
        var headers = outputHeaders
        let topic: String
        switch output.stream {
        case .decisions: topic = kafka.decisionsTopic
        case .alerts: topic = kafka.alertsTopic
        case .deadLetters:
            topic = kafka.deadLetterTopic
            headers += [
                KafkaHeader(name: "vigil-reason", value: Array(output.label.utf8)),
                KafkaHeader(name: "vigil-source-topic", value: Array(message.topic.utf8)),
                KafkaHeader(name: "vigil-source-partition", value: Array(String(message.partition).utf8)),
                KafkaHeader(name: "vigil-source-offset", value: Array(String(message.offset).utf8)),
            ]
        }
        return StateMachine.Output(topic: topic, key: output.key, payload: output.payload, headers: headers)
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

    private static func shutdownTimeout(_ config: LoadedConfig) -> Duration {
        .microseconds(config.config.kafka.shutdownTimeout.microseconds)
    }

    /// VigilKafka already logs every warning; only an outage changes what the daemon reports.
    private func warn(_ warning: KafkaWarning) {
        guard warning.code == .allBrokersDown else { return }
        machine.brokersDown(reason: warning.reason)
        logger.error("all Kafka brokers are down: not ready until one is reachable again")
    }

    /// Once per batch: totals over every shard, readiness, lag and state figures.
    private func publishStatus(_ report: StateMachine.Status) {
        var stats = retiredStats
        let now = ContinuousClock.now
        if stateFiguresAt.map({ now - $0 >= .seconds(1) }) ?? true {
            stateFiguresAt = now
            metrics.record(state: shards.values.reduce(into: retiredEvictions) { $0.add($1.pipeline.engine.figures) })
        }
        for shard in shards.values { stats.add(shard.pipeline.stats) }
        metrics.record(pipeline: stats)
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
