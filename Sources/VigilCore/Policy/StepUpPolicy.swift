/// Turns a score into an action and the factors to offer: the role table first, then hard rules that
/// can only raise the action. Pure and table-driven so a reviewer can check it against the runbook.
struct StepUpPolicy: Sendable {
    var settings: PolicySettings

    /// Facts beyond the score that hard rules look at.
    struct Context: Sendable {
        var role: UserRole
        var isSensitiveAction: Bool
        var compromisedCredential: Bool
        var torExit: Bool
        var withinPostResetWindow: Bool
        var pushBombingActive: Bool
    }

    struct Outcome: Sendable, Equatable {
        var action: DecisionAction
        var factors: [MFAFactor]
        var rules: [String]
    }

    func decide(level: RiskLevel, context: Context) -> Outcome {
        let tier = settings.roles[context.role]
        var action = tier.action(for: level)
        var rules: [String] = []
        func raise(to minimum: DecisionAction, rule: String) {
            if action < minimum {
                action = minimum
                rules.append(rule)
            }
        }
        if context.isSensitiveAction {
            raise(to: tier.sensitiveActionMinimum, rule: "sensitive_action_minimum_for_role")
        }
        if context.withinPostResetWindow {
            raise(to: .stepUpSoft, rule: "post_reset_requires_step_up")
            if level == .high { raise(to: .stepUpHard, rule: "post_reset_high_risk_requires_phishing_resistant") }
        }
        if context.compromisedCredential {
            raise(to: .stepUpHard, rule: "compromised_credential_requires_phishing_resistant")
        }
        if context.torExit && context.role == .admin {
            raise(to: .deny, rule: "admin_from_tor_denied")
        }
        if !tier.canStepUp && (action == .stepUpSoft || action == .stepUpHard) {
            action = .deny
            rules.append("role_cannot_step_up")
        }
        return Outcome(action: action, factors: factors(for: action, context: context), rules: rules)
    }

    /// Factors offered for a step-up, strongest first.
    func factors(for action: DecisionAction, context: Context) -> [MFAFactor] {
        switch action {
        case .allow, .deny:
            return []
        case .stepUpHard:
            return [.passkey, .webauthn]
        case .stepUpSoft:
            var offered: [MFAFactor] = [.passkey, .webauthn, .pushNumberMatch, .totp, .sms, .email]
            if !settings.roles[context.role].smsAndEmail {
                offered.removeAll { $0 == .sms || $0 == .email }
            }
            if context.pushBombingActive { offered.removeAll { $0.isPush } }
            return offered
        }
    }

    /// OIDC `acr_values` for the action.
    func acrValues(for action: DecisionAction) -> String {
        switch action {
        case .allow: settings.acrNone
        case .stepUpSoft: settings.acrSoft
        case .stepUpHard, .deny: settings.acrHard
        }
    }

    /// SAML `AuthnContextClassRef` for the action.
    func samlClassRef(for action: DecisionAction) -> String {
        switch action {
        case .allow: settings.samlNone
        case .stepUpSoft: settings.samlSoft
        case .stepUpHard, .deny: settings.samlHard
        }
    }
}
