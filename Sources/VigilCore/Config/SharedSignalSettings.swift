/// The `ssf` section as the engine reads it: which verdicts become OpenID Shared Signals (SSF 1.0)
/// Security Event Tokens, and how their subject and issuer are written. Signing keys, receivers and the
/// transmitter's endpoints are the daemon's (`DaemonConfig`): the engine builds the tokens' claims
/// only, deterministically, so a replay and a restart give the same `jti` for the same verdict.
public struct SharedSignalSettings: Sendable, Equatable {
    /// Off: no signals are built and no user risk level is tracked.
    public var enabled = false
    /// The SETs' `iss`: the transmitter's issuer URL, as registered with the receivers.
    public var issuer = "https://vigil.example.com"
    /// The SETs' `aud`: the receivers' identifiers (Okta: the org URL). Empty leaves `aud` out.
    public var audience: [String] = []
    /// How a user is named in `sub_id`.
    public var subjectFormat = SubjectFormat.auto
    /// The `iss` of an `iss_sub` subject: the IdP that issued the user ids (empty: `iss_sub` is never
    /// chosen by `auto`, and `iss_sub` is refused by validation).
    public var subjectIssuer = ""
    /// Also write the subject inside the event (`subject`), where receivers built on earlier drafts of the
    /// specifications, Okta's among them, read it.
    public var subjectInEvent = false
    /// CAEP session-revoked for a deny and for `mfa_fatigue_accepted` / `takeover_after_reset`.
    public var sessionRevoked = true
    /// CAEP risk-level-change when a user's level crosses `riskLevelChangeFrom`.
    public var riskLevelChange = true
    /// RISC credential-compromise for a decision on a credential the breach feed flagged.
    public var credentialCompromise = true
    /// RISC account-credential-change-required for reset abuse against one account. Off by default:
    /// password-reset requests need no authentication, so anyone could make the IdP demand a new
    /// credential of any account by asking for its reset five times.
    public var credentialChangeRequired = false
    /// A change is signalled when the old or the new level is at least this.
    public var riskLevelChangeFrom = RiskLevel.high
    /// A level raised by a verdict holds this long in event time before a calmer decision lowers it.
    public var riskLevelHold = EventDuration.hours(24)

    /// The documented defaults.
    public init() {}

    /// How `sub_id` names the user (SSF 1.0 subject identifier formats, RFC 9493).
    public enum SubjectFormat: String, Sendable, CaseIterable {
        /// `email` when the user id is an email address, else `iss_sub` when `subject_issuer` is set, else
        /// `opaque`.
        case auto
        /// `{"format": "email", "email": <user id>}`.
        case email
        /// `{"format": "iss_sub", "iss": <subject_issuer>, "sub": <user id>}`.
        case issSub = "iss_sub"
        /// `{"format": "opaque", "id": <user id>}`.
        case opaque
    }
}
