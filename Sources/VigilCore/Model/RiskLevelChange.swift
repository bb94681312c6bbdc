/// A user's risk level moved across `ssf.risk_level_change.from`: what a CAEP risk-level-change says.
public struct RiskLevelChange: Sendable, Equatable {
    /// The level last signalled for the user (`low` for a user never signalled).
    public var previous: RiskLevel
    /// The user's level after the verdict.
    public var current: RiskLevel
    /// Why, for `risk_reason`: the alert kinds that raised it, else the decision's signals; "hold expired"
    /// when a raised level ran out.
    public var reason: String

    /// A move from `previous` to `current` for `reason`.
    public init(previous: RiskLevel, current: RiskLevel, reason: String) {
        self.previous = previous
        self.current = current
        self.reason = reason
    }
}

extension AlertSeverity {
    /// The user risk level an account alert of this severity implies: high and critical are high.
    var riskLevel: RiskLevel {
        switch self {
        case .low: .low
        case .medium: .medium
        case .high, .critical: .high
        }
    }
}

/// The event a verdict is about, as the Shared Signals name it: the account, its IdP session and the
/// event's identity and time.
public struct SignalSubject: Sendable, Equatable {
    /// The account as the IdP sent it.
    public var userID: String
    /// Its email address, when the IdP gave one beside the id (`User.email`).
    public var email: String?
    /// The event's tenant.
    public var tenant: String?
    /// The event's id: a risk change's `jti` derives from it.
    public var eventID: String
    /// Event time: the SETs' `iat` and `event_timestamp`.
    public var time: Timestamp
    /// The IdP session, when the event named one (a span of the message the event was decoded from:
    /// `InputText.string(in:)`).
    public var sessionID: InputText?
    /// The breach feed flagged the credential the event used.
    public var credentialCompromised: Bool
}
