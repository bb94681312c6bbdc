/// What the IdP is told to do, from weakest to strongest.
public enum DecisionAction: String, Sendable, CaseIterable, Comparable {
    case allow
    case stepUpSoft = "step_up_soft"
    case stepUpHard = "step_up_hard"
    case deny

    private var strength: Int { Self.allCases.firstIndex(of: self)! }
    /// Weaker actions are smaller: `max` of two actions is the stricter one.
    public static func < (lhs: DecisionAction, rhs: DecisionAction) -> Bool { lhs.strength < rhs.strength }
}

/// Score bands. Thresholds come from `PolicySettings` (see `init(score:policy:)`).
public enum RiskLevel: String, Sendable, CaseIterable, Comparable {
    case low, medium, high

    private var rank: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .high: 2
        }
    }

    /// `low` < `medium` < `high`.
    public static func < (lhs: RiskLevel, rhs: RiskLevel) -> Bool { lhs.rank < rhs.rank }
}
