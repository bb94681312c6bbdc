/// What the IdP is told to do, from weakest to strongest.
public enum DecisionAction: String, Sendable, CaseIterable, Comparable {
    case allow
    case stepUpSoft = "step_up_soft"
    case stepUpHard = "step_up_hard"
    case deny

    private var strength: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: DecisionAction, rhs: DecisionAction) -> Bool { lhs.strength < rhs.strength }
}

/// Score bands. Thresholds come from `PolicySettings`.
public enum RiskLevel: String, Sendable, CaseIterable, Comparable {
    case low, medium, high

    public init(score: Int, policy: PolicySettings) {
        if score >= policy.highFrom {
            self = .high
        } else if score >= policy.mediumFrom {
            self = .medium
        } else {
            self = .low
        }
    }

    private var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }

    public static func < (lhs: RiskLevel, rhs: RiskLevel) -> Bool { lhs.rank < rhs.rank }
}

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
