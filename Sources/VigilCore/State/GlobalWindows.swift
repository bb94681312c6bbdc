import _VigilMachinery

/// Event-time totals over every user of a shard for the last `engine.global_window`: failed logins,
/// distinct users failing, and password-reset requests. A wave spread thinly over many addresses and
/// domains stays under every per-source threshold but shows here, so operators chart and alert on it.
///
/// The window is a ring of `bucketCount` buckets, each `window / bucketCount` wide, so memory is fixed
/// whatever the traffic: a figure covers between `window − width` and `window` of event time. Events
/// inside the allowed lateness land in their own bucket; ones older than the ring could not change a
/// current figure and are left out. A reload that changes the window restarts the ring.
struct GlobalWindows: Sendable, Equatable {
    static let bucketCount = 60

    struct Bucket: Sendable, Equatable {
        var number: Int64
        var failures = 0
        var resetRequests = 0
        var failingUsers = DistinctSketch()
    }

    private(set) var window: EventDuration
    private var buckets: [Bucket?]
    private var newest: Int64?

    init(window: EventDuration) {
        self.window = window
        buckets = Array(repeating: nil, count: Self.bucketCount)
    }

    private var width: Int64 { max(1, window.microseconds / Int64(Self.bucketCount)) }

    private func bucketNumber(_ time: Timestamp) -> Int64 {
        let (quotient, remainder) = time.microseconds.quotientAndRemainder(dividingBy: width)
        return remainder < 0 ? quotient - 1 : quotient
    }

    private static func slot(_ number: Int64) -> Int {
        let slot = Int(number % Int64(bucketCount))
        return slot < 0 ? slot + bucketCount : slot
    }

    /// The buckets of the current ring, oldest first, and the newest bucket number: what a snapshot
    /// keeps. Older buckets still in a slot are left out: no figure reads them again, and the next
    /// event in their slot replaces them either way.
    var heldBuckets: [Bucket] {
        guard let newest else { return [] }
        return buckets.compactMap { $0 }.filter { $0.number > newest - Int64(Self.bucketCount) }.sorted {
            $0.number < $1.number
        }
    }
    var newestBucket: Int64? { newest }

    /// Windows as a snapshot held them; `buckets` must be distinct numbers within one ring of `newest`.
    init(window: EventDuration, newest: Int64?, buckets: [Bucket]) {
        self.init(window: window)
        self.newest = newest
        for bucket in buckets { self.buckets[Self.slot(bucket.number)] = bucket }
    }

    /// Adopts a new window length; the figures restart from empty when it changed.
    mutating func adopt(window newWindow: EventDuration) {
        guard newWindow != window else { return }
        self = GlobalWindows(window: newWindow)
    }

    mutating func recordFailure(at time: Timestamp, userKey: UInt64) {
        update(time) {
            $0.failures += 1
            $0.failingUsers.insert(userKey)
        }
    }

    mutating func recordResetRequest(at time: Timestamp) {
        update(time) { $0.resetRequests += 1 }
    }

    private mutating func update(_ time: Timestamp, _ change: (inout Bucket) -> Void) {
        let number = bucketNumber(time)
        if let newest, number <= newest - Int64(Self.bucketCount) { return }
        if newest == nil || number > newest! { newest = number }
        let slot = Self.slot(number)
        if buckets[slot]?.number != number { buckets[slot] = Bucket(number: number) }
        change(&buckets[slot]!)
    }

    /// Totals over the window ending at `time` (the shard's newest event time).
    func figures(at time: Timestamp) -> GlobalFigures {
        let end = bucketNumber(time)
        var figures = GlobalFigures()
        var users = DistinctSketch()
        for case let bucket? in buckets where bucket.number <= end && bucket.number > end - Int64(Self.bucketCount) {
            figures.failures += bucket.failures
            figures.resetRequests += bucket.resetRequests
            users.formUnion(bucket.failingUsers)
        }
        figures.failingUsers = users.estimate
        return figures
    }
}

/// What the global windows show, for metrics and summaries. Shards hold disjoint users (input is keyed
/// by user), so the figures of several shards add up.
public struct GlobalFigures: Sendable, Equatable {
    public var failures = 0
    /// Estimated (about 3% standard error).
    public var failingUsers = 0
    public var resetRequests = 0

    public init() {}

    public mutating func add(_ other: GlobalFigures) {
        failures += other.failures
        failingUsers += other.failingUsers
        resetRequests += other.resetRequests
    }
}
