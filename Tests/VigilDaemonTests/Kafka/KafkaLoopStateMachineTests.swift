import Testing
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
        Machine.Output(topic: "auth.decisions", key: name, payload: Array(name.utf8), headers: [])
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
        #expect(machine.inputArrived(Self.p0) == [])
        #expect(Self.processed(&machine, Self.p0, offset: 10, outputs: 2) == [1, 2])
        #expect(Self.processed(&machine, Self.p0, offset: 11, outputs: 1) == [3])
        #expect(Self.processed(&machine, Self.p0, offset: 12, outputs: 0) == [])
        #expect(machine.polled(messageCount: 3) == [.pollDeliveries(timeout: .zero), .endBatch])

        // Input 11's output arrives first: 10 still waits for one of its two, so nothing is stored.
        #expect(machine.delivered([(3, .delivered), (2, .delivered)], now: .milliseconds(1)) == [])
        #expect(machine.batchEnded(now: .milliseconds(2), producerQueued: 1) == [.publishStatus(Self.ready)])

        #expect(machine.delivered([(1, .delivered)], now: .milliseconds(4)) == [])
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
            machine.drained([(1, .delivered)], now: revokedAt + .milliseconds(100)) == [
                .send, .flush(timeout: .milliseconds(200)),
            ])
        #expect(
            machine.drained([(2, .delivered)], now: revokedAt + .milliseconds(300)) == [
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
        #expect(machine.delivered([(1, .delivered)], now: .seconds(6)) == [])
        #expect(machine.batchEnded(now: .seconds(6), producerQueued: 0) == [.publishStatus(Self.ready)])
        #expect(machine.delivered([(2, .delivered)], now: .seconds(6)) == [])
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
        #expect(machine.delivered([(1, .delivered)], now: .seconds(2)) == [])
        #expect(Self.sendAll(&machine, now: .seconds(2)) == [2, 3])
        // Everything is enqueued, but the queue is above half: still paused.
        #expect(machine.batchEnded(now: .seconds(2), producerQueued: 51) == [.publishStatus(paused)])
        #expect(machine.delivered([(2, .delivered), (3, .delivered)], now: .seconds(3)) == [])
        #expect(
            machine.batchEnded(now: .seconds(3), producerQueued: 50) == [
                .resume(pausedFor: .seconds(2)), .recordLatencies([.seconds(3), .seconds(3)]), .storeOffset(Self.p0, 1),
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
        #expect(machine.delivered([(7, .delivered)], now: .seconds(61)) == [])
        #expect(machine.batchEnded(now: .seconds(121), producerQueued: 100) == [.publishStatus(paused)])
        #expect(
            machine.batchEnded(now: .seconds(122), producerQueued: 100) == [
                .fail(.producerStalled(.seconds(61), waiting: 1))
            ])
    }

    @Test func brokersDownMakeNotReadyUntilTrafficFlowsAgain() {
        var machine = Self.machine()
        let joining = Machine.Status(
            readiness: .notReady("joining consumer group"), backpressureActive: false, backpressureEpisodes: 0)
        #expect(machine.batchEnded(now: .zero, producerQueued: 0) == [.publishStatus(joining)])
        // A member may own no partition: having joined is enough.
        #expect(machine.assigned([]) == [])
        #expect(machine.batchEnded(now: .zero, producerQueued: 0) == [.publishStatus(Self.ready)])

        machine.brokersDown(reason: "3/3 brokers are down")
        let down = Machine.Status(
            readiness: .notReady("all Kafka brokers are down: 3/3 brokers are down"), backpressureActive: false,
            backpressureEpisodes: 0)
        #expect(machine.polled(messageCount: 0) == [.pollDeliveries(timeout: .zero), .endBatch])
        #expect(machine.batchEnded(now: .zero, producerQueued: 0) == [.publishStatus(down)])
        #expect(machine.polled(messageCount: 4) == [.pollDeliveries(timeout: .zero), .endBatch])
        #expect(machine.batchEnded(now: .zero, producerQueued: 0) == [.publishStatus(Self.ready)])

        // A delivery brings readiness back too.
        _ = machine.assigned([Self.p0])
        _ = Self.processed(&machine, Self.p0, offset: 0, outputs: 1)
        machine.brokersDown(reason: "again")
        #expect(machine.readiness == .notReady("all Kafka brokers are down: again"))
        #expect(machine.delivered([(1, .delivered)], now: .zero) == [])
        #expect(machine.readiness == .ready)
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
            machine.drained([(1, .delivered)], now: .seconds(11)) == [
                .send, .recordLatencies([.seconds(2)]), .storeOffset(Self.p0, 7), .commit,
            ])
        // No batch while shutting down.
        #expect(machine.nextBatch(now: .seconds(11), stopRequested: true, postedConfig: nil) == [])
        #expect(machine.committed(failure: nil) == [.close])
        // Closing revokes everything: no second drain.
        #expect(machine.revoked([Self.p0], lost: false, now: .seconds(11)) == [.retireShard(Self.p0)])
        #expect(
            machine.closed() == [
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
        #expect(machine.drained([], now: .milliseconds(4950)) == [.send, .flush(timeout: .milliseconds(50))])
        // Offset 1 is done but waits behind 0: nothing is stored, and the commit goes ahead.
        #expect(machine.drained([], now: .seconds(5)) == [.send, .drainTimedOut(outstandingOutputs: 1), .commit])
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
                    (2, .delivered),
                ], now: .zero) == [
                    .retryDelivery(topic: "auth.decisions", attempt: 1, reason: "timed out"),
                    .abandonDrain(.deliveryFailed(topic: "auth.decisions", attempts: 1, reason: "fenced")),
                    .retireShard(Self.p0), .send,
                ])
        #expect(!machine.isDraining)
        #expect(Self.sendAll(&machine) == [3])
        #expect(machine.delivered([(3, .delivered)], now: .milliseconds(2)) == [])
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
            machine.drained([(2, .failed(reason: "fenced", isFatal: true)), (1, .delivered)], now: .zero) == [
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
        #expect(machine.committed(failure: "coordinator unavailable") == [.close])
        #expect(
            machine.closed() == [
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
}
