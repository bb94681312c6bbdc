import _VigilMachinery

/// Cross-source evidence about one autonomous system or one tenant, per shard: this slot's counts, what
/// each slot of the day usually holds, and the campaigns detected. Changed only by the entity's own
/// events, in the order the decode stage accepted them, so it is the same at every partition count.
///
/// Why a slot baseline and not a sliding window: a tenant's failures at 09:00 on a Monday are many
/// times its failures at 03:00, and an autonomous system of a consumer ISP fails all day long. Only the
/// same slot of previous days says whether this hour is unusual; an exponentially weighted mean and mean
/// absolute deviation per metric and slot of the day keep that in a fixed 8 floats per slot of the day
/// (768 bytes at 1h slots), whatever the traffic.
struct CampaignState: Sendable, Equatable {
    var lastSeen: Timestamp
    /// The slot being counted: event time divided by `slotLength`.
    var slot: Int64
    /// The slot length the counts and the baseline were kept with, in microseconds (`CampaignSettings.slot`
    /// when they were): a slot number means nothing under another length.
    var slotLength: Int64
    /// This slot's counts per `CampaignMetric`.
    var counts = InlineCounts()
    /// The distinct failing users of this slot; empty (one pointer) until the first failure, 1 KiB after.
    var users = DistinctSketch()
    /// Per slot of the day and metric: the mean, then the mean absolute deviation. Empty until the first
    /// slot is folded in.
    var baseline: [Float] = []
    /// Slots folded into the baseline (a day is `slotsPerDay`): the baseline is trusted after
    /// `min_baseline_days` of them.
    var foldedSlots: UInt32 = 0
    /// The credential-stuffing campaign last detected, if any.
    var stuffing: CampaignInterval?
    /// The reset wave last detected, if any.
    var resetWave: CampaignInterval?

    /// An entity with nothing counted, at the slot holding `lastSeen` for slots of `length`.
    init(lastSeen: Timestamp, length: EventDuration) {
        self.lastSeen = lastSeen
        self.slot = Self.slot(of: lastSeen, length: length)
        self.slotLength = length.microseconds
    }

    /// An entity as stored: `slot` of slots of `slotLength` microseconds.
    init(lastSeen: Timestamp, slot: Int64, slotLength: Int64) {
        self.lastSeen = lastSeen
        self.slot = slot
        self.slotLength = slotLength
    }

    /// Where the slot being counted starts. Within the storable times: a restored entry's slot is checked
    /// against its length, and a live one is the slot of an event's time.
    var slotStart: Timestamp { Timestamp(microseconds: slot * slotLength) }

    /// The counts of one slot: `CampaignMetric.allCases` order. A struct of three fields rather than an
    /// array, so the state is one allocation (the baseline) at most.
    struct InlineCounts: Sendable, Equatable {
        var failures: UInt32 = 0
        var unknownUserFailures: UInt32 = 0
        var resets: UInt32 = 0
    }

    /// True once a campaign was detected: the campaigns table may hold a fact for the entity, withdrawn when
    /// it is forgotten.
    var publishesFacts: Bool { stuffing != nil || resetWave != nil }

    /// The fact the campaigns table holds for the entity with key `key`.
    func fact(key: UInt64) -> CampaignFact { CampaignFact(key: key, stuffing: stuffing, resetWave: resetWave) }

    /// The slot holding `time` for slots of `length`.
    static func slot(of time: Timestamp, length: EventDuration) -> Int64 {
        let micros = time.microseconds
        let size = length.microseconds
        return micros >= 0 ? micros / size : (micros - size + 1) / size
    }

    /// The value of `metric` counted in this slot so far.
    func count(_ metric: CampaignMetric) -> Double {
        switch metric {
        case .failures: Double(counts.failures)
        case .unknownUserFailures: Double(counts.unknownUserFailures)
        case .distinctUsers: Double(users.estimate)
        case .resets: Double(counts.resets)
        }
    }

    /// Moves to `target` (a slot of `settings.slot`), folding the slot counted so far and the empty slots
    /// between into the baseline. An event of an earlier slot (late by less than the allowed lateness) is
    /// counted in the current slot: the baseline never goes back. Under another slot length than the
    /// entity's (a reload, or a restore under other settings) the counts and the baseline start over at
    /// `target`: neither means anything in slots of another length. The campaigns detected stay.
    mutating func advance(to target: Int64, settings: CampaignSettings) {
        guard slotLength == settings.slot.microseconds else {
            (slot, slotLength) = (target, settings.slot.microseconds)
            (counts, users, baseline, foldedSlots) = (InlineCounts(), DistinctSketch(), [], 0)
            return
        }
        guard target > slot else { return }
        let perDay = settings.slotsPerDay
        if baseline.count != perDay * CampaignMetric.allCases.count * 2 {
            // The first fold: nothing learned yet.
            baseline = [Float](repeating: 0, count: perDay * CampaignMetric.allCases.count * 2)
            foldedSlots = 0
        }
        fold(slot: slot, perDay: perDay, settings: settings, empty: false)
        // After this many empty slots every mean has decayed to nothing; more would only cost time.
        let emptySlots = min(target - slot - 1, Int64(perDay * (settings.baselineDays * 3 + 1)))
        var empty = Int64(0)
        while empty < emptySlots {
            fold(slot: target - emptySlots + empty, perDay: perDay, settings: settings, empty: true)
            empty += 1
        }
        slot = target
        counts = InlineCounts()
        users = DistinctSketch()
    }

    private mutating func fold(slot: Int64, perDay: Int, settings: CampaignSettings, empty: Bool) {
        let slotOfDay = Int(((slot % Int64(perDay)) + Int64(perDay)) % Int64(perDay))
        let firstDay = foldedSlots < UInt32(perDay)
        let weight = Float(2) / Float(settings.baselineDays + 1)
        for metric in CampaignMetric.allCases {
            let index = (slotOfDay * CampaignMetric.allCases.count + metric.index) * 2
            // A slot that crossed its threshold is folded in as expected: a campaign must not teach the
            // baseline that this hour holds campaigns (folded at its threshold instead, a daily campaign
            // would raise the next day's by half each day, and be missed from the sixth on).
            let counted = count(metric)
            let value: Float
            if empty {
                value = 0
            } else if counted >= threshold(metric, settings: settings) {
                value = Float(expectation(metric, settings: settings).expected)
            } else {
                value = Float(counted)
            }
            if firstDay {
                baseline[index] = value
                baseline[index + 1] = 0
            } else {
                let difference = value - baseline[index]
                baseline[index] += weight * difference
                baseline[index + 1] += weight * (abs(difference) - baseline[index + 1])
            }
        }
        foldedSlots &+= 1
    }

    /// What the baseline expects `metric` to count in this slot and the slot's mean deviation; the floor
    /// and no deviation while the baseline is younger than `min_baseline_days`.
    func expectation(_ metric: CampaignMetric, settings: CampaignSettings) -> (expected: Double, deviation: Double) {
        let perDay = settings.slotsPerDay
        guard foldedSlots >= UInt32(perDay * settings.minBaselineDays),
            baseline.count == perDay * CampaignMetric.allCases.count * 2
        else { return (Double(metric.floor(settings)), 0) }
        let slotOfDay = Int(((slot % Int64(perDay)) + Int64(perDay)) % Int64(perDay))
        let index = (slotOfDay * CampaignMetric.allCases.count + metric.index) * 2
        return (Double(baseline[index]), Double(baseline[index + 1]))
    }

    /// The count `metric` must reach in this slot: its floor, `ratio` times the expectation, and
    /// `deviations` mean deviations above it, whichever is highest.
    func threshold(_ metric: CampaignMetric, settings: CampaignSettings) -> Double {
        let (expected, deviation) = expectation(metric, settings: settings)
        return max(
            Double(metric.floor(settings)), settings.ratio * expected, expected + settings.deviations * deviation)
    }
}

/// What the campaign windows count.
enum CampaignMetric: String, Sendable, CaseIterable {
    /// Failed logins.
    case failures
    /// Failed logins for usernames that do not exist.
    case unknownUserFailures = "unknown_user_failures"
    /// Distinct users whose logins failed.
    case distinctUsers = "distinct_users"
    /// Password reset requests.
    case resets

    var index: Int {
        switch self {
        case .failures: 0
        case .unknownUserFailures: 1
        case .distinctUsers: 2
        case .resets: 3
        }
    }

    func floor(_ settings: CampaignSettings) -> Int {
        switch self {
        case .failures: settings.failuresFloor
        case .unknownUserFailures: settings.unknownUserFloor
        case .distinctUsers: settings.distinctUsersFloor
        case .resets: settings.resetsFloor
        }
    }

    /// The alert a spike of this metric raises.
    var alertKind: AlertKind { self == .resets ? .resetAbuse : .credentialStuffing }
}

/// One detected campaign: active from `start` (the event that crossed the threshold) until `until`.
public struct CampaignInterval: Sendable, Equatable {
    /// The event time the campaign was detected at; with the subject, it makes the alert's uid.
    public var start: Timestamp
    /// The end of the hold; a campaign is active at `t` when `start <= t < until`.
    public var until: Timestamp

    /// An interval as given.
    public init(start: Timestamp, until: Timestamp) {
        self.start = start
        self.until = until
    }

    /// True when `time` lies in the interval.
    public func contains(_ time: Timestamp) -> Bool { time >= start && time < until }
}
