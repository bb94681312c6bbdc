/// Where and how a user last logged in successfully: the anchor for travel and the evidence for alerts.
public struct LoginAnchor: Sendable, Equatable {
    public var time: Timestamp
    public var eventID: String
    public var ip: IPAddress
    public var location: GeoLocation?
    public var network: AutonomousSystem?
    /// The address was anonymous (VPN, Tor, proxy, hosting) by database or reputation table.
    public var anonymity: AnonymityFlags
}

/// Suppresses repeats: one alert per subject, kind and window.
public struct AlertHold: Sendable, Equatable {
    public var kind: AlertKind
    public var until: Timestamp
}

/// Everything remembered about one user. Sets and windows are bounded and allocated only when used,
/// so an ordinary user costs a few hundred bytes.
public struct UserState: Sendable, Equatable {
    public var lastSeen: Timestamp
    public var successfulLogins: UInt32 = 0
    public var devices = SeenSet()
    public var countries = SeenSet()
    public var networks = SeenSet()
    public var lastLogin: LoginAnchor?
    public var lastResetCompleted: Timestamp?
    public var failures = EventWindow()
    public var pushesSent = EventWindow()
    /// Push denials and timeouts.
    public var pushFailures = EventWindow()
    public var resetRequests = EventWindow()
    /// While set and in the future, no push factor is offered (active push-bombing alert).
    public var pushBombingUntil: Timestamp?
    public var holds: [AlertHold] = []

    public init(lastSeen: Timestamp) { self.lastSeen = lastSeen }
}

/// Cross-user evidence about one source address (IPv6 aggregated to /64), per shard.
public struct SourceState: Sendable, Equatable {
    public var lastSeen: Timestamp
    public var failures = EventWindow()
    public var failingUsers = DistinctWindow()
    public var resetAccounts = DistinctWindow()
    public var holds: [AlertHold] = []

    public init(lastSeen: Timestamp) { self.lastSeen = lastSeen }
}

/// Cross-user evidence about one email domain, per shard.
public struct DomainState: Sendable, Equatable {
    public var lastSeen: Timestamp
    public var resetAccounts = DistinctWindow()
    public var holds: [AlertHold] = []

    public init(lastSeen: Timestamp) { self.lastSeen = lastSeen }
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
