/// A risk level a verdict raised for a user, held until `until` (`ssf.risk_level_change.hold`).
struct RaisedRisk: Sendable, Equatable {
    var level: RiskLevel
    var until: Timestamp
}

/// Suppresses repeats: one alert per subject, kind and window.
struct AlertHold: Sendable, Equatable {
    var kind: AlertKind
    var until: Timestamp
}

/// Everything remembered about one user, in one fixed-size record (224 bytes) that the shard keeps
/// in a dense array: the baseline (counts, the last login as a `CompactAnchor`, the seen devices,
/// countries and networks, inline for an ordinary user, and the login model's profile), and behind one optional reference the rarely used
/// rest — failure, push and reset windows, alert holds, push-bombing and reset times. That reference is
/// `nil` for the ordinary user, allocated on first use and dropped by the sweep once all in it has expired.
struct UserState: Sendable {
    // Declared in this order so the fields pack into 224 bytes.
    var anchor: CompactAnchor?
    var lastSeen: Timestamp
    var rare: RareUserState?
    var seen = SeenSets()
    var successfulLogins: UInt32 = 0
    /// The login model's view of the user's habits (hours, address blocks, cities, browser and system
    /// families), learned with the seen sets.
    var profile = LoginProfile()

    init(lastSeen: Timestamp) { self.lastSeen = lastSeen }

    /// The last successful login; decode it with `ShardState.lastLogin(of:)`.
    var lastLogin: CompactAnchor? {
        get { anchor }
        set { anchor = newValue }
    }

    /// True while the rarely used part is allocated.
    var hasRareState: Bool { rare != nil }

    var lastResetCompleted: Timestamp? {
        get { self[rare: \.lastResetCompleted, or: nil] }
        set { self[rare: \.lastResetCompleted, or: nil] = newValue }
    }

    /// While set and in the future, no push factor is offered (active push-bombing alert).
    var pushBombingUntil: Timestamp? {
        get { self[rare: \.pushBombingUntil, or: nil] }
        set { self[rare: \.pushBombingUntil, or: nil] = newValue }
    }

    // The windows and holds forward to the rarely used part; `_modify` lets callers update them in place.
    var failures: EventWindow {
        get { self[rare: \.failures, or: EventWindow()] }
        _modify { yield &self[rare: \.failures, or: EventWindow()] }
    }
    var pushesSent: EventWindow {
        get { self[rare: \.pushesSent, or: EventWindow()] }
        _modify { yield &self[rare: \.pushesSent, or: EventWindow()] }
    }
    /// Push denials and timeouts.
    var pushFailures: EventWindow {
        get { self[rare: \.pushFailures, or: EventWindow()] }
        _modify { yield &self[rare: \.pushFailures, or: EventWindow()] }
    }
    var resetRequests: EventWindow {
        get { self[rare: \.resetRequests, or: EventWindow()] }
        _modify { yield &self[rare: \.resetRequests, or: EventWindow()] }
    }
    var holds: [AlertHold] {
        get { self[rare: \.holds, or: []] }
        _modify { yield &self[rare: \.holds, or: []] }
    }
    /// The level last signalled to the Shared Signals receivers (`low` until one is).
    var signalledRisk: RiskLevel {
        get { self[rare: \.signalledRisk, or: .low] }
        set { if newValue != signalledRisk { self[rare: \.signalledRisk, or: .low] = newValue } }
    }
    /// The highest level raised by a verdict, and until when it holds (`ssf.risk_level_change.hold`).
    var raisedRisk: RaisedRisk? {
        get { self[rare: \.raisedRisk, or: nil] }
        set { if newValue != raisedRisk { self[rare: \.raisedRisk, or: nil] = newValue } }
    }

    /// Successful logins of a step-up waiting for the MFA success that verifies them (`engine.verification`).
    var pendingLogins: [PendingLogin] {
        get { self[rare: \.pendingLogins, or: []] }
        _modify { yield &self[rare: \.pendingLogins, or: []] }
    }
    /// Recent MFA successes with link ids, for logins of their sign-in that arrive after them.
    var verifiedLinks: [VerifiedLink] {
        get { self[rare: \.verifiedLinks, or: []] }
        _modify { yield &self[rare: \.verifiedLinks, or: []] }
    }

    /// A field of the rarely used part: read without allocating it (`empty` while it is absent),
    /// written through an allocated, unshared one.
    private subscript<Value>(rare field: ReferenceWritableKeyPath<RareUserState, Value>, or empty: Value) -> Value {
        get { rare.map { $0[keyPath: field] } ?? empty }
        _modify { yield &rareForWriting()[keyPath: field] }
    }

    /// Drops the rarely used part when nothing in it is at or after `cutoff`.
    mutating func dropRare(ifAllBefore cutoff: Timestamp) {
        if rare?.isAllBefore(cutoff) == true { rare = nil }
    }

    /// Drops the rarely used part when it holds nothing at all: a verified login's leaves the user as
    /// lean as before it waited.
    mutating func dropRareIfEmpty() { dropRare(ifAllBefore: Timestamp(microseconds: .min)) }

    /// The rarely used part, allocated if needed and unshared (copy on write).
    private mutating func rareForWriting() -> RareUserState {
        if rare == nil {
            rare = RareUserState()
        } else if !isKnownUniquelyReferenced(&rare) {
            rare = rare!.copy()
        }
        return rare!
    }
}

/// The part of a user's state that most users never need. A class so that `UserState` pays one
/// pointer for it; `UserState` copies it before writing whenever it is shared, so it keeps value
/// semantics (hence `@unchecked Sendable`: a shared instance is never mutated).
final class RareUserState: @unchecked Sendable {
    var lastResetCompleted: Timestamp?
    var pushBombingUntil: Timestamp?
    var failures = EventWindow()
    var pushesSent = EventWindow()
    var pushFailures = EventWindow()
    var resetRequests = EventWindow()
    var holds: [AlertHold] = []
    var signalledRisk = RiskLevel.low
    var raisedRisk: RaisedRisk?
    var pendingLogins: [PendingLogin] = []
    var verifiedLinks: [VerifiedLink] = []

    init() {}

    func copy() -> RareUserState {
        let copy = RareUserState()
        copy.lastResetCompleted = lastResetCompleted
        copy.pushBombingUntil = pushBombingUntil
        copy.failures = failures
        copy.pushesSent = pushesSent
        copy.pushFailures = pushFailures
        copy.resetRequests = resetRequests
        copy.holds = holds
        copy.signalledRisk = signalledRisk
        copy.raisedRisk = raisedRisk
        copy.pendingLogins = pendingLogins
        copy.verifiedLinks = verifiedLinks
        return copy
    }

    /// True when every time referred to here (window entries, hold ends, the reset, the push-bombing
    /// end, the raised risk's end, logins waiting for verification, remembered MFA successes) is before
    /// `cutoff` and no raised level is still signalled: the
    /// receivers believe the user risky until a verdict of the user signals the calmer level, so that
    /// belief is kept as long as the user is.
    func isAllBefore(_ cutoff: Timestamp) -> Bool {
        func before(_ time: Timestamp?) -> Bool { time.map { $0 < cutoff } ?? true }
        return before(lastResetCompleted) && before(pushBombingUntil) && before(failures.latest)
            && before(pushesSent.latest) && before(pushFailures.latest) && before(resetRequests.latest)
            && !holds.contains { $0.until >= cutoff } && signalledRisk == .low && before(raisedRisk?.until)
            && !pendingLogins.contains { $0.time >= cutoff } && !verifiedLinks.contains { $0.time >= cutoff }
    }
}

/// Cross-user evidence about one source address (IPv6 aggregated to /64), per shard.
struct SourceState: Sendable, Equatable {
    var lastSeen: Timestamp
    var failures = EventWindow()
    var failingUsers = DistinctWindow()
    var resetAccounts = DistinctWindow()
    var holds: [AlertHold] = []

    init(lastSeen: Timestamp) { self.lastSeen = lastSeen }

    /// True once the failing-users window holds the spraying threshold's count of users: from then on
    /// the source stage publishes a fact on every change (the window never shrinks below it), and a
    /// forgotten source's fact is withdrawn.
    func publishesFacts(_ signals: SignalSettings) -> Bool {
        failingUsers.entries.count >= signals.sprayingDistinctUsers
    }
}

/// Cross-user evidence about one email domain, per shard.
struct DomainState: Sendable, Equatable {
    var lastSeen: Timestamp
    var resetAccounts = DistinctWindow()
    var holds: [AlertHold] = []

    init(lastSeen: Timestamp) { self.lastSeen = lastSeen }
}

extension Array where Element == AlertHold {
    /// True when an alert of `kind` is still held at `time`.
    func holds(_ kind: AlertKind, at time: Timestamp) -> Bool {
        contains { $0.kind == kind && time < $0.until }
    }

    mutating func hold(_ kind: AlertKind, until: Timestamp) {
        removeAll { $0.kind == kind }
        append(AlertHold(kind: kind, until: until))
    }

    mutating func expire(before time: Timestamp) {
        removeAll { $0.until <= time }
    }
}
