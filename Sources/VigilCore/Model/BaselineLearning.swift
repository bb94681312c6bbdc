/// What a successful login did to its user's baseline (`engine.verification`), counted per outcome so an
/// operator sees whether MFA results reach Vigil and link to their logins: many `pending` and no
/// `verified` means stepped-up users are never learned.
public enum BaselineLearning: String, Sendable, CaseIterable {
    /// Learned at once: allowed, a service account, verification off, or its MFA success came first.
    case learned
    /// Kept apart until an MFA success verifies it.
    case pending
    /// A pending login an MFA success verified (counted on the MFA result).
    case verified
    /// Denied: never learned.
    case denied
}
