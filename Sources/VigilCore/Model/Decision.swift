/// A step-up decision for one event, ready for the IdP to enforce and for a human to read.
public struct Decision: Sendable, Equatable {
    public var decisionID: String
    public var eventID: String
    public var eventType: EventType
    public var userID: String
    public var role: UserRole
    public var tenant: String?
    public var time: Timestamp
    public var action: DecisionAction
    /// Factors the IdP may offer for a step-up, strongest first; empty for allow and deny.
    public var factors: [MFAFactor]
    public var score: Int
    public var level: RiskLevel
    public var reasons: [Reason]
    /// Hard rules that raised the action above the role's table, by name.
    public var rules: [String]
    public var policyVersion: String
    public var expiresAt: Timestamp
}
