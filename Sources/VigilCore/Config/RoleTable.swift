/// Per-role step-up policy, so an organisation can tighten (or loosen) a tier without a code change.
public struct RolePolicy: Sendable, Equatable {
    public var low: DecisionAction
    public var medium: DecisionAction
    public var high: DecisionAction
    /// The least a `sensitive_action` of this role gets, whatever its score.
    public var sensitiveActionMinimum: DecisionAction
    /// SMS and email codes are phishable and SIM-swappable: privileged tiers never get them.
    public var smsAndEmail: Bool
    /// Service accounts cannot answer MFA: any step-up becomes a deny.
    public var canStepUp: Bool

    public init(
        low: DecisionAction, medium: DecisionAction, high: DecisionAction, sensitiveActionMinimum: DecisionAction,
        smsAndEmail: Bool, canStepUp: Bool
    ) {
        self.low = low
        self.medium = medium
        self.high = high
        self.sensitiveActionMinimum = sensitiveActionMinimum
        self.smsAndEmail = smsAndEmail
        self.canStepUp = canStepUp
    }

    public func action(for level: RiskLevel) -> DecisionAction {
        switch level {
        case .low: low
        case .medium: medium
        case .high: high
        }
    }
}

/// One `RolePolicy` per role, defaults from the runbook: standard users step up with risk; admin and
/// finance need phishing-resistant factors from medium and for every sensitive action; contractors
/// always step up and never get SMS or email; service accounts are allowed or denied.
public struct RoleTable: Sendable, Equatable {
    public var standard = RolePolicy(
        low: .allow, medium: .stepUpSoft, high: .stepUpHard, sensitiveActionMinimum: .allow, smsAndEmail: true,
        canStepUp: true)
    public var admin = RolePolicy(
        low: .allow, medium: .stepUpHard, high: .stepUpHard, sensitiveActionMinimum: .stepUpHard, smsAndEmail: false,
        canStepUp: true)
    public var finance = RolePolicy(
        low: .allow, medium: .stepUpHard, high: .stepUpHard, sensitiveActionMinimum: .stepUpHard, smsAndEmail: false,
        canStepUp: true)
    public var contractor = RolePolicy(
        low: .stepUpSoft, medium: .stepUpSoft, high: .stepUpHard, sensitiveActionMinimum: .stepUpSoft,
        smsAndEmail: false, canStepUp: true)
    public var service = RolePolicy(
        low: .allow, medium: .allow, high: .deny, sensitiveActionMinimum: .allow, smsAndEmail: false, canStepUp: false)

    public init() {}

    public subscript(role: UserRole) -> RolePolicy {
        get {
            switch role {
            case .standard: standard
            case .admin: admin
            case .finance: finance
            case .contractor: contractor
            case .service: service
            }
        }
        set {
            switch role {
            case .standard: standard = newValue
            case .admin: admin = newValue
            case .finance: finance = newValue
            case .contractor: contractor = newValue
            case .service: service = newValue
            }
        }
    }
}
