/// A successful login whose decision asked for a step-up, kept apart from the baseline until an MFA
/// success verifies it (`engine.verification`): what it would teach the baseline once verified, and
/// what it scored, which a sensitive action of its session inherits until then. Never verified, it
/// expires with the window and the baseline never sees it: an attacker's logins with a stolen password
/// stay unknown however many there are.
struct PendingLogin: Sendable, Equatable {
    var time: Timestamp
    /// The login's session and correlation ids, hashed.
    var links: LinkKeys
    /// The login's score (0...100).
    var score: UInt8
    var device: UInt64?
    var country: UInt64?
    var network: UInt64?
    /// The login as `UserState.lastLogin` would hold it.
    var anchor: CompactAnchor?
}

/// An MFA success that carried link ids, remembered for the verification window: identity providers
/// log a sign-in's MFA step before or after its login, and feeds reorder them, so a login that arrives
/// after the success of its own sign-in is verified at once.
struct VerifiedLink: Sendable, Equatable {
    var time: Timestamp
    var links: LinkKeys
}

/// Bounds on the per-user lists: a user has a handful of sign-ins in flight at most; beyond that the
/// oldest goes (a pending login then simply stays unverified, the safe side).
enum VerificationCapacity {
    static let pendingLogins = 4
    static let verifiedLinks = 4
}

extension Array where Element == PendingLogin {
    /// Adds `login`, dropping the oldest beyond the cap.
    mutating func add(_ login: PendingLogin) {
        append(login)
        if count > VerificationCapacity.pendingLogins { remove(at: indices.min { self[$0].time < self[$1].time }!) }
    }

    /// The logins an MFA success at `time` with `links` verifies: every one of the window that shares an
    /// id with it; failing that, when it or the login has no ids to compare, the latest login before it
    /// within the window (the user's next MFA success). Logins with other ids are other sign-ins.
    func verified(by links: LinkKeys, at time: Timestamp, window: EventDuration) -> [Int] {
        let linked = indices.filter {
            self[$0].links.shares(links) && abs(time.since(self[$0].time).microseconds) <= window.microseconds
        }
        if !linked.isEmpty { return linked }
        let unlinked = indices.filter {
            (self[$0].links.isEmpty || links.isEmpty) && self[$0].time <= time && time.since(self[$0].time) <= window
        }
        return unlinked.max { self[$0].time < self[$1].time }.map { [$0] } ?? []
    }

    /// The riskiest login still waiting whose session an event at `time` with `links` belongs to: one
    /// sharing an id with it, or, when either has none to compare, any of the user's within the window.
    func session(of links: LinkKeys, at time: Timestamp, window: EventDuration) -> PendingLogin? {
        filter {
            $0.time <= time && time.since($0.time) <= window
                && ($0.links.shares(links) || $0.links.isEmpty || links.isEmpty)
        }.max { $0.score < $1.score }
    }
}

extension Array where Element == VerifiedLink {
    /// Remembers an MFA success, dropping those older than `window` before `time` and the oldest beyond the cap.
    mutating func remember(_ link: VerifiedLink, window: EventDuration) {
        removeAll { link.time.since($0.time) > window }
        append(link)
        if count > VerificationCapacity.verifiedLinks { remove(at: indices.min { self[$0].time < self[$1].time }!) }
    }

    /// True when an MFA success of the same sign-in as a login at `time` with `links` is remembered.
    func verifies(_ links: LinkKeys, at time: Timestamp, window: EventDuration) -> Bool {
        contains { $0.links.shares(links) && abs(time.since($0.time).microseconds) <= window.microseconds }
    }
}
