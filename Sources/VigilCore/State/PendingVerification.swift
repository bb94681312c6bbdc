/// Where a sign-in step came from, as keyed hashes (0: unknown): the per-source state key of its address
/// (IPv6 aggregated to /64), its network (AS number) and its device. Steps without ids to link them are
/// tied only when they share one of these: an MFA success from the user's own place does not verify an
/// attacker's login from elsewhere.
struct StepOrigin: Sendable, Equatable {
    var source: UInt64 = 0
    var network: UInt64 = 0
    var device: UInt64 = 0

    init() {}

    init(source: UInt64, network: UInt64, device: UInt64) {
        (self.source, self.network, self.device) = (source, network, device)
    }

    init(_ context: EventContext) {
        source = context.sourceStateKey ?? 0
        network = context.intel.network.map { UInt64($0.number) } ?? 0
        device = context.deviceIDKey ?? 0
    }

    /// True when the two share an address (or /64), a network or a device.
    func matches(_ other: StepOrigin) -> Bool {
        (source != 0 && source == other.source) || (network != 0 && network == other.network)
            || (device != 0 && device == other.device)
    }
}

/// A successful login whose decision asked for a step-up, kept apart from the baseline until an MFA
/// success verifies it (`engine.verification`): what it would teach the baseline once verified, and
/// what it scored, which a sensitive action of its session inherits until then. Never verified, it
/// can no longer be after the window and the baseline never sees it (an attacker's logins with a stolen
/// password stay unknown however many there are); one with ids is kept for `session_hold`, for its
/// session's sensitive actions.
struct PendingLogin: Sendable, Equatable {
    var time: Timestamp
    /// The login's session and correlation ids, hashed.
    var links: LinkKeys
    /// Where it came from, for an MFA success without ids to compare.
    var origin: StepOrigin
    /// The login's score (0...100).
    var score: UInt8
    var device: UInt64?
    /// The device's bare-id entry (learned without a browser) that learning `device`, bound to a browser,
    /// replaces: left in place it would make the id known from every browser.
    var replacedDevice: UInt64?
    var country: UInt64?
    var network: UInt64?
    /// The login as `UserState.lastLogin` would hold it.
    var anchor: CompactAnchor?
    /// What the login model's profile learns from it.
    var features: LoginFeatures
}

/// An MFA success no waiting login matched, remembered for the verification window: identity providers
/// log a sign-in's MFA step before or after its login, and feeds reorder them, so a login of its sign-in
/// that arrives after it is verified at once (by a shared id, or without ids by a shared origin).
struct VerifiedLink: Sendable, Equatable {
    var time: Timestamp
    var links: LinkKeys
    var origin: StepOrigin
}

/// Bounds on the per-user lists: a user has a handful of sign-ins in flight at most.
enum VerificationCapacity {
    static let pendingLogins = 4
    static let verifiedLinks = 4
}

extension Array where Element == PendingLogin {
    /// Adds `login`; beyond the cap a login past the window (kept only for its session's risk) goes
    /// first, so held sessions never stop a fresh login from being verified; among those (or, without
    /// any, among all) the least risky goes, the oldest among equals, so an attacker cannot push their
    /// own risky login out with a few more.
    mutating func add(_ login: PendingLogin, window: EventDuration) {
        append(login)
        guard count > VerificationCapacity.pendingLogins else { return }
        let held = indices.filter { login.time.since(self[$0].time) > window }
        let candidates = held.isEmpty ? [Int](0..<count) : held
        remove(at: candidates.min { (self[$0].score, self[$0].time) < (self[$1].score, self[$1].time) }!)
    }

    /// The logins an MFA success at `time` with `links` from `origin` verifies: every one within the
    /// window that shares an id with it; failing that, when it or the login has no ids to compare, the
    /// latest login before it within the window that shares its origin. Logins with other ids are other
    /// sign-ins; a login from elsewhere is not the one this success answered.
    func verified(by links: LinkKeys, origin: StepOrigin, at time: Timestamp, window: EventDuration) -> [Int] {
        let linked = indices.filter {
            self[$0].links.shares(links) && abs(time.since(self[$0].time).microseconds) <= window.microseconds
        }
        if !linked.isEmpty { return linked }
        let unlinked = indices.filter {
            (self[$0].links.isEmpty || links.isEmpty) && self[$0].origin.matches(origin) && self[$0].time <= time
                && time.since(self[$0].time) <= window
        }
        return unlinked.max { self[$0].time < self[$1].time }.map { [$0] } ?? []
    }

    /// Logins past the window (never to be verified) whose session an MFA success with `links` closes:
    /// the user stepped up in that session after all, so its sensitive actions are scored on their own
    /// again. Nothing is learned from them.
    func closed(by links: LinkKeys, at time: Timestamp, window: EventDuration) -> [Int] {
        indices.filter { self[$0].links.shares(links) && time.since(self[$0].time) > window }
    }

    /// The riskiest unverified login whose session an event at `time` with `links` belongs to: one
    /// sharing an id with it within `hold`, or, when either has no ids to compare, any of the user's
    /// within the window.
    func session(
        of links: LinkKeys, at time: Timestamp, window: EventDuration, hold: EventDuration
    )
        -> PendingLogin?
    {
        filter {
            guard $0.time <= time else { return false }
            if $0.links.shares(links) { return time.since($0.time) <= Swift.max(window, hold) }
            return ($0.links.isEmpty || links.isEmpty) && time.since($0.time) <= window
        }.max { $0.score < $1.score }
    }
}

extension Array where Element == VerifiedLink {
    /// Remembers an MFA success, dropping those older than `window` before it and the oldest beyond the cap.
    mutating func remember(_ link: VerifiedLink, window: EventDuration) {
        removeAll { link.time.since($0.time) > window }
        append(link)
        if count > VerificationCapacity.verifiedLinks { remove(at: indices.min { self[$0].time < self[$1].time }!) }
    }

    /// True when a remembered MFA success verifies a login at `time` with `links` from `origin`: one that
    /// shares an id with it within the window, or, when either has no ids, one from the same origin
    /// within the window before it.
    func verifies(_ links: LinkKeys, origin: StepOrigin, at time: Timestamp, window: EventDuration) -> Bool {
        contains {
            if $0.links.shares(links) { return abs(time.since($0.time).microseconds) <= window.microseconds }
            return ($0.links.isEmpty || links.isEmpty) && $0.origin.matches(origin) && $0.time <= time
                && time.since($0.time) <= window
        }
    }
}
