import _VigilMachinery

/// One identity-provider event after decoding: the input contract of `schemas/event.schema.json`
/// as a value type. Every field has already been validated, so later stages never re-check shape.
public struct AuthEvent: Sendable, Equatable {
    public var eventID: String
    public var type: EventType
    /// Event time (when the IdP saw it), the engine's only clock.
    public var time: Timestamp
    public var tenant: String?
    public var user: User
    /// Required for every type except `sensitive_action`.
    public var ip: IPAddress?
    public var device: Device?
    /// `login` (required) and `password_reset_complete` (defaults to success).
    public var outcome: Outcome?
    public var failureReason: InputText?
    /// `mfa_challenge` and `mfa_result`.
    public var mfa: MFA?
    /// `sensitive_action` only.
    public var action: SensitiveAction?
    /// Set by an upstream breach feed.
    public var credentialCompromised: Bool
    public var sessionID: InputText?
    public var correlationID: InputText?

    public init(
        eventID: String, type: EventType, time: Timestamp, tenant: String? = nil, user: User,
        ip: IPAddress? = nil, device: Device? = nil, outcome: Outcome? = nil, failureReason: InputText? = nil,
        mfa: MFA? = nil, action: SensitiveAction? = nil, credentialCompromised: Bool = false,
        sessionID: InputText? = nil, correlationID: InputText? = nil
    ) {
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
    public var id: String
    public var role: UserRole
    public var emailDomain: String?

    public init(id: String, role: UserRole = .standard, emailDomain: String? = nil) {
        self.id = id
        self.role = role
        self.emailDomain = emailDomain
    }
}

/// Role tiers: each has its own step-up policy and allowed factors.
public enum UserRole: String, Sendable, CaseIterable {
    case standard, admin, finance, contractor, service
}

/// The client device as the IdP reports it. `id` is opaque and hostile; the engine stores only a keyed
/// hash of it.
public struct Device: Sendable, Equatable {
    public var id: String?
    public var managed: Bool?
    public var userAgent: InputText?

    public init(id: String? = nil, managed: Bool? = nil, userAgent: InputText? = nil) {
        self.id = id
        self.managed = managed
        self.userAgent = userAgent
    }
}

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

public enum MFAResult: String, Sendable, CaseIterable {
    case approved, denied, timeout, failed
}

/// The MFA part of `mfa_challenge` and `mfa_result` events.
public struct MFA: Sendable, Equatable {
    public var factor: MFAFactor
    /// Required on `mfa_result`, absent on `mfa_challenge`.
    public var result: MFAResult?
    public var challengeID: InputText?

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

    public var wireName: String {
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

    public init(_ text: String) { self = .text(text) }
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

    public func string(in message: [UInt8]) -> String {
        message.withUnsafeBytes { string(in: $0) }
    }
}
