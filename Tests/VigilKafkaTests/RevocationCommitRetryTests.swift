import Testing

@testable import VigilKafka

/// The revocation-commit retry rule without a broker; `ClusterTests` checks the consumer applies it.
struct RevocationCommitRetryTests {
    private static let p0 = KafkaTopicPartition(topic: "auth.events", partition: 0)
    private static let p1 = KafkaTopicPartition(topic: "auth.events", partition: 1)
    private static let start = ContinuousClock.now

    @Test func anEagerRebalanceRejectionIsRetriedAtTheNextAssignment() {
        var retry = RevocationCommitRetry()
        let kept = retry.revocationCommitFailed(
            [(Self.p0, 11), (Self.p1, 21)], code: .rebalanceInProgress, cooperative: false, now: Self.start)
        #expect(kept)
        #expect(retry.retry(storedSince: [], now: Self.start + .seconds(1)) == .commit([Self.p0: 11, Self.p1: 21]))
        #expect(retry.retried(code: nil) == .committed(partitions: 2))
        #expect(retry.retry(storedSince: [], now: Self.start + .seconds(2)) == .none)
    }

    @Test func aRetryRejectedAgainIsKeptUpToItsAttemptLimit() {
        var retry = RevocationCommitRetry()
        _ = retry.revocationCommitFailed([(Self.p0, 11)], code: .illegalGeneration, cooperative: false, now: Self.start)
        for attempt in 1..<RevocationCommitRetry.attemptLimit {
            #expect(retry.retry(storedSince: [], now: Self.start + .seconds(attempt)) == .commit([Self.p0: 11]))
            #expect(retry.retried(code: .rebalanceInProgress) == .keptForNextAssignment)
        }
        #expect(retry.retry(storedSince: [], now: Self.start + .seconds(10)) == .commit([Self.p0: 11]))
        #expect(retry.retried(code: .rebalanceInProgress) == .gaveUp(.rebalanceInProgress))
        #expect(retry.waiting.isEmpty)
    }

    @Test func aRetryIsNeverMadeOverANewerStoredOffsetNorAfterTheTimeLimit() {
        var retry = RevocationCommitRetry()
        _ = retry.revocationCommitFailed(
            [(Self.p0, 11), (Self.p1, 21)], code: .unknownMemberId, cooperative: false, now: Self.start)
        // p0 came back and this member stored a newer offset for it: only p1 is retried.
        #expect(retry.retry(storedSince: [Self.p0], now: Self.start + .seconds(1)) == .commit([Self.p1: 21]))
        #expect(retry.retried(code: .rebalanceInProgress) == .keptForNextAssignment)
        // Past the limit the new owner may have committed further: given up rather than rewind it.
        #expect(
            retry.retry(storedSince: [], now: Self.start + RevocationCommitRetry.timeLimit + .seconds(1)) == .expired)
        #expect(retry.waiting.isEmpty)
        #expect(retry.retry(storedSince: [], now: Self.start + .seconds(40)) == .none)
    }

    @Test func cooperativeProtocolAndOtherErrorsKeepNothing() {
        var retry = RevocationCommitRetry()
        let keptCooperative = retry.revocationCommitFailed(
            [(Self.p0, 11)], code: .rebalanceInProgress, cooperative: true, now: Self.start)
        let keptOther = retry.revocationCommitFailed(
            [(Self.p0, 11)], code: .allBrokersDown, cooperative: false, now: Self.start)
        #expect(!keptCooperative)
        #expect(!keptOther)
        #expect(retry.retry(storedSince: [], now: Self.start) == .none)
    }

    @Test func aRetryFailingOtherwiseIsGivenUpAtOnce() {
        var retry = RevocationCommitRetry()
        _ = retry.revocationCommitFailed(
            [(Self.p0, 11)], code: .rebalanceInProgress, cooperative: false, now: Self.start)
        #expect(retry.retry(storedSince: [], now: Self.start) == .commit([Self.p0: 11]))
        #expect(retry.retried(code: .allBrokersDown) == .gaveUp(.allBrokersDown))
        #expect(retry.retry(storedSince: [], now: Self.start) == .none)
    }
}
