import Foundation
import Logging
import Synchronization
import VigilCore
import VigilKafka
import _VigilMachinery

/// The Kafka loop of `vigil run`: poll a batch, run each message through its partition's pipeline,
/// produce the outputs, and store an input offset only once every output it caused is acknowledged
/// (at least once). Everything here runs on one dedicated thread, as librdkafka's clients require.
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

    enum LoopError: Error, CustomStringConvertible {
        case deliveryFailed(topic: String, attempts: Int, reason: String)
        case producerStalled(Duration, waiting: Int)
        var description: String {
            switch self {
            case let .deliveryFailed(topic, attempts, reason):
                "delivery to \(topic) failed \(attempts) times, last: \(reason)"
            case let .producerStalled(duration, waiting):
                "the producer queue stayed full for \(duration) without any progress (\(waiting) outputs waiting)"
            }
        }
    }

    /// One produced output awaiting its delivery report, kept whole so it can be retried.
    private struct PendingOutput {
        var shard: PartitionShard
        var inputOffset: Int64
        var topic: String
        var key: String?
        var payload: [UInt8]
        var headers: [KafkaHeader]
        var attempts: Int
    }

    private let stopRequested = Atomic<Bool>(false)
    private var settings: Settings
    private let mailbox: ConfigMailbox
    private let status: DaemonStatus
    private let metrics: DaemonMetrics
    private let logger: Logger

    // Owned by the loop thread from here on.
    private var policyVersion: String {
        didSet { outputHeaders = Self.outputHeaders(policyVersion: policyVersion) }
    }
    /// The headers every output carries, built once per policy version rather than once per output.
    private var outputHeaders: [KafkaHeader]
    private var shards: [KafkaTopicPartition: PartitionShard] = [:]
    private var pending: [UInt64: PendingOutput] = [:]
    private var nextToken: UInt64 = 1
    private var retiredStats = PipelineStats()
    /// Evictions of revoked shards, so the eviction counters never go down on a rebalance.
    private var retiredEvictions = StateFigures()
    private var brokersDownReason: String?
    /// Set by the first rebalance: a member of the group may legitimately own no partition.
    private var joinedGroup = false
    /// State figures cost a pass over every shard's global windows: refreshed at most once a second.
    private var stateFiguresAt: ContinuousClock.Instant?
    /// Set once the final drain is done: `close` commits by itself and refuses explicit commits.
    private var closing = false
    private var consumer: KafkaConsumer?
    private var producer: KafkaProducer?
    /// Outputs (tokens into `pending`) that did not fit in the producer's full local queue, in order.
    /// While any wait, consumption is paused (backpressure) and new outputs queue up behind them.
    private var blocked: [UInt64] = []
    private var backpressureSince: ContinuousClock.Instant?
    /// The latest delivery report or enqueue while under backpressure, for the stall limit.
    private var lastProgress = ContinuousClock.now
    private var backpressureEpisodes = 0

    init(settings: Settings, mailbox: ConfigMailbox, status: DaemonStatus, metrics: DaemonMetrics, logger: Logger) {
        self.settings = settings
        self.mailbox = mailbox
        self.status = status
        self.metrics = metrics
        self.logger = logger
        policyVersion = settings.config.policyVersion
        outputHeaders = Self.outputHeaders(policyVersion: settings.config.policyVersion)
    }

    /// Asks the loop to finish the current batch and shut down cleanly; callable from any thread.
    func requestStop() { stopRequested.store(true, ordering: .relaxed) }

    /// The loop body; blocks until stopped or failed. Throws on a fatal Kafka error.
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
            while !stopRequested.load(ordering: .relaxed) {
                try iterate(consumer: consumer, producer: producer)
            }
        } catch {
            logger.critical(
                "Kafka loop failed; stopping without flushing. Undelivered inputs will be consumed again",
                metadata: ["error": "\(error)"])
            status.update {
                $0.ready = false
                $0.notReadyReason = "fatal Kafka error: \(error)"
            }
            metrics.recordReady(false)
            // Offsets stored so far cover only fully delivered inputs: committing them is safe.
            closing = true
            try? consumer.close()
            throw error
        }
        try shutdown(consumer: consumer, producer: producer)
    }

    private func iterate(consumer: KafkaConsumer, producer: KafkaProducer) throws {
        if let next = mailbox.take() { adopt(next) }
        try relieveBackpressure(producer: producer)
        // Under backpressure the partitions are paused, but poll still serves rebalances and keeps the
        // member in its group; it must not wait, delivery reports are what the loop waits for.
        let messages = try consumer.poll(
            maxMessages: settings.batchSize, timeout: backpressureSince == nil ? settings.pollTimeout : .zero)
        let now = ContinuousClock.now
        var outputs: [OutputMessage] = []
        var newestTimestamp: Int64?
        for message in messages {
            let shard = shard(for: message.topicPartition)
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
            shard.track(offset: message.offset, outputs: outputs.count, receivedAt: now)
            for output in outputs { try send(output, from: message, shard: shard, producer: producer) }
        }
        if !messages.isEmpty { brokersDownReason = nil }
        try handle(try producer.poll(), producer: producer)
        try updateBackpressure(consumer: consumer, producer: producer)
        try storeDone(consumer: consumer)
        publishStatus(consumer: consumer, newestTimestamp: newestTimestamp)
    }

    /// Under backpressure: waits briefly for delivery reports (they free queue room), then enqueues the
    /// blocked outputs in order until the queue is full again.
    private func relieveBackpressure(producer: KafkaProducer) throws {
        guard backpressureSince != nil else { return }
        let reports = try producer.poll(timeout: .milliseconds(50))
        if !reports.isEmpty { lastProgress = ContinuousClock.now }
        try handle(reports, producer: producer)
        try enqueueBlocked(producer: producer)
    }

    /// Enqueues blocked outputs in order while the queue has room; drops those of revoked partitions
    /// (their next owner redoes the inputs).
    private func enqueueBlocked(producer: KafkaProducer) throws {
        var done = 0
        for token in blocked {
            if let entry = pending[token] {
                if shards[entry.shard.topicPartition] !== entry.shard {
                    pending[token] = nil
                } else if try !enqueueOnce(entry, token: token, producer: producer) {
                    break
                }
            }
            done += 1
        }
        if done > 0 {
            blocked.removeFirst(done)
            lastProgress = ContinuousClock.now
        }
    }

    /// Pauses consumption when outputs are blocked; resumes once all are enqueued and the queue is at
    /// most half full (so one batch does not block it again at once); fails after a stall without
    /// progress longer than `maxProducerStall`.
    private func updateBackpressure(consumer: KafkaConsumer, producer: KafkaProducer) throws(LoopError) {
        let now = ContinuousClock.now
        if let since = backpressureSince {
            if blocked.isEmpty, producer.pendingCount <= resumeBelow {
                backpressureSince = nil
                pausing(false, consumer)
                logger.notice(
                    "producer queue has room again: consuming again",
                    metadata: ["paused_for": "\(now - since)", "queued": "\(producer.pendingCount)"])
            } else if let limit = settings.maxProducerStall, now - lastProgress > limit {
                throw LoopError.producerStalled(now - lastProgress, waiting: blocked.count)
            }
        } else if !blocked.isEmpty {
            backpressureSince = now
            lastProgress = now
            backpressureEpisodes += 1
            pausing(true, consumer)
            logger.warning(
                "producer queue full: pausing consumption until outputs drain (backpressure)",
                metadata: ["waiting_outputs": "\(blocked.count)", "queued": "\(producer.pendingCount)"])
        }
    }

    /// Pauses or resumes the whole assignment. A failure is logged, not fatal: at worst the partitions
    /// keep fetching and their outputs queue up behind the blocked ones.
    private func pausing(_ pause: Bool, _ consumer: KafkaConsumer) {
        do {
            if pause { try consumer.pause() } else { try consumer.resume() }
        } catch {
            logger.error(
                "could not \(pause ? "pause" : "resume") the input partitions", metadata: ["error": "\(error)"])
        }
    }

    /// Half of the producer's queue (`queue.buffering.max.messages`, librdkafka's default 100,000).
    private var resumeBelow: Int {
        (settings.producer["queue.buffering.max.messages"].flatMap { Int($0) } ?? 100_000) / 2
    }

    private func shard(for topicPartition: KafkaTopicPartition) -> PartitionShard {
        if let shard = shards[topicPartition] { return shard }
        let config = settings.config
        let shard = PartitionShard(
            topicPartition: topicPartition,
            pipeline: Pipeline(
                config: config.config.core, policyVersion: policyVersion, enricher: settings.enricher,
                deviceKey: settings.deviceKey))
        shards[topicPartition] = shard
        return shard
    }

    private func adopt(_ next: LoadedConfig) {
        for shard in shards.values { shard.pipeline.reconfigure(next.config.core, policyVersion: next.policyVersion) }
        settings.config = next
        policyVersion = next.policyVersion
        metrics.recordPolicyVersion(next.policyVersion)
        logger.notice("new configuration in force", metadata: ["policy_version": "\(next.policyVersion)"])
    }

    private func send(
        _ output: OutputMessage, from message: KafkaMessage, shard: PartitionShard, producer: KafkaProducer
    ) throws {
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
        let token = nextToken
        nextToken += 1
        let entry = PendingOutput(
            shard: shard, inputOffset: message.offset, topic: topic, key: output.key, payload: output.payload,
            headers: headers, attempts: 1)
        pending[token] = entry
        try enqueue(entry, token: token, producer: producer)
    }

    private static func outputHeaders(policyVersion: String) -> [KafkaHeader] {
        [
            KafkaHeader(name: "content-type", value: Array("application/json".utf8)),
            KafkaHeader(name: "vigil-version", value: Array(VigilVersion.current.utf8)),
            KafkaHeader(name: "vigil-policy-version", value: Array(policyVersion.utf8)),
        ]
    }

    /// Produces the output, or, when the producer's queue is full or earlier outputs already wait,
    /// queues it behind them (keeping per-key order).
    private func enqueue(_ entry: PendingOutput, token: UInt64, producer: KafkaProducer) throws {
        if blocked.isEmpty, try enqueueOnce(entry, token: token, producer: producer) { return }
        blocked.append(token)
    }

    /// One produce attempt; false when the local queue is full.
    private func enqueueOnce(_ entry: PendingOutput, token: UInt64, producer: KafkaProducer) throws -> Bool {
        do throws(KafkaError) {
            if let key = entry.key {
                try producer.produce(
                    topic: entry.topic, key: key, value: entry.payload, headers: entry.headers, opaque: token)
            } else {
                try producer.produce(
                    topic: entry.topic, key: nil, value: entry.payload, headers: entry.headers, opaque: token)
            }
            return true
        } catch .operationFailed(_, let code) where code == .queueFull {
            return false
        }
    }

    /// Applies delivery reports: acknowledges delivered outputs, retries failed ones (bounded).
    private func handle(_ reports: [KafkaDeliveryReport], producer: KafkaProducer) throws {
        for report in reports {
            guard var entry = pending.removeValue(forKey: report.opaque) else { continue }
            // The partition was revoked since: its next owner redoes the input.
            guard shards[entry.shard.topicPartition] === entry.shard else { continue }
            switch report.outcome {
            case .delivered:
                brokersDownReason = nil
                entry.shard.acknowledge(offset: entry.inputOffset)
            case .failed(let failure):
                if failure.isFatal {
                    throw LoopError.deliveryFailed(topic: entry.topic, attempts: entry.attempts, reason: "\(failure)")
                }
                guard entry.attempts < settings.maxDeliveryAttempts else {
                    throw LoopError.deliveryFailed(topic: entry.topic, attempts: entry.attempts, reason: "\(failure)")
                }
                logger.warning(
                    "output delivery failed; producing it again",
                    metadata: ["topic": "\(entry.topic)", "attempt": "\(entry.attempts)", "error": "\(failure)"])
                entry.attempts += 1
                pending[report.opaque] = entry
                try enqueue(entry, token: report.opaque, producer: producer)
            }
        }
    }

    private func storeDone(consumer: KafkaConsumer, only partitions: [KafkaTopicPartition]? = nil) throws {
        let selected = partitions.map { $0.compactMap { shards[$0] } } ?? Array(shards.values)
        let now = ContinuousClock.now
        for shard in selected {
            for start in shard.advance() { metrics.recordProcessingLatency(now - start) }
            do {
                try shard.storeDone(in: consumer)
            } catch {
                logger.warning(
                    "could not store offset", metadata: ["partition": "\(shard.topicPartition)", "error": "\(error)"])
            }
        }
    }

    /// Runs inside `consumer.poll` (or `close`) on the loop thread.
    private func rebalanced(_ event: KafkaRebalanceEvent) {
        switch event {
        case .assigned(let partitions):
            logger.info("partitions assigned", metadata: ["partitions": "\(partitions.map(\.description))"])
            for partition in partitions { _ = shard(for: partition) }
            if backpressureSince != nil {
                do {
                    try consumer?.pause(partitions)
                } catch {
                    logger.warning("could not pause newly assigned partitions", metadata: ["error": "\(error)"])
                }
            }
            brokersDownReason = nil
            joinedGroup = true
        case .revoked(let partitions, let lost):
            logger.info(
                "partitions revoked", metadata: ["partitions": "\(partitions.map(\.description))", "lost": "\(lost)"])
            // KafkaConsumer commits what is stored here for the revoked partitions once this returns,
            // and retries that commit at the next assignment if the rebalancing group rejects it.
            if !lost, !closing, let consumer, let producer {
                finishOutstanding(producer: producer, timeout: min(shutdownTimeout, .seconds(10)))
                do {
                    try storeDone(consumer: consumer, only: partitions)
                } catch {
                    logger.warning("storing offsets on revocation failed", metadata: ["error": "\(error)"])
                }
            }
            for partition in partitions {
                if let shard = shards.removeValue(forKey: partition) {
                    retiredStats.add(shard.pipeline.stats)
                    let counters = shard.pipeline.engine.state.counters
                    retiredEvictions.evictedUsers += counters.evictedUsers
                    retiredEvictions.evictedSources += counters.evictedSources
                    retiredEvictions.droppedAtCapacity += counters.droppedAtCapacity
                }
            }
        }
    }

    /// Flushes the producer until every output is acknowledged or `timeout` passes. Errors are logged:
    /// an output left unacknowledged only means its input is consumed again.
    private func finishOutstanding(producer: KafkaProducer, timeout: Duration) {
        let deadline = ContinuousClock.now + timeout
        while !pending.isEmpty, ContinuousClock.now < deadline {
            let reports = producer.flush(timeout: min(deadline - ContinuousClock.now, .milliseconds(200)))
            do {
                try handle(reports, producer: producer)
                try enqueueBlocked(producer: producer)
            } catch {
                logger.error("delivery failed while draining", metadata: ["error": "\(error)"])
                return
            }
        }
        if !pending.isEmpty {
            logger.warning(
                "outputs still unacknowledged after the drain timeout; their inputs will be consumed again",
                metadata: ["outputs": "\(pending.count)"])
        }
    }

    private func shutdown(consumer: KafkaConsumer, producer: KafkaProducer) throws {
        logger.info("stopping Kafka loop: draining outputs", metadata: ["outputs": "\(pending.count)"])
        finishOutstanding(producer: producer, timeout: shutdownTimeout)
        try storeDone(consumer: consumer)
        do {
            try consumer.commit()
        } catch {
            logger.warning("final commit failed", metadata: ["error": "\(error)"])
        }
        closing = true
        try consumer.close()
        publishStatus(consumer: nil, newestTimestamp: nil)
        status.update {
            $0.ready = false
            $0.notReadyReason = "shutting down"
        }
        metrics.recordReady(false)
        logger.info("Kafka loop stopped")
    }

    private var shutdownTimeout: Duration {
        .microseconds(settings.config.config.kafka.shutdownTimeout.microseconds)
    }

    /// VigilKafka already logs every warning; only an outage changes what the daemon reports.
    private func warn(_ warning: KafkaWarning) {
        guard warning.code == .allBrokersDown else { return }
        brokersDownReason = "all Kafka brokers are down: \(warning.reason)"
        logger.error("all Kafka brokers are down: not ready until one is reachable again")
    }

    /// Once per batch: totals over every shard, readiness, lag and state figures.
    private func publishStatus(consumer: KafkaConsumer?, newestTimestamp: Int64?) {
        var stats = retiredStats
        let now = ContinuousClock.now
        if stateFiguresAt.map({ now - $0 >= .seconds(1) }) ?? true {
            stateFiguresAt = now
            metrics.record(state: shards.values.reduce(into: retiredEvictions) { $0.add($1.pipeline.engine.figures) })
        }
        for shard in shards.values { stats.add(shard.pipeline.stats) }
        metrics.record(pipeline: stats)
        metrics.recordProducerBackpressure(active: backpressureSince != nil, episodes: backpressureEpisodes)
        if let lag = (try? consumer?.lag()) ?? nil {
            metrics.recordConsumerLag(messages: lag.reduce(0) { $0 + ($1.lag ?? 0) })
        }
        if let newestTimestamp {
            metrics.recordEventTimeLag(seconds: max(0, Date().timeIntervalSince1970 - Double(newestTimestamp) / 1000))
        }
        let assigned = shards.keys.map(\.description).sorted()
        let downReason = brokersDownReason
        let joined = joinedGroup
        let ready = status.update { snapshot in
            snapshot.stats = stats
            snapshot.assignedPartitions = assigned
            if let downReason {
                snapshot.ready = false
                snapshot.notReadyReason = downReason
            } else if joined || !assigned.isEmpty {
                snapshot.ready = true
                snapshot.notReadyReason = nil
            } else {
                snapshot.ready = false
                snapshot.notReadyReason = "joining consumer group"
            }
            return snapshot.ready
        }
        metrics.recordReady(ready)
    }
}
