/// `KafkaConsumer`'s rule for revocation commits a rebalancing group rejected (see the consumer's
/// notes), as a value that takes the time from its caller, so it is tested without a broker
/// (`RevocationCommitRetryTests`). The consumer makes the commits; this decides which, and when to
/// give up.
struct RevocationCommitRetry {
    /// The rejection codes of a coordinator in the middle of a rebalance.
    static let rebalanceRejections: Set<KafkaErrorCode> = [.rebalanceInProgress, .illegalGeneration, .unknownMemberId]
    /// How long after a revocation its rejected commit may still be retried. Past that, the partition's
    /// new owner may have committed further, and an older offset would rewind it.
    static let timeLimit = Duration.seconds(30)
    /// Assignments at which a retry may be rejected again before it is given up: a rebalance can
    /// follow at once (a rejected commit itself makes librdkafka rejoin the group).
    static let attemptLimit = 5

    /// What to do at an assignment.
    enum Retry: Equatable {
        /// Nothing is waiting.
        case none
        /// Commit these offsets (next offset to consume) and report the outcome with `retried`.
        case commit([KafkaTopicPartition: Int64])
        /// The waiting offsets are older than `timeLimit`: given up, left to redelivery.
        case expired
    }

    /// The outcome of a retry.
    enum Outcome: Equatable {
        case committed(partitions: Int)
        /// Rejected again by a rebalancing group: kept for the next assignment.
        case keptForNextAssignment
        /// Failed otherwise, or too often: given up, left to redelivery (at least once still holds).
        case gaveUp(KafkaErrorCode)
    }

    private(set) var waiting: [KafkaTopicPartition: Int64] = [:]
    private var attempts = 0
    /// When the oldest waiting commit was rejected.
    private var since: ContinuousClock.Instant?

    /// A revocation commit of `offsets` failed with `code`. With the eager protocol a rebalance
    /// rejection keeps them for the next assignment (true). With the cooperative protocol the
    /// partitions may belong to another member long before this one is assigned anything again, so
    /// nothing is kept.
    mutating func revocationCommitFailed(
        _ offsets: [(KafkaTopicPartition, Int64)], code: KafkaErrorCode, cooperative: Bool, now: ContinuousClock.Instant
    ) -> Bool {
        guard Self.rebalanceRejections.contains(code), !cooperative else { return false }
        for (partition, offset) in offsets { waiting[partition] = offset }
        if since == nil { since = now }
        return true
    }

    /// At an assignment (the new generation): the commit to retry, leaving out partitions this
    /// member has stored a newer offset for since (`storedSince`: the normal commit covers them).
    mutating func retry(storedSince: Set<KafkaTopicPartition>, now: ContinuousClock.Instant) -> Retry {
        guard !waiting.isEmpty else { return .none }
        waiting = waiting.filter { !storedSince.contains($0.key) }
        if let since, now - since > Self.timeLimit {
            reset()
            return .expired
        }
        guard !waiting.isEmpty else {
            reset()
            return .none
        }
        return .commit(waiting)
    }

    /// The retried commit's outcome (`code` nil: committed).
    mutating func retried(code: KafkaErrorCode?) -> Outcome {
        attempts += 1
        let outcome: Outcome
        if let code {
            if Self.rebalanceRejections.contains(code), attempts < Self.attemptLimit { return .keptForNextAssignment }
            outcome = .gaveUp(code)
        } else {
            outcome = .committed(partitions: waiting.count)
        }
        reset()
        return outcome
    }

    private mutating func reset() {
        waiting.removeAll()
        attempts = 0
        since = nil
    }
}
