import Testing
import VigilCore
import VigilKafka

@testable import VigilDaemon

/// The Kafka loop's decisions without a broker: each test feeds `KafkaLoopStateMachine` the events
/// the driver would report and asserts the actions it answers with, exactly.
struct KafkaLoopStateMachineTests {
    private typealias Machine = KafkaLoopStateMachine

    private static let p0 = KafkaTopicPartition(topic: "auth.events", partition: 0)
    private static let p1 = KafkaTopicPartition(topic: "auth.events", partition: 1)
    private static let poll = Machine.Action.poll(maxMessages: 500, timeout: .milliseconds(100))
    private static let ready = Machine.Status(readiness: .ready, backpressureActive: false, backpressureEpisodes: 0)
    private static let shuttingDown = Machine.Status(
        readiness: .notReady("shutting down"), backpressureActive: false, backpressureEpisodes: 0)

    private static func machine(maxProducerStall: Duration? = .seconds(360)) -> Machine {
        Machine(
            configuration: Machine.Configuration(
                batchSize: 500, pollTimeout: .milliseconds(100), maxDeliveryAttempts: 3,
                maxProducerStall: maxProducerStall, resumeBelow: 50, shutdownTimeout: .seconds(5)))
    }

    private static func output(_ name: String) -> Machine.Output {
        Machine.Output(
            topic: "auth.decisions", key: name, payload: Array(name.utf8), headers: [],
            kind: .init(stream: .decisions, label: "allow"))
    }

    /// Performs `send` with a producer that has room: the tokens produced, in order.
    private static func sendAll(_ machine: inout Machine, now: Duration = .zero) -> [Machine.Token] {
        var tokens: [Machine.Token] = []
        while let (token, _) = machine.nextOutput(now: now) {
            tokens.append(token)
            machine.outputSent(now: now)
        }
        return tokens
    }

    /// Reports the input at `offset` of `partition` processed into `outputs` outputs and produces
    /// them: their tokens.
    private static func processed(
        _ machine: inout Machine, _ partition: KafkaTopicPartition, offset: Int64, outputs: Int, now: Duration = .zero
    ) -> [Machine.Token] {
        let actions = machine.inputProcessed(
            partition, offset: offset, outputs: (0..<outputs).map { output("\(offset)-\($0)") }, now: now)
        #expect(actions == (outputs > 0 ? [.send] : []))
        return sendAll(&machine, now: now)
    }

    @Test func offsetIsStoredOnlyOnceItsOutputsAndEveryEarlierInputsAreDelivered() {
        var machine = Self.machine()
        #expect(machine.assigned([Self.p0]) == [.openShard(Self.p0)])
        #expect(machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [Self.poll])
        #expect(machine.inputArrived(Self.p0, offset: 10) == .process([]))
        #expect(Self.processed(&machine, Self.p0, offset: 10, outputs: 2) == [1, 2])
        #expect(Self.processed(&machine, Self.p0, offset: 11, outputs: 1) == [3])
        #expect(Self.processed(&machine, Self.p0, offset: 12, outputs: 0) == [])
        #expect(machine.polled(messageCount: 3) == [.pollDeliveries(timeout: .zero), .endBatch])

        // Input 11's output arrives first: 10 still waits for one of its two, so nothing is stored.
        #expect(
            machine.delivered([(3, .delivered(offset: 0)), (2, .delivered(offset: 0))], now: .milliseconds(1)) == [])
        #expect(machine.batchEnded(now: .milliseconds(2), producerQueued: 1) == [.publishStatus(Self.ready)])

        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .milliseconds(4)) == [])
        let latency = Duration.milliseconds(5)
        #expect(
            machine.batchEnded(now: latency, producerQueued: 0) == [
                .recordLatencies([latency, latency, latency]), .storeOffset(Self.p0, 12), .publishStatus(Self.ready),
            ])
        // Stored once: the next batch stores nothing new.
        #expect(machine.batchEnded(now: .milliseconds(6), producerQueued: 0) == [.publishStatus(Self.ready)])
    }

    @Test func aFailedStoreIsStoredAgainNextBatch() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 3, outputs: 0)
        #expect(
            machine.batchEnded(now: .zero, producerQueued: 0) == [
                .recordLatencies([.zero]), .storeOffset(Self.p0, 3), .publishStatus(Self.ready),
            ])
        machine.storeFailed(Self.p0)
        #expect(
            machine.batchEnded(now: .zero, producerQueued: 0) == [.storeOffset(Self.p0, 3), .publishStatus(Self.ready)])
    }

    @Test func aFailedDeliveryIsProducedAgainThenFatal() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        #expect(Self.processed(&machine, Self.p0, offset: 0, outputs: 1) == [1])
        for attempt in 1...2 {
            #expect(
                machine.delivered([(1, .failed(reason: "timed out", isFatal: false))], now: .zero) == [
                    .retryDelivery(topic: "auth.decisions", attempt: attempt, reason: "timed out"), .send,
                ])
            #expect(Self.sendAll(&machine) == [1])
        }
        #expect(
            machine.delivered([(1, .failed(reason: "timed out", isFatal: false))], now: .zero) == [
                .fail(.deliveryFailed(topic: "auth.decisions", attempts: 3, reason: "timed out"))
            ])
        // Failed: a stop request no longer starts a shutdown.
        #expect(machine.nextBatch(now: .zero, stopRequested: true, postedConfig: nil) == [])
    }

    @Test func aFatalDeliveryFailureIsFatalAtOnce() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        #expect(
            machine.delivered([(1, .failed(reason: "fenced", isFatal: true))], now: .zero) == [
                .fail(.deliveryFailed(topic: "auth.decisions", attempts: 1, reason: "fenced"))
            ])
    }

    @Test func revocationDrainsThenStoresThenDropsTheShard() {
        var machine = Self.machine()
        #expect(machine.assigned([Self.p0, Self.p1]) == [.openShard(Self.p0), .openShard(Self.p1)])
        _ = Self.processed(&machine, Self.p0, offset: 5, outputs: 1)
        _ = Self.processed(&machine, Self.p1, offset: 8, outputs: 1)

        let revokedAt = Duration.seconds(1)
        #expect(machine.revoked([Self.p0], lost: false, now: revokedAt) == [.flush(timeout: .milliseconds(200))])
        #expect(
            machine.drained([(1, .delivered(offset: 0))], now: revokedAt + .milliseconds(100)) == [
                .send, .flush(timeout: .milliseconds(200)),
            ])
        #expect(
            machine.drained([(2, .delivered(offset: 0))], now: revokedAt + .milliseconds(300)) == [
                .send, .recordLatencies([revokedAt + .milliseconds(300)]), .storeOffset(Self.p0, 5),
                .retireShard(Self.p0),
            ])
        #expect(machine.assignedPartitions == [Self.p1])
        // Back to normal batches; p1's finished input is stored with the others.
        #expect(machine.nextBatch(now: .seconds(2), stopRequested: false, postedConfig: nil) == [Self.poll])
        #expect(
            machine.batchEnded(now: .seconds(2), producerQueued: 0) == [
                .recordLatencies([.seconds(2)]), .storeOffset(Self.p1, 8), .publishStatus(Self.ready),
            ])
    }

    @Test func revocationDrainEndsAtItsDeadlineAndLateReportsAreIgnored() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 5, outputs: 1)
        // The drain is bounded by the shutdown timeout (5 s) here, below the 10 s revocation limit.
        #expect(machine.revoked([Self.p0], lost: false, now: .zero) == [.flush(timeout: .milliseconds(200))])
        #expect(machine.drained([], now: .milliseconds(4900)) == [.send, .flush(timeout: .milliseconds(100))])
        #expect(
            machine.drained([], now: .seconds(5)) == [
                .send, .drainTimedOut(outstandingOutputs: 1), .retireShard(Self.p0),
            ])

        // Assigned again: a new shard, and the old output's report acknowledges nothing of it.
        #expect(machine.assigned([Self.p0]) == [.openShard(Self.p0)])
        _ = Self.processed(&machine, Self.p0, offset: 6, outputs: 1, now: .seconds(6))
        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .seconds(6)) == [])
        #expect(machine.batchEnded(now: .seconds(6), producerQueued: 0) == [.publishStatus(Self.ready)])
        #expect(machine.delivered([(2, .delivered(offset: 0))], now: .seconds(6)) == [])
        #expect(
            machine.batchEnded(now: .seconds(6), producerQueued: 0) == [
                .recordLatencies([.zero]), .storeOffset(Self.p0, 6), .publishStatus(Self.ready),
            ])
    }

    @Test func lostPartitionsAreDroppedWithoutDrainAndTheirWaitingOutputsWithThem() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        #expect(machine.inputProcessed(Self.p0, offset: 1, outputs: [Self.output("a")], now: .zero) == [.send])
        #expect(machine.revoked([Self.p0], lost: true, now: .zero) == [.retireShard(Self.p0)])
        // The output never reached the producer: its input is the next owner's.
        #expect(machine.nextOutput(now: .zero) == nil)
        #expect(machine.outstandingOutputs == 0)
    }

    @Test func fullProducerQueuePausesThenResumesAtHalf() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        #expect(
            machine.inputProcessed(Self.p0, offset: 0, outputs: [Self.output("a"), Self.output("b")], now: .zero) == [
                .send
            ])
        #expect(machine.nextOutput(now: .zero)?.token == 1)
        machine.outputSent(now: .zero)
        // The queue is full: "b" stays first in the outbox, and later outputs queue behind it.
        #expect(machine.nextOutput(now: .zero)?.token == 2)
        #expect(machine.inputProcessed(Self.p0, offset: 1, outputs: [Self.output("c")], now: .zero) == [])
        #expect(machine.polled(messageCount: 2) == [.pollDeliveries(timeout: .zero), .endBatch])
        let paused = Machine.Status(readiness: .ready, backpressureActive: true, backpressureEpisodes: 1)
        #expect(
            machine.batchEnded(now: .seconds(1), producerQueued: 100) == [
                .pause(nil, waitingOutputs: 2), .publishStatus(paused),
            ])

        // Under backpressure: wait for reports, produce what waits, poll without waiting.
        #expect(
            machine.nextBatch(now: .seconds(2), stopRequested: false, postedConfig: nil) == [
                .pollDeliveries(timeout: .milliseconds(50)), .send, .poll(maxMessages: 500, timeout: .zero),
            ])
        #expect(machine.assigned([Self.p1]) == [.openShard(Self.p1), .pause([Self.p1], waitingOutputs: 2)])
        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .seconds(2)) == [])
        #expect(Self.sendAll(&machine, now: .seconds(2)) == [2, 3])
        // Everything is enqueued, but the queue is above half: still paused.
        #expect(machine.batchEnded(now: .seconds(2), producerQueued: 51) == [.publishStatus(paused)])
        #expect(machine.delivered([(2, .delivered(offset: 0)), (3, .delivered(offset: 0))], now: .seconds(3)) == [])
        #expect(
            machine.batchEnded(now: .seconds(3), producerQueued: 50) == [
                .resume([Self.p0, Self.p1], pausedFor: .seconds(2)), .recordLatencies([.seconds(3), .seconds(3)]),
                .storeOffset(Self.p0, 1),
                .publishStatus(Machine.Status(readiness: .ready, backpressureActive: false, backpressureEpisodes: 1)),
            ])
        #expect(machine.nextBatch(now: .seconds(3), stopRequested: false, postedConfig: nil) == [Self.poll])
    }

    @Test func producerStalledLongerThanItsLimitIsFatal() {
        var machine = Self.machine(maxProducerStall: .seconds(60))
        _ = machine.assigned([Self.p0])
        _ = machine.inputProcessed(Self.p0, offset: 0, outputs: [Self.output("a")], now: .zero)
        #expect(machine.nextOutput(now: .zero)?.token == 1)
        let paused = Machine.Status(readiness: .ready, backpressureActive: true, backpressureEpisodes: 1)
        #expect(
            machine.batchEnded(now: .seconds(1), producerQueued: 100) == [
                .pause(nil, waitingOutputs: 1), .publishStatus(paused),
            ])
        #expect(machine.batchEnded(now: .seconds(61), producerQueued: 100) == [.publishStatus(paused)])
        // A delivery report (even of an output given up) is progress: the stall counts from it.
        #expect(machine.delivered([(7, .delivered(offset: 0))], now: .seconds(61)) == [])
        #expect(machine.batchEnded(now: .seconds(121), producerQueued: 100) == [.publishStatus(paused)])
        #expect(
            machine.batchEnded(now: .seconds(122), producerQueued: 100) == [
                .fail(.producerStalled(.seconds(61), waiting: 1))
            ])
    }

    private static func notReady(_ reason: String) -> Machine.Status {
        Machine.Status(readiness: .notReady(reason), backpressureActive: false, backpressureEpisodes: 0)
    }

    private static let healthy = KafkaBrokerHealth(brokersUp: 1, unreachable: [])

    @Test func brokerHealthDecidesReadinessIdleOrBusyInEitherDirection() {
        var machine = Self.machine()
        #expect(
            machine.batchEnded(now: .zero, producerQueued: 0) == [
                .publishStatus(Self.notReady("joining consumer group"))
            ])
        // Joining: a missing coordinator is expected, a cluster with no broker up is named.
        machine.brokerHealth(input: KafkaBrokerHealth(brokersUp: 1, unreachable: ["group coordinator"]), output: nil)
        #expect(machine.readiness == .notReady("joining consumer group"))
        machine.brokerHealth(input: KafkaBrokerHealth(brokersUp: 0, unreachable: []), output: nil)
        #expect(machine.readiness == .notReady("input brokers unreachable: no broker connected"))
        // A member may own no partition: having joined is enough.
        #expect(machine.assigned([]) == [])
        machine.brokerHealth(input: Self.healthy, output: Self.healthy)
        #expect(machine.batchEnded(now: .zero, producerQueued: 0) == [.publishStatus(Self.ready)])

        // Idle: no message, no delivery; the health alone flips readiness, both ways.
        machine.brokerHealth(input: KafkaBrokerHealth(brokersUp: 0, unreachable: ["b:9092/1"]), output: Self.healthy)
        #expect(
            machine.batchEnded(now: .seconds(1), producerQueued: 0) == [
                .publishStatus(Self.notReady("input brokers unreachable: b:9092/1"))
            ])
        machine.brokerHealth(input: Self.healthy, output: Self.healthy)
        #expect(machine.batchEnded(now: .seconds(2), producerQueued: 0) == [.publishStatus(Self.ready)])

        // Busy: messages and deliveries do not bring readiness back while the output side is down (in
        // the driver's order: the batch's messages and deliveries, then the health, then its end).
        _ = machine.assigned([Self.p0])
        machine.brokerHealth(input: Self.healthy, output: KafkaBrokerHealth(brokersUp: 1, unreachable: ["b:9093/2"]))
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        #expect(machine.polled(messageCount: 4) == [.pollDeliveries(timeout: .zero), .endBatch])
        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .seconds(3)) == [])
        machine.brokerHealth(input: Self.healthy, output: KafkaBrokerHealth(brokersUp: 1, unreachable: ["b:9093/2"]))
        #expect(
            machine.batchEnded(now: .seconds(3), producerQueued: 0) == [
                .recordLatencies([.seconds(3)]), .storeOffset(Self.p0, 0),
                .publishStatus(Self.notReady("output brokers unreachable: b:9093/2")),
            ])
        machine.brokerHealth(input: Self.healthy, output: Self.healthy)
        #expect(machine.readiness == .ready)
    }

    @Test func failingOrStalledDeliveriesMakeNotReadyUntilOneIsAcknowledged() {
        var machine = Machine(
            configuration: Machine.Configuration(
                batchSize: 500, pollTimeout: .milliseconds(100), maxDeliveryAttempts: 3, maxProducerStall: nil,
                resumeBelow: 50, shutdownTimeout: .seconds(5), deliveryStallLimit: .seconds(30)))
        _ = machine.assigned([Self.p0])
        machine.brokerHealth(input: Self.healthy, output: Self.healthy)
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        #expect(machine.batchEnded(now: .zero, producerQueued: 1) == [.publishStatus(Self.ready)])
        #expect(
            machine.delivered([(1, .failed(reason: "Local: Message timed out", isFatal: false))], now: .seconds(1)) == [
                .retryDelivery(topic: "auth.decisions", attempt: 1, reason: "Local: Message timed out"), .send,
            ])
        #expect(machine.readiness == .notReady("output delivery failing: Local: Message timed out"))
        _ = Self.sendAll(&machine, now: .seconds(1))
        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .seconds(2)) == [])
        #expect(machine.readiness == .ready)

        // Outstanding with none acknowledged for longer than the limit: stalled, whatever the brokers say.
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 1, now: .seconds(10))
        #expect(
            machine.batchEnded(now: .seconds(10), producerQueued: 1) == [
                .recordLatencies([.seconds(10)]), .storeOffset(Self.p0, 0), .publishStatus(Self.ready),
            ])
        #expect(machine.batchEnded(now: .seconds(40), producerQueued: 1) == [.publishStatus(Self.ready)])
        #expect(
            machine.batchEnded(now: .seconds(41), producerQueued: 1) == [
                .publishStatus(
                    Self.notReady("output delivery stalled: 1 outputs outstanding, none acknowledged for 31 s"))
            ])
        #expect(machine.delivered([(2, .delivered(offset: 1))], now: .seconds(42)) == [])
        #expect(
            machine.batchEnded(now: .seconds(42), producerQueued: 0) == [
                .recordLatencies([.seconds(32)]), .storeOffset(Self.p0, 1), .publishStatus(Self.ready),
            ])
    }

    @Test func shutdownStopsPollingDrainsCommitsAndEnds() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 7, outputs: 1, now: .seconds(9))
        let stopAt = Duration.seconds(10)
        #expect(
            machine.nextBatch(now: stopAt, stopRequested: true, postedConfig: nil) == [
                .beginShutdown(outstandingOutputs: 1), .flush(timeout: .milliseconds(200)),
            ])
        #expect(machine.drained([], now: stopAt + .milliseconds(200)) == [.send, .flush(timeout: .milliseconds(200))])
        #expect(
            machine.drained([(1, .delivered(offset: 0))], now: .seconds(11)) == [
                .send, .recordLatencies([.seconds(2)]), .storeOffset(Self.p0, 7), .commit,
            ])
        // No batch while shutting down.
        #expect(machine.nextBatch(now: .seconds(11), stopRequested: true, postedConfig: nil) == [])
        #expect(machine.committed(failure: nil) == [.close])
        // Closing revokes everything: no second drain.
        #expect(machine.revoked([Self.p0], lost: false, now: .seconds(11)) == [.retireShard(Self.p0)])
        #expect(
            machine.closed(now: .seconds(11)) == [
                .publishStatus(Self.shuttingDown),
                .finish(nil),
            ])
    }

    @Test func shutdownDrainEndsAtTheShutdownTimeout() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        #expect(
            machine.nextBatch(now: .zero, stopRequested: true, postedConfig: nil) == [
                .beginShutdown(outstandingOutputs: 1), .flush(timeout: .milliseconds(200)),
            ])
        // The drain may take three quarters of the shutdown timeout; the commit and close share the rest.
        #expect(machine.drained([], now: .milliseconds(3700)) == [.send, .flush(timeout: .milliseconds(50))])
        // Offset 1 is done but waits behind 0: nothing is stored, and the commit goes ahead.
        #expect(
            machine.drained([], now: .milliseconds(3750)) == [.send, .drainTimedOut(outstandingOutputs: 1), .commit])
        #expect(machine.remainingShutdownTime(now: .milliseconds(3750)) == .milliseconds(1250))
        // The commit succeeds, yet what the drain left is reported and the loop ends with a failure.
        #expect(
            machine.committed(failure: nil) == [
                .reportUncommitted([Machine.Uncommitted(partition: Self.p0, lastProcessed: 1, stored: nil)]), .close,
            ])
        #expect(machine.remainingShutdownTime(now: .seconds(6)) == .zero)
        #expect(
            machine.closed(now: .seconds(5)) == [
                .publishStatus(Self.shuttingDown),
                .finish(.shutdownDrainFailed(reason: "1 outputs still unacknowledged at the drain deadline")),
            ])
    }

    @Test func aDeliveryFailureEndsTheShutdownDrainButNotTheShutdown() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        _ = machine.nextBatch(now: .zero, stopRequested: true, postedConfig: nil)
        #expect(
            machine.drained([(1, .failed(reason: "fenced", isFatal: true))], now: .zero) == [
                .abandonDrain(.deliveryFailed(topic: "auth.decisions", attempts: 1, reason: "fenced")), .commit,
            ])
        #expect(
            machine.committed(failure: nil) == [
                .reportUncommitted([Machine.Uncommitted(partition: Self.p0, lastProcessed: 0, stored: nil)]), .close,
            ])
        #expect(
            machine.closed(now: .seconds(1)) == [
                .publishStatus(Self.shuttingDown),
                .finish(
                    .shutdownDrainFailed(
                        reason: "delivery to auth.decisions failed 1 times, last: fenced")),
            ])
    }

    @Test func aRevokedPartitionsFailedDeliveryEndsTheDrainAndTheRestOfTheBatchIsStillHandled() {
        var machine = Self.machine()
        #expect(machine.assigned([Self.p0, Self.p1]) == [.openShard(Self.p0), .openShard(Self.p1)])
        #expect(Self.processed(&machine, Self.p0, offset: 0, outputs: 1) == [1])
        #expect(Self.processed(&machine, Self.p1, offset: 0, outputs: 1) == [2])
        #expect(Self.processed(&machine, Self.p1, offset: 1, outputs: 1) == [3])
        #expect(machine.revoked([Self.p0], lost: false, now: .zero) == [.flush(timeout: .milliseconds(200))])
        // p0 is given up: its failed output is abandoned with it. p1's reports behind it still count.
        #expect(
            machine.drained(
                [
                    (1, .failed(reason: "fenced", isFatal: true)), (3, .failed(reason: "timed out", isFatal: false)),
                    (2, .delivered(offset: 0)),
                ], now: .zero) == [
                    .retryDelivery(topic: "auth.decisions", attempt: 1, reason: "timed out"),
                    .abandonDrain(.deliveryFailed(topic: "auth.decisions", attempts: 1, reason: "fenced")),
                    .retireShard(Self.p0), .send,
                ])
        #expect(!machine.isDraining)
        #expect(Self.sendAll(&machine) == [3])
        #expect(machine.delivered([(3, .delivered(offset: 0))], now: .milliseconds(2)) == [])
        #expect(machine.outstandingOutputs == 0)
        #expect(
            machine.batchEnded(now: .milliseconds(3), producerQueued: 0) == [
                .recordLatencies([.milliseconds(3), .milliseconds(3)]), .storeOffset(Self.p1, 1),
                .publishStatus(Self.ready),
            ])
    }

    @Test func aStayingPartitionsFailedDeliveryDuringARevocationDrainFailsTheLoop() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0, Self.p1])
        #expect(Self.processed(&machine, Self.p0, offset: 0, outputs: 1) == [1])
        #expect(Self.processed(&machine, Self.p1, offset: 0, outputs: 1) == [2])
        #expect(machine.revoked([Self.p0], lost: false, now: .zero) == [.flush(timeout: .milliseconds(200))])
        // p1 stays assigned: abandoning its output would leave its offsets unstored until a restart.
        #expect(
            machine.drained([(2, .failed(reason: "fenced", isFatal: true)), (1, .delivered(offset: 0))], now: .zero)
                == [
                    .fail(.deliveryFailed(topic: "auth.decisions", attempts: 1, reason: "fenced"))
                ])
        #expect(machine.nextBatch(now: .seconds(1), stopRequested: false, postedConfig: nil) == [])
    }

    @Test func aProduceErrorEndsARevocationDrainAtItsNextStep() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        #expect(machine.revoked([Self.p0], lost: false, now: .zero) == [.flush(timeout: .milliseconds(200))])
        #expect(
            machine.drained([(1, .failed(reason: "timed out", isFatal: false))], now: .zero) == [
                .retryDelivery(topic: "auth.decisions", attempt: 1, reason: "timed out"), .send,
                .flush(timeout: .milliseconds(200)),
            ])
        #expect(machine.isDraining)
        machine.sendFailedWhileDraining(reason: "unknown topic")
        #expect(
            machine.drained([], now: .milliseconds(200)) == [
                .abandonDrain(.produceFailed(reason: "unknown topic")), .retireShard(Self.p0),
            ])
        // The loop goes on; outside a drain a produce error is the driver's fatal error.
        #expect(!machine.isDraining)
        #expect(machine.nextBatch(now: .seconds(1), stopRequested: false, postedConfig: nil) == [Self.poll])
    }

    @Test func aFailedFinalCommitEndsTheLoopWithAFailure() {
        var machine = Self.machine()
        #expect(
            machine.nextBatch(now: .zero, stopRequested: true, postedConfig: nil) == [
                .beginShutdown(outstandingOutputs: 0), .commit,
            ])
        // Nothing processed: nothing to report.
        #expect(machine.committed(failure: "coordinator unavailable") == [.reportUncommitted([]), .close])
        #expect(
            machine.closed(now: .seconds(11)) == [
                .publishStatus(Self.shuttingDown),
                .finish(.finalCommitFailed(reason: "coordinator unavailable")),
            ])
    }

    @Test func postedConfigIsAppliedBetweenBatchesAndItsShutdownTimeoutUsed() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: ("v2", .seconds(1))) == [
                .applyConfig(policyVersion: "v2"), Self.poll,
            ])
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        #expect(machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [Self.poll])
        _ = machine.nextBatch(now: .zero, stopRequested: true, postedConfig: nil)
        #expect(machine.drained([], now: .seconds(1)) == [.send, .drainTimedOut(outstandingOutputs: 1), .commit])
    }

    // MARK: With the changelog

    private static let changelogTopic = "vigil-state-changelog"
    private static let p2 = KafkaTopicPartition(topic: "auth.events", partition: 2)
    /// While a partition restores, the poll does not wait: the restore steps are the batch's work.
    private static let pollWhileRestoring = Machine.Action.poll(maxMessages: 500, timeout: .zero)

    private static func changelogMachine(
        snapshotInterval: Duration? = .seconds(60), statelessTopics: Set<String> = []
    ) -> Machine {
        var configuration = Machine.Configuration(
            batchSize: 500, pollTimeout: .milliseconds(100), maxDeliveryAttempts: 3, maxProducerStall: .seconds(360),
            resumeBelow: 50, shutdownTimeout: .seconds(5))
        configuration.changelog = Machine.Changelog(
            topic: changelogTopic, flushInterval: .seconds(1), snapshotInterval: snapshotInterval,
            statelessTopics: statelessTopics)
        var machine = Machine(configuration: configuration)
        machine.changelogPartitionCount(3)
        return machine
    }

    /// Assigns `partitions` and finishes their restores at once.
    private static func restored(_ machine: inout Machine, _ partitions: [KafkaTopicPartition]) {
        _ = machine.assigned(partitions)
        for partition in partitions {
            #expect(
                machine.restoreProgressed(partition, records: 0, finished: true, now: .zero) == [
                    .resume([partition], pausedFor: nil)
                ])
        }
    }

    private static func entry(_ name: String, tombstone: Bool = false) -> ChangelogRecord {
        ChangelogRecord(key: Array(name.utf8), value: tombstone ? nil : Array("value of \(name)".utf8))
    }

    /// Performs `send`: the changelog records produced, in order, with their tokens.
    private static func sentRecords(_ machine: inout Machine) -> [(Machine.Token, Machine.Outgoing)] {
        var sent: [(Machine.Token, Machine.Outgoing)] = []
        while let (token, outgoing) = machine.nextOutput(now: .zero) {
            sent.append((token, outgoing))
            machine.outputSent(now: .zero)
        }
        return sent
    }

    @Test func anAssignedPartitionRestoresWhilePausedThenResumes() {
        var machine = Self.changelogMachine()
        #expect(machine.assigned([Self.p0]) == [.openShard(Self.p0), .pause([Self.p0], waitingOutputs: 0)])
        #expect(machine.readiness == .notReady("restoring 1 partition: 0 records so far"))
        // The restore begins at the next batch (not inside the rebalance callback), one step per batch.
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .beginRestore(Self.p0), .restoreStep(Self.p0), Self.pollWhileRestoring,
            ])
        #expect(machine.restoreProgressed(Self.p0, records: 12_345, finished: false, now: .zero) == [])
        #expect(machine.assigned([Self.p1]) == [.openShard(Self.p1), .pause([Self.p1], waitingOutputs: 0)])
        #expect(machine.readiness == .notReady("restoring 2 partitions: 12,345 records so far"))
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .restoreStep(Self.p0), .beginRestore(Self.p1), .restoreStep(Self.p1), Self.pollWhileRestoring,
            ])
        #expect(
            machine.restoreProgressed(Self.p0, records: 20_000, finished: true, now: .zero) == [
                .resume([Self.p0], pausedFor: nil)
            ])
        #expect(machine.readiness == .notReady("restoring 1 partition: 0 records so far"))
        #expect(
            machine.restoreProgressed(Self.p1, records: 3, finished: true, now: .zero) == [
                .resume([Self.p1], pausedFor: nil)
            ])
        #expect(machine.readiness == .ready)
        #expect(machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [Self.poll])
    }

    @Test func aRestoreErrorFailsTheLoop() {
        var machine = Self.changelogMachine()
        _ = machine.assigned([Self.p0])
        _ = machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil)
        #expect(
            machine.restoreFailed(Self.p0, reason: "unknown record version 7") == [
                .fail(.restoreFailed(Self.p0, reason: "unknown record version 7"))
            ])
        #expect(machine.nextBatch(now: .zero, stopRequested: true, postedConfig: nil) == [])
    }

    @Test func aMessageFetchedWhileRestoringIsHeldAndConsumedAgainFromItsOffset() {
        var machine = Self.changelogMachine()
        _ = machine.assigned([Self.p0])
        #expect(machine.inputArrived(Self.p0, offset: 40) == .hold([]))
        #expect(machine.inputArrived(Self.p0, offset: 41) == .hold([]))
        #expect(
            machine.restoreProgressed(Self.p0, records: 1, finished: true, now: .zero) == [
                .seek(Self.p0, offset: 40), .resume([Self.p0], pausedFor: nil),
            ])
        #expect(machine.inputArrived(Self.p0, offset: 40) == .process([]))
        // A message of a partition never assigned opens it restoring, and is held too.
        #expect(
            machine.inputArrived(Self.p1, offset: 3)
                == .hold([.openShard(Self.p1), .pause([Self.p1], waitingOutputs: 0)]))
    }

    @Test func backpressureNeverResumesARestoringPartitionAndARestoreEndingUnderItWaits() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = machine.assigned([Self.p1, Self.p2])
        _ = machine.inputProcessed(Self.p0, offset: 0, outputs: [Self.output("a")], now: .zero)
        // The queue is full: the output stays in the outbox.
        let paused = Machine.Status(
            readiness: .notReady("restoring 2 partitions: 0 records so far"), backpressureActive: true,
            backpressureEpisodes: 1)
        #expect(
            machine.batchEnded(now: .milliseconds(10), producerQueued: 100) == [
                .pause(nil, waitingOutputs: 1), .publishStatus(paused),
            ])
        // p1's restore ends under backpressure: it stays paused, and resumes with the others.
        #expect(machine.restoreProgressed(Self.p1, records: 5, finished: true, now: .milliseconds(20)) == [])
        #expect(Self.sendAll(&machine) == [1])
        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .milliseconds(30)) == [])
        let actions = machine.batchEnded(now: .milliseconds(40), producerQueued: 0)
        #expect(actions.first == .resume([Self.p0, Self.p1], pausedFor: .milliseconds(30)))
    }

    @Test func aFlushIsProducedOnlyOnceTheOutputsOfItsInputsAreAcknowledged() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        #expect(Self.processed(&machine, Self.p0, offset: 5, outputs: 1) == [1])
        let records = [Self.entry("begin"), Self.entry("user", tombstone: true), Self.entry("checkpoint")]
        #expect(
            machine.batchEnded(now: .seconds(1), producerQueued: 1) == [
                .captureChangelog(Self.p0, stamp: 5, withSnapshot: false), .publishStatus(Self.ready),
            ])
        // The output of input 5 is not acknowledged: the flush waits outside the outbox.
        #expect(machine.changelogCaptured(Self.p0, stamp: 5, records: records, snapshot: nil, now: .zero) == [])
        #expect(machine.nextOutput(now: .seconds(1)) == nil)
        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .seconds(1)) == [])
        #expect(
            machine.batchEnded(now: .seconds(1), producerQueued: 0) == [
                .send, .recordLatencies([.seconds(1)]), .publishStatus(Self.ready),
            ])
        // The checkpoint follows once the records before it are acknowledged.
        let sent = Self.sentRecords(&machine)
        #expect(sent.map(\.0) == [2, 3])
        #expect(sent.map(\.1) == records.dropLast().map { .changelog(partition: 0, $0) })
        #expect(
            machine.delivered([(2, .delivered(offset: 10)), (3, .delivered(offset: 11))], now: .seconds(1)) == [.send])
        let checkpoint = Self.sentRecords(&machine)
        #expect(checkpoint.map(\.0) == [4] && checkpoint.map(\.1) == [.changelog(partition: 0, records[2])])
        // Input 5 is stored only once the whole flush is acknowledged.
        #expect(machine.batchEnded(now: .seconds(1), producerQueued: 0) == [.publishStatus(Self.ready)])
        #expect(machine.delivered([(4, .delivered(offset: 12))], now: .seconds(1)) == [])
        #expect(
            machine.batchEnded(now: .seconds(1), producerQueued: 0) == [
                .storeOffset(Self.p0, 5), .publishStatus(Self.ready),
            ])
    }

    @Test func anOffsetIsNeverStoredPastTheLastAcknowledgedFlush() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 5, outputs: 0)
        #expect(
            machine.batchEnded(now: .seconds(1), producerQueued: 0) == [
                .captureChangelog(Self.p0, stamp: 5, withSnapshot: false), .recordLatencies([.seconds(1)]),
                .publishStatus(Self.ready),
            ])
        // Nothing changed: an empty flush covers input 5 at once.
        #expect(machine.changelogCaptured(Self.p0, stamp: 5, records: [], snapshot: nil, now: .zero) == [])
        _ = Self.processed(&machine, Self.p0, offset: 6, outputs: 0)
        _ = Self.processed(&machine, Self.p0, offset: 7, outputs: 0)
        // Inputs 6 and 7 are done but no flush covers them yet (the interval has not passed).
        #expect(
            machine.batchEnded(now: .milliseconds(1500), producerQueued: 0) == [
                .recordLatencies([.milliseconds(1500), .milliseconds(1500)]), .storeOffset(Self.p0, 5),
                .publishStatus(Self.ready),
            ])
        #expect(
            machine.batchEnded(now: .seconds(2), producerQueued: 0) == [
                .captureChangelog(Self.p0, stamp: 7, withSnapshot: false), .publishStatus(Self.ready),
            ])
        #expect(
            machine.changelogCaptured(Self.p0, stamp: 7, records: [Self.entry("cp")], snapshot: nil, now: .zero) == [
                .send
            ])
        #expect(Self.sendAll(&machine) == [1])
        #expect(machine.batchEnded(now: .seconds(2), producerQueued: 1) == [.publishStatus(Self.ready)])
        #expect(machine.delivered([(1, .delivered(offset: 3))], now: .seconds(2)) == [])
        #expect(
            machine.batchEnded(now: .seconds(2), producerQueued: 0) == [
                .storeOffset(Self.p0, 7), .publishStatus(Self.ready),
            ])
        // Nothing processed since: no capture at the next interval.
        #expect(machine.batchEnded(now: .seconds(3), producerQueued: 0) == [.publishStatus(Self.ready)])
    }

    @Test func aFailedChangelogDeliveryIsFatalWithoutAnotherAttempt() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 0)
        _ = machine.batchEnded(now: .seconds(1), producerQueued: 0)
        #expect(
            machine.changelogCaptured(Self.p0, stamp: 0, records: [Self.entry("cp")], snapshot: nil, now: .zero) == [
                .send
            ])
        #expect(Self.sendAll(&machine) == [1])
        #expect(
            machine.delivered([(1, .failed(reason: "timed out", isFatal: false))], now: .seconds(1)) == [
                .fail(.changelogDeliveryFailed(topic: Self.changelogTopic, partition: 0, reason: "timed out"))
            ])
    }

    @Test func aFailedChangelogDeliveryOfARevokedPartitionAbandonsTheDrain() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0, Self.p1])
        _ = Self.processed(&machine, Self.p0, offset: 4, outputs: 0)
        _ = Self.processed(&machine, Self.p1, offset: 9, outputs: 0)
        // The revoked partition's state is captured first, then drained with the outputs.
        #expect(
            machine.revoked([Self.p0], lost: false, now: .zero) == [
                .captureChangelog(Self.p0, stamp: 4, withSnapshot: false), .flush(timeout: .milliseconds(200)),
            ])
        #expect(
            machine.changelogCaptured(Self.p0, stamp: 4, records: [Self.entry("cp")], snapshot: nil, now: .zero) == [
                .send
            ])
        #expect(Self.sendAll(&machine) == [1])
        #expect(
            machine.drained([(1, .failed(reason: "timed out", isFatal: false))], now: .milliseconds(200)) == [
                .abandonDrain(.changelogDeliveryFailed(topic: Self.changelogTopic, partition: 0, reason: "timed out")),
                .recordLatencies([.milliseconds(200)]), .retireShard(Self.p0),
            ])
        #expect(machine.assignedPartitions == [Self.p1])
        // The loop goes on, not ready until a delivery succeeds again.
        #expect(machine.readiness == .notReady("output delivery failing: timed out"))
    }

    @Test func aPartitionRevokedWhileRestoringIsDroppedWithoutAFlush() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = machine.assigned([Self.p1])
        _ = machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil)
        #expect(machine.revoked([Self.p1], lost: false, now: .zero) == [.retireShard(Self.p1)])
        #expect(machine.readiness == .ready)
        // Its late restore report changes nothing.
        #expect(machine.restoreProgressed(Self.p1, records: 9, finished: true, now: .zero) == [])
        #expect(machine.restoreFailed(Self.p1, reason: "closed") == [])
    }

    @Test func aDueSnapshotIsCapturedWithAFlushAndWrittenOnceItsCheckpointIsAcknowledged() {
        var machine = Self.changelogMachine(snapshotInterval: .seconds(60))
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        #expect(
            machine.batchEnded(now: .seconds(60), producerQueued: 0).first
                == .captureChangelog(Self.p0, stamp: 1, withSnapshot: true))
        let records = [Self.entry("begin"), Self.entry("cp")]
        #expect(
            machine.changelogCaptured(Self.p0, stamp: 1, records: records, snapshot: [7, 7], now: .seconds(60)) == [
                .send
            ])
        #expect(Self.sendAll(&machine) == [1])
        #expect(machine.delivered([(1, .delivered(offset: 30))], now: .seconds(60)) == [.send])
        #expect(Self.sendAll(&machine) == [2])
        #expect(
            machine.delivered([(2, .delivered(offset: 31))], now: .seconds(60)) == [
                .writeSnapshot(Self.p0, stamp: 1, changelogOffset: 31, state: [7, 7])
            ])
        // The next one is due an interval later.
        _ = Self.processed(&machine, Self.p0, offset: 2, outputs: 0)
        #expect(
            machine.batchEnded(now: .seconds(61), producerQueued: 0).first
                == .captureChangelog(Self.p0, stamp: 2, withSnapshot: false))
    }

    @Test func shutdownFlushesWithSnapshotsDrainsOutputsFirstThenStoresCommitsAndAwaitsTheWrites() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0, Self.p1])
        _ = Self.processed(&machine, Self.p0, offset: 7, outputs: 1, now: .seconds(9))
        let stopAt = Duration.seconds(10)
        // p1 processed nothing: it has nothing to flush.
        #expect(
            machine.nextBatch(now: stopAt, stopRequested: true, postedConfig: nil) == [
                .beginShutdown(outstandingOutputs: 1), .captureChangelog(Self.p0, stamp: 7, withSnapshot: true),
                .flush(timeout: .milliseconds(200)),
            ])
        let records = [Self.entry("begin"), Self.entry("cp")]
        #expect(machine.changelogCaptured(Self.p0, stamp: 7, records: records, snapshot: [1, 2, 3], now: .zero) == [])
        #expect(machine.nextOutput(now: stopAt) == nil)
        // The output is acknowledged: the flush enters the outbox.
        #expect(
            machine.drained([(1, .delivered(offset: 0))], now: stopAt) == [.send, .flush(timeout: .milliseconds(200))])
        #expect(Self.sendAll(&machine) == [2])
        #expect(
            machine.drained([(2, .delivered(offset: 50))], now: .seconds(11)) == [
                .send, .flush(timeout: .milliseconds(200)),
            ])
        #expect(Self.sendAll(&machine) == [3])
        #expect(
            machine.drained([(3, .delivered(offset: 51))], now: .seconds(11)) == [
                .writeSnapshot(Self.p0, stamp: 7, changelogOffset: 51, state: [1, 2, 3]), .send,
                .recordLatencies([.seconds(2)]), .storeOffset(Self.p0, 7), .commit,
            ])
        // The consumer is closed first; the writes get what is left of the shutdown timeout (10 s + 5 s).
        #expect(machine.committed(failure: nil) == [.close])
        #expect(
            machine.revoked([Self.p0, Self.p1], lost: false, now: .seconds(11)) == [
                .retireShard(Self.p0), .retireShard(Self.p1),
            ])
        #expect(
            machine.closed(now: .seconds(12)) == [
                .awaitSnapshotWrites(timeout: .seconds(3)), .publishStatus(Self.shuttingDown), .finish(nil),
            ])
    }

    @Test func withoutSnapshotsShutdownFlushesAndDoesNotWaitForWrites() {
        var machine = Self.changelogMachine(snapshotInterval: nil)
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 3, outputs: 0)
        #expect(
            machine.nextBatch(now: .zero, stopRequested: true, postedConfig: nil) == [
                .beginShutdown(outstandingOutputs: 0), .captureChangelog(Self.p0, stamp: 3, withSnapshot: false),
                .flush(timeout: .milliseconds(200)),
            ])
        #expect(machine.changelogCaptured(Self.p0, stamp: 3, records: [], snapshot: nil, now: .zero) == [])
        #expect(
            machine.drained([], now: .zero) == [
                .send, .recordLatencies([.zero]), .storeOffset(Self.p0, 3), .commit,
            ])
        #expect(machine.committed(failure: nil) == [.close])
    }

    // MARK: Keeping state across a rebalance

    /// Revokes `partitions` (input `offset` of each processed, no outputs) and drains them with their
    /// flushes acknowledged, the checkpoint of partition i at changelog offset `10 * i + 1`.
    private static func revokedCleanly(
        _ machine: inout Machine, _ partitions: [KafkaTopicPartition], offset: Int64
    ) -> [Machine.Action] {
        for partition in partitions { _ = Self.processed(&machine, partition, offset: offset, outputs: 0) }
        _ = machine.revoked(partitions, lost: false, now: .zero)
        var begins: [(Machine.Token, Machine.DeliveryOutcome)] = []
        for (index, partition) in partitions.enumerated() {
            _ = machine.changelogCaptured(
                partition, stamp: offset, records: [Self.entry("begin"), Self.entry("cp")], snapshot: nil, now: .zero)
            begins += Self.sendAll(&machine).map { ($0, .delivered(offset: Int64(10 * index))) }
        }
        // The flush begins acknowledged, the checkpoints follow.
        _ = machine.drained(begins, now: .zero)
        let checkpoints: [(Machine.Token, Machine.DeliveryOutcome)] = Self.sentRecords(&machine).map { token, sent in
            guard case .changelog(let number, _) = sent,
                let index = partitions.firstIndex(where: { $0.partition == number })
            else { return (token, .failed(reason: "not a changelog record", isFatal: true)) }
            return (token, .delivered(offset: Int64(10 * index + 1)))
        }
        return machine.drained(checkpoints, now: .milliseconds(1))
    }

    @Test func aCleanlyRevokedPartitionAssignedBackKeepsItsShardWithoutARestore() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0, Self.p1])
        let drained = Self.revokedCleanly(&machine, [Self.p0, Self.p1], offset: 4)
        #expect(
            drained == [
                .send, .recordLatencies([.milliseconds(1)]), .storeOffset(Self.p0, 4),
                .recordLatencies([.milliseconds(1)]), .storeOffset(Self.p1, 4), .suspendShard(Self.p0),
                .suspendShard(Self.p1),
            ])
        #expect(machine.assignedPartitions.isEmpty)
        // p0 comes back, p1 does not: p1's shard is dropped, p0's checked before anything is restored.
        #expect(
            machine.assigned([Self.p0]) == [
                .openShard(Self.p0), .pause([Self.p0], waitingOutputs: 0), .retireShard(Self.p1),
            ])
        let kept = Machine.Checkpoint(changelogOffset: 1, stamp: 4)
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .checkSuspendedShard(Self.p0, kept), Self.pollWhileRestoring,
            ])
        #expect(machine.inputArrived(Self.p0, offset: 5) == .hold([]))
        #expect(
            machine.suspendedShardChecked(Self.p0, kept: true, now: .zero) == [
                .seek(Self.p0, offset: 5), .resume([Self.p0], pausedFor: nil),
            ])
        #expect(machine.readiness == .ready)
        #expect(machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [Self.poll])
        // Revoked again before any input: the checkpoint it came back with still holds.
        #expect(machine.revoked([Self.p0], lost: false, now: .zero) == [.suspendShard(Self.p0)])
        _ = machine.assigned([Self.p0])
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .checkSuspendedShard(Self.p0, kept), Self.pollWhileRestoring,
            ])
    }

    @Test func aKeptShardWhoseChangelogMovedOnIsRestored() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        #expect(Self.revokedCleanly(&machine, [Self.p0], offset: 7).last == .suspendShard(Self.p0))
        _ = machine.assigned([Self.p0])
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .checkSuspendedShard(Self.p0, Machine.Checkpoint(changelogOffset: 1, stamp: 7)),
                Self.pollWhileRestoring,
            ])
        #expect(machine.suspendedShardChecked(Self.p0, kept: false, now: .zero) == [])
        #expect(machine.readiness == .notReady("restoring 1 partition: 0 records so far"))
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .beginRestore(Self.p0), .restoreStep(Self.p0), Self.pollWhileRestoring,
            ])
        // A late second report changes nothing.
        #expect(machine.suspendedShardChecked(Self.p0, kept: true, now: .zero) == [])
    }

    @Test func aDrainThatTimedOutOrWasAbandonedDropsTheShard() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0, Self.p1])
        // p0's output is never acknowledged: the drain ends at its deadline with p0's flush unwritten.
        _ = Self.processed(&machine, Self.p0, offset: 2, outputs: 1)
        _ = Self.processed(&machine, Self.p1, offset: 3, outputs: 0)
        _ = machine.revoked([Self.p0, Self.p1], lost: false, now: .zero)
        _ = machine.changelogCaptured(Self.p0, stamp: 2, records: [Self.entry("cp")], snapshot: nil, now: .zero)
        _ = machine.changelogCaptured(Self.p1, stamp: 3, records: [Self.entry("cp")], snapshot: nil, now: .zero)
        let tokens = Self.sendAll(&machine)
        #expect(tokens == [2])
        // p1's flush was acknowledged, but a drain that timed out keeps nothing.
        #expect(
            machine.drained([(2, .delivered(offset: 8))], now: .seconds(5)) == [
                .send, .drainTimedOut(outstandingOutputs: 1), .recordLatencies([.seconds(5)]),
                .storeOffset(Self.p1, 3), .retireShard(Self.p0), .retireShard(Self.p1),
            ])
        #expect(
            machine.assigned([Self.p0, Self.p1]) == [
                .openShard(Self.p0), .openShard(Self.p1), .pause([Self.p0, Self.p1], waitingOutputs: 0),
            ])
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .beginRestore(Self.p0), .restoreStep(Self.p0), .beginRestore(Self.p1), .restoreStep(Self.p1),
                Self.pollWhileRestoring,
            ])

        // An abandoned drain drops the shard even of a partition whose flush was acknowledged.
        var abandoning = Self.changelogMachine()
        Self.restored(&abandoning, [Self.p0])
        _ = Self.processed(&abandoning, Self.p0, offset: 2, outputs: 0)
        _ = abandoning.revoked([Self.p0], lost: false, now: .zero)
        _ = abandoning.changelogCaptured(Self.p0, stamp: 2, records: [Self.entry("cp")], snapshot: nil, now: .zero)
        #expect(Self.sendAll(&abandoning) == [1])
        abandoning.sendFailedWhileDraining(reason: "broker gone")
        #expect(
            abandoning.drained([(1, .delivered(offset: 4))], now: .milliseconds(1)).last == .retireShard(Self.p0))
        _ = abandoning.assigned([Self.p0])
        #expect(
            abandoning.nextBatch(now: .zero, stopRequested: false, postedConfig: nil).first == .beginRestore(Self.p0))
    }

    @Test func aLostOrNeverFlushedPartitionIsNotKept() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0, Self.p1])
        _ = Self.revokedCleanly(&machine, [Self.p0], offset: 1)
        _ = machine.assigned([Self.p0])
        _ = machine.suspendedShardChecked(Self.p0, kept: true, now: .zero)
        // Lost: no drain, nothing kept.
        #expect(machine.revoked([Self.p0], lost: true, now: .zero) == [.retireShard(Self.p0)])
        _ = machine.assigned([Self.p0])
        #expect(machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil).first == .beginRestore(Self.p0))
        // p1 processed nothing since its restore: no checkpoint of this ownership says what it reflects.
        #expect(machine.revoked([Self.p1], lost: false, now: .zero) == [.retireShard(Self.p1)])
    }

    // MARK: Review fixes

    /// librdkafka's idempotent producer skips messages that timed out and writes later ones: a
    /// checkpoint is produced only once every earlier changelog record of its partition, of every
    /// flush, is acknowledged; later flushes' records go ahead meanwhile.
    @Test func aCheckpointWaitsForEveryEarlierChangelogRecordOfItsPartition() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        _ = machine.batchEnded(now: .seconds(1), producerQueued: 0)
        let first = [Self.entry("begin 1"), Self.entry("user"), Self.entry("checkpoint 1")]
        #expect(
            machine.changelogCaptured(Self.p0, stamp: 1, records: first, snapshot: nil, now: .seconds(1)) == [.send])
        #expect(Self.sendAll(&machine) == [1, 2])
        _ = Self.processed(&machine, Self.p0, offset: 2, outputs: 0)
        _ = machine.batchEnded(now: .seconds(2), producerQueued: 0)
        let second = [Self.entry("begin 2"), Self.entry("checkpoint 2")]
        #expect(
            machine.changelogCaptured(Self.p0, stamp: 2, records: second, snapshot: nil, now: .seconds(2)) == [.send])
        #expect(Self.sendAll(&machine) == [3])
        #expect(
            machine.delivered([(1, .delivered(offset: 0)), (2, .delivered(offset: 1))], now: .seconds(2)) == [])
        #expect(machine.nextOutput(now: .seconds(2)) == nil)
        // The second flush's begin was the last record out: both checkpoints follow, in order.
        #expect(machine.delivered([(3, .delivered(offset: 2))], now: .seconds(2)) == [.send])
        let checkpoints = Self.sentRecords(&machine)
        #expect(checkpoints.map(\.0) == [4, 5])
        #expect(checkpoints.map(\.1) == [.changelog(partition: 0, first[2]), .changelog(partition: 0, second[1])])
        #expect(machine.delivered([(4, .delivered(offset: 3)), (5, .delivered(offset: 4))], now: .seconds(2)) == [])
        #expect(
            machine.batchEnded(now: .seconds(2), producerQueued: 0) == [
                .storeOffset(Self.p0, 2), .publishStatus(Self.ready),
            ])
    }

    /// A shutdown drain abandoned on a lost changelog record produces no checkpoint after it and
    /// commits no offset the lost flush would have covered.
    @Test func aLostChangelogRecordAtShutdownIsFollowedByNoCheckpointAndNoOffset() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        _ = machine.nextBatch(now: .seconds(1), stopRequested: true, postedConfig: nil)
        let records = [Self.entry("begin"), Self.entry("user"), Self.entry("checkpoint")]
        #expect(
            machine.changelogCaptured(Self.p0, stamp: 1, records: records, snapshot: [1], now: .seconds(1)) == [.send])
        #expect(Self.sendAll(&machine) == [1, 2])
        let lost = Machine.LoopError.changelogDeliveryFailed(
            topic: Self.changelogTopic, partition: 0, reason: "timed out")
        #expect(
            machine.drained(
                [(1, .delivered(offset: 0)), (2, .failed(reason: "timed out", isFatal: false))], now: .seconds(2))
                == [.abandonDrain(lost), .recordLatencies([.seconds(2)]), .commit])
        #expect(machine.nextOutput(now: .seconds(2)) == nil)
    }

    /// A partition lost while its old changelog records are still inside the producer and assigned
    /// straight back restores only once they are reported: they could otherwise land after the
    /// restore read the partition.
    @Test func aRestoreWaitsForTheChangelogRecordsOfAnEarlierOwnership() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        _ = machine.batchEnded(now: .seconds(1), producerQueued: 0)
        let records = [Self.entry("begin"), Self.entry("checkpoint")]
        _ = machine.changelogCaptured(Self.p0, stamp: 1, records: records, snapshot: nil, now: .seconds(1))
        #expect(Self.sendAll(&machine) == [1])
        #expect(machine.revoked([Self.p0], lost: true, now: .seconds(1)) == [.retireShard(Self.p0)])
        _ = machine.assigned([Self.p0])
        #expect(
            machine.nextBatch(now: .seconds(1), stopRequested: false, postedConfig: nil) == [Self.pollWhileRestoring])
        #expect(
            machine.readiness
                == .notReady(
                    "restoring 1 partition: 0 records so far; 1 waiting for the previous owner's changelog writes "
                        + "to be acknowledged or to time out (message.timeout.ms)"))
        // Its report belongs to the old ownership: nothing to do but let the restore begin.
        #expect(machine.delivered([(1, .failed(reason: "timed out", isFatal: false))], now: .seconds(2)) == [])
        #expect(
            machine.nextBatch(now: .seconds(2), stopRequested: false, postedConfig: nil) == [
                .beginRestore(Self.p0), .restoreStep(Self.p0), Self.pollWhileRestoring,
            ])
        // The restore read the changelog as it is: checkpoints are produced again.
        _ = machine.restoreProgressed(Self.p0, records: 1, finished: true, now: .seconds(2))
        _ = Self.processed(&machine, Self.p0, offset: 2, outputs: 0)
        _ = machine.batchEnded(now: .seconds(3), producerQueued: 0)
        #expect(
            machine.changelogCaptured(
                Self.p0, stamp: 2, records: [Self.entry("checkpoint")], snapshot: nil, now: .seconds(3)) == [.send])
        #expect(Self.sendAll(&machine) == [2])
    }

    @Test func atMostTwoPartitionsRestoreAtOnceAndTheOthersWaitPaused() {
        var machine = Self.changelogMachine()
        _ = machine.assigned([Self.p0, Self.p1, Self.p2])
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .beginRestore(Self.p0), .restoreStep(Self.p0), .beginRestore(Self.p1), .restoreStep(Self.p1),
                .refillRestoreSlots, Self.pollWhileRestoring,
            ])
        #expect(
            machine.readiness
                == .notReady(
                    "restoring 3 partitions: 0 records so far; 1 waiting for a restore slot (at most 2 at a time)"))
        // Both steps still have records to read: no slot is free for the refill.
        #expect(machine.restoresToBegin() == [])
        _ = machine.restoreProgressed(Self.p0, records: 4, finished: true, now: .zero)
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .restoreStep(Self.p1), .beginRestore(Self.p2), .restoreStep(Self.p2), Self.pollWhileRestoring,
            ])
    }

    /// Restores of changelog partitions with nothing to read end in their first step: the slots they
    /// free are taken within the same batch, so hundreds of them do not take a batch per slot.
    @Test func slotsFreedWithinABatchAreTakenInThatBatch() {
        var machine = Self.changelogMachine()
        _ = machine.assigned([Self.p0, Self.p1, Self.p2])
        #expect(machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil).last == Self.pollWhileRestoring)
        // The driver performs the steps in order: p0's changelog partition was empty, p1's was not.
        _ = machine.restoreProgressed(Self.p0, records: 0, finished: true, now: .zero)
        _ = machine.restoreProgressed(Self.p1, records: 10, finished: false, now: .zero)
        // Then `.refillRestoreSlots`: p2 takes p0's slot, and once it is done, nothing is left to begin.
        #expect(machine.restoresToBegin() == [.beginRestore(Self.p2), .restoreStep(Self.p2)])
        #expect(
            machine.restoreProgressed(Self.p2, records: 0, finished: true, now: .zero) == [
                .resume([Self.p2], pausedFor: nil)
            ])
        #expect(machine.restoresToBegin() == [])
        #expect(machine.restoringPartitions == [Self.p1])
        #expect(
            machine.nextBatch(now: .zero, stopRequested: false, postedConfig: nil) == [
                .restoreStep(Self.p1), Self.pollWhileRestoring,
            ])
    }

    @Test func anInputPartitionBeyondTheChangelogFailsTheLoopSayingWhatToDo() {
        var machine = Self.changelogMachine()
        let beyond = KafkaTopicPartition(topic: "auth.events", partition: 3)
        let error = Machine.LoopError.partitionBeyondChangelog(
            beyond, changelogTopic: Self.changelogTopic, changelogPartitions: 3)
        #expect(machine.assigned([Self.p0, beyond]) == [.fail(error)])
        #expect(error.description.contains("Add partitions to 'vigil-state-changelog'"))
        #expect(!error.description.contains("fewer partitions to the input"))
        var fetching = Self.changelogMachine()
        #expect(fetching.inputArrived(beyond, offset: 0) == .hold([.fail(error)]))
    }

    /// The decode stage's input partitions keep no state: with the changelog on they are neither paused
    /// nor restored nor flushed, may lie beyond the changelog's partitions, and store an offset as soon as
    /// its outputs are acknowledged; a stage topic's partition beside them restores as always.
    @Test func aStatelessPartitionStoresOnAcknowledgementWithoutRestoreOrFlush() {
        var machine = Self.changelogMachine(statelessTopics: ["auth.events"])
        let input = KafkaTopicPartition(topic: "auth.events", partition: 7)
        let stage = KafkaTopicPartition(topic: "vigil-by-user", partition: 0)
        #expect(
            machine.assigned([input, stage]) == [
                .openShard(input), .openShard(stage), .pause([stage], waitingOutputs: 0),
            ])
        #expect(machine.restoringPartitions == [stage])
        #expect(machine.inputArrived(input, offset: 4) == .process([]))
        #expect(Self.processed(&machine, input, offset: 4, outputs: 1) == [1])
        #expect(machine.delivered([(1, .delivered(offset: 0))], now: .zero) == [])
        // A second later: a flush is due, but only the stage partition would have one (it is restoring).
        let ended = machine.batchEnded(now: .seconds(2), producerQueued: 0)
        #expect(ended.contains(.storeOffset(input, 4)))
        #expect(!ended.contains { if case .captureChangelog = $0 { true } else { false } })
    }

    /// A record between stages is not produced again after a failed delivery: behind the records produced
    /// since, it would reorder its partition.
    @Test func aStageRecordsFailedDeliveryIsFatalWithoutAnotherAttempt() {
        var machine = Self.machine()
        _ = machine.assigned([Self.p0])
        let record = Machine.Output(
            topic: "vigil-by-user", partition: 1, key: nil, binaryKey: [1, 2], payload: [3], headers: [], kind: nil)
        #expect(!record.isRetriable)
        #expect(machine.inputProcessed(Self.p0, offset: 0, outputs: [record], now: .zero) == [.send])
        #expect(Self.sendAll(&machine) == [1])
        let failure = Machine.LoopError.stageRecordDeliveryFailed(topic: "vigil-by-user", reason: "timed out")
        #expect(machine.delivered([(1, .failed(reason: "timed out", isFatal: false))], now: .zero) == [.fail(failure)])
        #expect(failure.description.contains("not produced again"))
    }

    @Test func dueSnapshotsAreStaggeredOnePerFlush() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0, Self.p1])
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        _ = Self.processed(&machine, Self.p1, offset: 1, outputs: 0)
        #expect(
            Array(machine.batchEnded(now: .seconds(60), producerQueued: 0).prefix(2)) == [
                .captureChangelog(Self.p0, stamp: 1, withSnapshot: true),
                .captureChangelog(Self.p1, stamp: 1, withSnapshot: false),
            ])
        _ = machine.changelogCaptured(Self.p0, stamp: 1, records: [Self.entry("cp")], snapshot: [1], now: .seconds(60))
        _ = machine.changelogCaptured(Self.p1, stamp: 1, records: [Self.entry("cp")], snapshot: nil, now: .seconds(60))
        _ = Self.sendAll(&machine)
        // p1's snapshot comes at the next flush, with no new input.
        #expect(
            machine.batchEnded(now: .seconds(61), producerQueued: 0).first
                == .captureChangelog(Self.p1, stamp: 1, withSnapshot: true))
    }

    /// A snapshot the driver declined (the replay guard is up) is asked for again at the next flush.
    @Test func aDeclinedSnapshotIsAskedForAgain() {
        var machine = Self.changelogMachine()
        Self.restored(&machine, [Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 1, outputs: 0)
        #expect(
            machine.batchEnded(now: .seconds(60), producerQueued: 0).first
                == .captureChangelog(Self.p0, stamp: 1, withSnapshot: true))
        _ = machine.changelogCaptured(Self.p0, stamp: 1, records: [Self.entry("cp")], snapshot: nil, now: .seconds(60))
        _ = Self.processed(&machine, Self.p0, offset: 2, outputs: 0)
        #expect(
            machine.batchEnded(now: .seconds(61), producerQueued: 0).first
                == .captureChangelog(Self.p0, stamp: 2, withSnapshot: true))
    }

    /// A partition that restored one checkpoint exactly and gets no input still takes its first
    /// snapshot (of the restored state), and can be kept across a rebalance with that checkpoint.
    @Test func aRestoredPartitionWithoutInputTakesItsFirstSnapshot() {
        var machine = Self.changelogMachine()
        _ = machine.assigned([Self.p0])
        let restored = Machine.Checkpoint(changelogOffset: 9, stamp: 4)
        #expect(
            machine.restoreProgressed(Self.p0, records: 10, finished: true, now: .zero, restored: restored) == [
                .resume([Self.p0], pausedFor: nil)
            ])
        #expect(
            machine.batchEnded(now: .seconds(60), producerQueued: 0) == [
                .snapshotRestoredState(Self.p0, restored), .publishStatus(Self.ready),
            ])
        // Declined (input changed the state meanwhile): asked again with the next flush.
        machine.restoredStateSnapshotted(Self.p0, stamp: 4, taken: false, now: .seconds(60))
        #expect(
            machine.batchEnded(now: .seconds(61), producerQueued: 0) == [
                .snapshotRestoredState(Self.p0, restored), .publishStatus(Self.ready),
            ])
        machine.restoredStateSnapshotted(Self.p0, stamp: 4, taken: true, now: .seconds(61))
        #expect(machine.batchEnded(now: .seconds(200), producerQueued: 0) == [.publishStatus(Self.ready)])
        #expect(machine.revoked([Self.p0], lost: false, now: .seconds(200)) == [.suspendShard(Self.p0)])
    }
}
