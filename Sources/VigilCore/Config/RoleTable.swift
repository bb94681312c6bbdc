/// Per-role step-up policy, so an organisation can tighten (or loosen) a tier without a code change.
public struct RolePolicy: Sendable, Equatable {
    /// The action at low risk (score below `PolicySettings.mediumFrom`).
    public var low: DecisionAction
    /// The action at medium risk.
    public var medium: DecisionAction
    /// The action at high risk (score from `PolicySettings.highFrom`).
    public var high: DecisionAction
    /// The least a `sensitive_action` of this role gets, whatever its score.
    public var sensitiveActionMinimum: DecisionAction
    /// SMS and email codes are phishable and SIM-swappable: privileged tiers never get them.
    public var smsAndEmail: Bool
    /// Service accounts cannot answer MFA: any step-up becomes a deny.
    public var canStepUp: Bool

    /// A policy with every choice explicit: there is no "default tier" to fall back on.
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

    /// The table's action for a risk level, before hard rules and `sensitiveActionMinimum` raise it.
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
    /// Ordinary workforce accounts: step up with risk, every factor allowed.
    public var standard = RolePolicy(
        low: .allow, medium: .stepUpSoft, high: .stepUpHard, sensitiveActionMinimum: .allow, smsAndEmail: true,
        canStepUp: true)
    /// Administrators: phishing-resistant step-up from medium risk and for every sensitive action.
    public var admin = RolePolicy(
        low: .allow, medium: .stepUpHard, high: .stepUpHard, sensitiveActionMinimum: .stepUpHard, smsAndEmail: false,
        canStepUp: true)
    /// Finance staff: as strict as administrators, since payment changes are a fraud target.
    public var finance = RolePolicy(
        low: .allow, medium: .stepUpHard, high: .stepUpHard, sensitiveActionMinimum: .stepUpHard, smsAndEmail: false,
        canStepUp: true)
    /// External staff on unmanaged devices: always stepped up, never by SMS or email.
    public var contractor = RolePolicy(
        low: .stepUpSoft, medium: .stepUpSoft, high: .stepUpHard, sensitiveActionMinimum: .stepUpSoft,
        smsAndEmail: false, canStepUp: true)
    /// Non-interactive accounts: they cannot answer MFA, so high risk is denied outright.
    public var service = RolePolicy(
        low: .allow, medium: .allow, high: .deny, sensitiveActionMinimum: .allow, smsAndEmail: false, canStepUp: false)

    /// The runbook's defaults for every tier.
    public init() {}

    /// The policy of one tier, readable and writable by role (how the config decoder fills the table).
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
