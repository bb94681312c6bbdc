/// A step-up decision for one event, ready for the IdP to enforce and for a human to read.
public struct Decision: Sendable, Equatable {
    var decisionID: String
    /// The `event_id` of the event decided.
    public var eventID: String
    var eventType: EventType
    /// The account decided about.
    public var userID: String
    /// The tier whose policy was applied.
    public var role: UserRole
    /// The event's tenant, carried through.
    public var tenant: String?
    /// The event's time, not the time of deciding: replays give the same decision.
    public var time: Timestamp
    /// What the IdP must do, after hard rules.
    public var action: DecisionAction
    /// Factors the IdP may offer for a step-up, strongest first; empty for allow and deny.
    public var factors: [MFAFactor]
    /// Sum of the fired signals' points, clamped to 0–100.
    public var score: Int
    /// The band `score` falls in under the policy's thresholds.
    public var level: RiskLevel
    /// The fired signals, in `SignalName` order.
    public var reasons: [Reason]
    /// Hard rules that raised the action above the role's table, by name.
    public var rules: [String]
    /// The `policy_version` of the configuration that decided.
    public var policyVersion: String
    var expiresAt: Timestamp
}
