import _VigilMachinery

/// One identity-provider event after decoding: the input contract of `schemas/event.schema.json`
/// as a value type. Every field has already been validated, so later stages never re-check shape.
public struct AuthEvent: Sendable, Equatable {
    /// The IdP's id for the event, copied to decisions, alerts and dead letters for correlation.
    public var eventID: String
    /// Selects which fields are required and which stages look at the event.
    public var type: EventType
    /// Event time (when the IdP saw it), the engine's only clock.
    public var time: Timestamp
    /// The IdP tenant, for multi-tenant deployments; carried through to outputs.
    public var tenant: String?
    /// The account the event is about.
    public var user: User
    /// Required for every type except `sensitive_action`.
    public var ip: IPAddress?
    /// Absent when the IdP reports no device.
    public var device: Device?
    /// `login` (required) and `password_reset_complete` (defaults to success).
    public var outcome: Outcome?
    /// The IdP's reason for a failed login, kept as it arrived; the engine does not interpret it.
    public var failureReason: InputText?
    /// What kind of failure a failed login was, when the IdP says (Keycloak's `user_not_found`, Auth0's
    /// `fu`, Entra's 50034, the canonical `failure_kind`): the campaign windows count failures for
    /// usernames that do not exist apart, the mark of a stuffing list.
    public var failureKind: FailureKind?
    /// `mfa_challenge` and `mfa_result`.
    public var mfa: MFA?
    /// `sensitive_action` only.
    public var action: SensitiveAction?
    /// Set by an upstream breach feed.
    public var credentialCompromised: Bool
    var sessionID: InputText?
    var correlationID: InputText?
    /// The identity provider's own rating of this sign-in (Okta's risk level, Auth0's Adaptive MFA
    /// confidence), when its format carries one: the `idp_risk` signal.
    public var idpRisk: IdPRiskLevel?

    /// An event built in code (tests, generators); the decoder fills the same fields from JSON.
    public init(
        eventID: String, type: EventType, time: Timestamp, tenant: String? = nil, user: User,
        ip: IPAddress? = nil, device: Device? = nil, outcome: Outcome? = nil, failureReason: InputText? = nil,
        mfa: MFA? = nil, action: SensitiveAction? = nil, credentialCompromised: Bool = false,
        sessionID: InputText? = nil, correlationID: InputText? = nil, idpRisk: IdPRiskLevel? = nil
    ) {
        self.idpRisk = idpRisk
        self.eventID = eventID
        self.type = type
        self.time = time
        self.tenant = tenant
        self.user = user
        self.ip = ip
        self.device = device
        self.outcome = outcome
        self.failureReason = failureReason
        self.mfa = mfa
        self.action = action
        self.credentialCompromised = credentialCompromised
        self.sessionID = sessionID
        self.correlationID = correlationID
    }
}

/// An identity provider's own rating of a sign-in.
public enum IdPRiskLevel: String, Sendable, CaseIterable {
    case low, medium, high
}

/// The six event kinds an IdP publishes; their wire names are the contract's `type` values.
public enum EventType: String, Sendable, CaseIterable {
    case login
    case mfaChallenge = "mfa_challenge"
    case mfaResult = "mfa_result"
    case passwordResetRequest = "password_reset_request"
    case passwordResetComplete = "password_reset_complete"
    case sensitiveAction = "sensitive_action"
}

/// The account the event is about. `role` selects the policy tier.
public struct User: Sendable, Equatable {
    /// The IdP's stable account id as sent; its normalised form (`UserIdentity`) keys the user's state.
    public var id: String
    /// Absent from the input means `standard`.
    public var role: UserRole
    /// Lower-case domain of the user's email, for domain-wide reset-abuse alerts.
    public var emailDomain: String?
    /// The user's email address as the IdP gave it beside an opaque `id` (Okta's login, Entra's user
    /// principal name): how the Shared Signals name the user to a receiver that matches users by email.
    /// Nil when the IdP gave none, or the id is the address.
    public var email: String?

    /// A user of `role` (standard by default).
    public init(id: String, role: UserRole = .standard, emailDomain: String? = nil, email: String? = nil) {
        self.id = id
        self.role = role
        self.emailDomain = emailDomain
        self.email = email == id ? nil : email
    }

    /// An address of the form local@domain.tld without white space: what an IdP login that is an email
    /// address looks like (no further check: the receiver decides whom it names).
    public static func isEmailAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !text.contains(where: \.isWhitespace) else { return false }
        let domain = parts[1]
        return domain.contains(".") && !domain.hasPrefix(".") && !domain.hasSuffix(".")
    }

    /// `address` when it is an email address (`isEmailAddress`), else nil.
    static func emailAddress(_ address: String?) -> String? {
        address.flatMap { isEmailAddress($0) ? $0 : nil }
    }
}

/// Role tiers: each has its own step-up policy and allowed factors.
public enum UserRole: String, Sendable, CaseIterable {
    case standard, admin, finance, contractor, service
}

/// The client device as the IdP reports it. `id` is opaque and hostile; the engine stores only a keyed
/// hash of it.
public struct Device: Sendable, Equatable {
    /// Opaque device id; nil leaves the new-device signal silent.
    public var id: String?
    /// Whether the device is enrolled in device management; nil when the IdP does not say.
    public var managed: Bool?
    /// Kept as evidence only; never parsed.
    public var userAgent: InputText?

    /// A device with whatever the IdP reported.
    public init(id: String? = nil, managed: Bool? = nil, userAgent: InputText? = nil) {
        self.id = id
        self.managed = managed
        self.userAgent = userAgent
    }
}

/// What kind of failure a failed login was (`failure_kind`).
public enum FailureKind: String, Sendable, CaseIterable {
    /// No account has the username: a stuffing or enumeration list's guess.
    case unknownUser = "unknown_user"
    /// The account exists and the password (or other first factor) was wrong.
    case invalidCredentials = "invalid_credentials"
    /// Locked, disabled, expired, blocked by policy, or anything else.
    case other
}

/// Whether a login (or completed password reset) succeeded.
public enum Outcome: String, Sendable, CaseIterable {
    case success, failure
}

/// Authentication factors, ordered from strongest to weakest as the policy offers them.
public enum MFAFactor: String, Sendable, CaseIterable {
    case passkey, webauthn
    case pushNumberMatch = "push_number_match"
    case totp, push, sms, email
    case recoveryCode = "recovery_code"

    /// Push-style factors a push-bombing attacker can abuse.
    public var isPush: Bool { self == .push || self == .pushNumberMatch }
    /// Phishing-resistant (FIDO2) factors.
    public var isPhishingResistant: Bool { self == .passkey || self == .webauthn }
}

/// How an MFA challenge ended; only `approved` counts as success.
public enum MFAResult: String, Sendable, CaseIterable {
    case approved, denied, timeout, failed
}

/// The MFA part of `mfa_challenge` and `mfa_result` events.
public struct MFA: Sendable, Equatable {
    /// The factor challenged.
    public var factor: MFAFactor
    /// Required on `mfa_result`, absent on `mfa_challenge`.
    public var result: MFAResult?
    /// The IdP's id linking a result to its challenge; kept for evidence, not matched on.
    public var challengeID: InputText?

    /// The MFA part of a challenge (no result) or of a result.
    public init(factor: MFAFactor, result: MFAResult? = nil, challengeID: InputText? = nil) {
        self.factor = factor
        self.result = result
        self.challengeID = challengeID
    }
}

/// What a `sensitive_action` event does. Unknown actions are kept verbatim and scored as unknown.
public enum SensitiveAction: Sendable, Equatable {
    case roleGrant, apiKeyCreate, dataExport, paymentChange, mfaReset, recoveryCodeUse
    case other(String)

    /// The action named by the contract's `action` value; an unknown name becomes `.other`.
    public init(wireName: String) {
        switch wireName {
        case "role_grant": self = .roleGrant
        case "api_key_create": self = .apiKeyCreate
        case "data_export": self = .dataExport
        case "payment_change": self = .paymentChange
        case "mfa_reset": self = .mfaReset
        case "recovery_code_use": self = .recoveryCodeUse
        default: self = .other(wireName)
        }
    }

    var wireName: String {
        switch self {
        case .roleGrant: "role_grant"
        case .apiKeyCreate: "api_key_create"
        case .dataExport: "data_export"
        case .paymentChange: "payment_change"
        case .mfaReset: "mfa_reset"
        case .recoveryCodeUse: "recovery_code_use"
        case .other(let name): name
        }
    }
}

/// Free text from the input that the engine never reads: user agent, failure reason, session,
/// correlation and challenge ids. The decoder keeps where the text sits in the message instead of
/// copying it into a String (one allocation and one UTF-8 validation per field saved on the hot path);
/// `string(in:)` materialises it from the same message bytes when something needs it.
///
/// Equality compares the representation: two spans are equal when they point at the same bytes.
public enum InputText: Sendable, Hashable, ExpressibleByStringLiteral {
    /// Text given as a String (events built in code, tests).
    case text(String)
    /// The bytes between the quotes at `start..<start + count` of the decoded message, already
    /// validated, still JSON-escaped when `escaped`.
    case span(start: Int, count: Int, escaped: Bool)

    /// Text owned by a String.
    public init(_ text: String) { self = .text(text) }
    /// Text owned by a String, from a literal (tests and generators).
    public init(stringLiteral value: String) { self = .text(value) }

    /// The text, unescaped; `message` must be the bytes the event was decoded from (ignored for `.text`).
    public func string(in message: UnsafeRawBufferPointer) -> String {
        switch self {
        case .text(let text): return text
        case let .span(start, count, escaped):
            // A span of another message would read outside this one: refuse instead of reading.
            precondition(start >= 0 && count >= 0 && start + count <= message.count, "span outside the message")
            return JSONStringToken(start: start, end: start + count, hasEscapes: escaped, length: 0).string(in: message)
        }
    }

    /// `string(in:)` over an array: the message's bytes, as they were decoded.
    public func string(in message: [UInt8]) -> String {
        message.withUnsafeBytes { string(in: $0) }
    }
}
