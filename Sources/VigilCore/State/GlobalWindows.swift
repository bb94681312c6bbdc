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

    /// The ring slot (0..<`bucketCount`) an event at `time` counts in: the unit of a changelog record.
    func slot(at time: Timestamp) -> Int { Self.slot(bucketNumber(time)) }

    /// The bucket a slot holds, whatever its age: state records keep every slot as it is, so a
    /// restored ring equals the one written.
    func bucket(atSlot slot: Int) -> Bucket? { buckets[slot] }

    /// The slots that hold a bucket, in slot order.
    var occupiedSlots: [Int] { buckets.indices.filter { buckets[$0] != nil } }

    /// The newest bucket number counted so far (nil before the first count).
    var newestBucket: Int64? { newest }

    /// Puts back a slot as a state record held it (nil: empty).
    mutating func restore(_ bucket: Bucket?, atSlot slot: Int) { buckets[slot] = bucket }

    /// Puts back the window length and newest bucket number as a state record held them, keeping
    /// the slots: they are records of their own.
    mutating func restore(window: EventDuration, newest: Int64?) {
        self.window = window
        self.newest = newest
    }

    /// The slot a bucket number belongs in.
    static func slot(ofBucket number: Int64) -> Int { slot(number) }

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
    /// Failed logins in the window.
    public var failures = 0
    /// Estimated (about 3% standard error).
    public var failingUsers = 0
    /// Password-reset requests in the window.
    public var resetRequests = 0

    /// All figures zero.
    public init() {}

    /// Adds another shard's figures (shards hold disjoint users).
    public mutating func add(_ other: GlobalFigures) {
        failures += other.failures
        failingUsers += other.failingUsers
        resetRequests += other.resetRequests
    }
}
