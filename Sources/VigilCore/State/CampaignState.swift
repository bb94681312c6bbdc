import _VigilMachinery

/// Cross-source evidence about one autonomous system or one tenant, per shard: this slot's counts and the
/// previous slot's, what each slot of the day usually holds, and the campaigns detected. Changed only by
/// the entity's own events, so it is the same at every partition count.
///
/// Why the previous slot stays open: the campaign stage reads its records from every input partition,
/// interleaved as they arrive, so an event of 12:59 can come after one of 13:00 when its partition is a
/// little behind. Counted in the 13:00 slot, it would move a campaign from one slot to the next (and its
/// alert's uid with it) depending on that interleaving. A slot is therefore folded into the baseline only
/// when the next but one begins; an event older than the previous slot still counts in the current one.
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
    /// This slot's counts.
    var current = SlotTally()
    /// The previous slot (`slot - 1`), still counting events that arrive late, until it is folded; nil
    /// for an entity first seen in this slot.
    var previous: SlotTally?
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

    /// One of the two slots an event can count in.
    enum OpenSlot: Sendable {
        /// `slot`.
        case current
        /// `slot - 1`: the event arrived after the entity's first event of `slot`.
        case previous
    }

    /// A slot's counts: per `CampaignMetric`, and the distinct failing users.
    struct SlotTally: Sendable, Equatable {
        var counts = InlineCounts()
        /// Empty (one pointer) until the first failure, 1 KiB after.
        var users = DistinctSketch()

        func count(_ metric: CampaignMetric) -> Double {
            switch metric {
            case .failures: Double(counts.failures)
            case .unknownUserFailures: Double(counts.unknownUserFailures)
            case .distinctUsers: Double(users.estimate)
            case .resets: Double(counts.resets)
            }
        }

        /// Counts a failed login (an unknown username's when `unknownUser`) of `user`.
        mutating func countFailure(unknownUser: Bool, user: UInt64) {
            counts.failures &+= 1
            if unknownUser { counts.unknownUserFailures &+= 1 }
            users.insert(user)
        }

        /// Counts a password reset request.
        mutating func countReset() { counts.resets &+= 1 }
    }

    /// The open slot that counts an event of slot `eventSlot`: the previous one when the event belongs to
    /// it and it is still open, else the current one (an event older than both counts there).
    func openSlot(for eventSlot: Int64) -> OpenSlot {
        eventSlot == slot - 1 && previous != nil ? .previous : .current
    }

    /// The number of `open`.
    func number(of open: OpenSlot) -> Int64 { open == .current ? slot : slot - 1 }

    /// Where `open` starts. Within the storable times: a restored entry's slot is checked against its
    /// length, and a live one is the slot of an event's time.
    func start(of open: OpenSlot) -> Timestamp { Timestamp(microseconds: number(of: open) * slotLength) }

    /// The counts of `open`; nil for a previous slot not open.
    func tally(_ open: OpenSlot) -> SlotTally? { open == .current ? current : previous }

    /// Changes the counts of `open` (nothing for a previous slot not open).
    mutating func count(in open: OpenSlot, _ change: (inout SlotTally) -> Void) {
        switch open {
        case .current: change(&current)
        case .previous: if previous != nil { change(&previous!) }
        }
    }

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

    /// The value of `metric` counted in `open` so far.
    func count(_ metric: CampaignMetric, in open: OpenSlot = .current) -> Double {
        tally(open)?.count(metric) ?? 0
    }

    /// Moves to `target` (a slot of `settings.slot`): the current slot becomes the previous one, and the
    /// slots before it, with the empty ones between, are folded into the baseline. An event of an earlier
    /// slot moves nothing (`openSlot(for:)` says where it counts): the baseline never goes back. Under
    /// another slot length than the entity's (a reload, or a restore under other settings) the counts and
    /// the baseline start over at `target`: neither means anything in slots of another length. The
    /// campaigns detected stay.
    mutating func advance(to target: Int64, settings: CampaignSettings) {
        guard slotLength == settings.slot.microseconds else {
            (slot, slotLength) = (target, settings.slot.microseconds)
            (current, previous, baseline, foldedSlots) = (SlotTally(), nil, [], 0)
            return
        }
        guard target > slot else { return }
        let perDay = settings.slotsPerDay
        if let open = previous {
            previous = nil
            fold(open, slot: slot - 1, perDay: perDay, settings: settings)
        }
        if target == slot + 1 {
            previous = current
        } else {
            fold(current, slot: slot, perDay: perDay, settings: settings)
            // After this many empty slots every mean has decayed to nothing; more would only cost time.
            // The last one before `target` stays open as the previous slot.
            let emptySlots = min(target - slot - 2, Int64(perDay * (settings.baselineDays * 3 + 1)))
            var empty = Int64(0)
            while empty < emptySlots {
                fold(SlotTally(), slot: target - 1 - emptySlots + empty, perDay: perDay, settings: settings)
                empty += 1
            }
            previous = SlotTally()
        }
        slot = target
        current = SlotTally()
    }

    /// Folds `tally`, the counts of `slot`, into the baseline.
    private mutating func fold(_ tally: SlotTally, slot: Int64, perDay: Int, settings: CampaignSettings) {
        if baseline.count != perDay * CampaignMetric.allCases.count * 2 {
            // The first fold: nothing learned yet.
            baseline = [Float](repeating: 0, count: perDay * CampaignMetric.allCases.count * 2)
            foldedSlots = 0
        }
        let slotOfDay = Self.slotOfDay(slot, perDay: perDay)
        let firstDay = foldedSlots < UInt32(perDay)
        let weight = Float(2) / Float(settings.baselineDays + 1)
        for metric in CampaignMetric.allCases {
            let index = (slotOfDay * CampaignMetric.allCases.count + metric.index) * 2
            // A slot that crossed its threshold is folded in as expected: a campaign must not teach the
            // baseline that this hour holds campaigns (folded at its threshold instead, a daily campaign
            // would raise the next day's by half each day, and be missed from the sixth on).
            let counted = tally.count(metric)
            let value: Float
            if counted >= threshold(metric, settings: settings, slot: slot) {
                value = Float(expectation(metric, settings: settings, slot: slot).expected)
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

    /// Which slot of the day `slot` is.
    private static func slotOfDay(_ slot: Int64, perDay: Int) -> Int {
        Int(((slot % Int64(perDay)) + Int64(perDay)) % Int64(perDay))
    }

    /// The slots of history before `slot` (the current one by default): those folded, and for the current
    /// slot the open previous one too. It is of another slot of the day, so the current slot's baseline
    /// does not wait for its fold.
    func slotsBehind(_ slot: Int64? = nil) -> UInt32 {
        foldedSlots &+ ((slot ?? self.slot) == self.slot && previous != nil ? 1 : 0)
    }

    /// What the baseline expects `metric` to count in `slot` (the current one by default) and the slot's
    /// mean deviation; the floor and no deviation while fewer than `min_baseline_days` of slots are behind
    /// it.
    func expectation(
        _ metric: CampaignMetric, settings: CampaignSettings, slot: Int64? = nil
    ) -> (expected: Double, deviation: Double) {
        let perDay = settings.slotsPerDay
        guard slotsBehind(slot) >= UInt32(perDay * settings.minBaselineDays),
            baseline.count == perDay * CampaignMetric.allCases.count * 2
        else { return (Double(metric.floor(settings)), 0) }
        let index =
            (Self.slotOfDay(slot ?? self.slot, perDay: perDay) * CampaignMetric.allCases.count + metric.index) * 2
        return (Double(baseline[index]), Double(baseline[index + 1]))
    }

    /// The count `metric` must reach in `slot` (the current one by default): its floor, `ratio` times the
    /// expectation, and `deviations` mean deviations above it, whichever is highest.
    func threshold(_ metric: CampaignMetric, settings: CampaignSettings, slot: Int64? = nil) -> Double {
        let (expected, deviation) = expectation(metric, settings: settings, slot: slot)
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
