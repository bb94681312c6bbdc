import _VigilMachinery

/// The CAEP and RISC events Vigil transmits (OpenID Shared Signals 1.0).
public enum SecurityEventType: String, Sendable, CaseIterable {
    /// CAEP: end the user's session (a deny, an accepted push after push bombing, a takeover).
    case sessionRevoked = "session-revoked"
    /// CAEP: the user's risk level moved (`RiskLevelChange`).
    case riskLevelChange = "risk-level-change"
    /// RISC: the password the user logged in with is known to be compromised.
    case credentialCompromise = "credential-compromise"
    /// RISC: the account's password must be changed (reset abuse against it).
    case accountCredentialChangeRequired = "account-credential-change-required"

    /// The event type URI, the one key of a SET's `events`.
    public var uri: String {
        switch self {
        case .sessionRevoked, .riskLevelChange: "https://schemas.openid.net/secevent/caep/event-type/\(rawValue)"
        case .credentialCompromise, .accountCredentialChangeRequired:
            "https://schemas.openid.net/secevent/risc/event-type/\(rawValue)"
        }
    }
}

/// Builds the claims of the Security Event Tokens (RFC 8417, SSF 1.0) a verdict calls for, one event per
/// token, as compact JSON; the daemon signs them (JWS with `typ: secevent+jwt`). Every claim derives
/// from the verdict, so the same events give the same bytes: `jti` is a UUID of the event type and the
/// decision id, finding uid or event id behind it (a receiver drops a repeat delivery by it), `iat` and
/// `event_timestamp` are the event's time in seconds, `txn` is the uid of the verdict's first account
/// alert, else its decision id, else its event's: the tokens of one root cause share it. No `sub` and no
/// `exp` (SSF 1.0 §4): the subject is the top-level `sub_id`.
public struct SecurityEventEncoder: Sendable {
    /// The `ssf` settings the claims follow.
    public let settings: SharedSignalSettings
    private let identifierKey = SipHashKey.publicDefault.derived(5)

    /// An encoder writing claims under `settings`.
    public init(settings: SharedSignalSettings) { self.settings = settings }

    /// One token to sign: its claims and what they are about.
    public struct Claims: Sendable, Equatable {
        /// The event it carries.
        public var type: SecurityEventType
        /// The account, the signals topic's key.
        public var userID: String
        /// The claims set as compact JSON.
        public var json: [UInt8]
    }

    /// The tokens a verdict calls for, in a fixed order: session revoked, credential compromise,
    /// credential change required, risk level change; none with signals off. `message` holds the bytes the
    /// event was decoded from (`SignalSubject.sessionID`).
    func claims(
        decision: Decision?, alerts: [Alert], findingUID: (Alert) -> String, change: RiskLevelChange?,
        subject: SignalSubject, message: UnsafeRawBufferPointer
    ) -> [Claims] {
        guard settings.enabled else { return [] }
        let accountAlerts = alerts.filter { $0.scope == .account && $0.userID != nil }
        let txn = accountAlerts.first.map(findingUID) ?? decision?.decisionID ?? eventUID(subject)
        var out: [Claims] = []
        func add(_ type: SecurityEventType, source: String, body: (inout JSONWriter) -> Void) {
            out.append(
                Claims(
                    type: type, userID: subject.userID,
                    json: encode(type, source: source, txn: txn, subject: subject, message: message, body: body)))
        }
        if settings.sessionRevoked {
            let revoking = accountAlerts.first { $0.kind == .mfaFatigueAccepted || $0.kind == .takeoverAfterReset }
            if let alert = revoking {
                add(.sessionRevoked, source: findingUID(alert)) { json in
                    json.field("initiating_entity", "policy")
                    reasonAdmin(alert.title, into: &json)
                }
            } else if let decision, decision.action == .deny {
                add(.sessionRevoked, source: decision.decisionID) { json in
                    json.field("initiating_entity", "policy")
                    let reasons = decision.reasons.map(\.signal.rawValue) + decision.rules
                    reasonAdmin(
                        "Vigil denied a \(decision.eventType.rawValue) at score \(decision.score)"
                            + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: ", ")), into: &json)
                }
            }
        }
        if settings.credentialCompromise, subject.credentialCompromised, let decision {
            add(.credentialCompromise, source: decision.decisionID) { json in
                json.field("credential_type", "password")
                reasonAdmin("the breach feed flagged the password of this login", into: &json)
            }
        }
        if settings.credentialChangeRequired {
            for alert in accountAlerts where alert.kind == .resetAbuse {
                add(.accountCredentialChangeRequired, source: findingUID(alert)) { json in
                    reasonAdmin(alert.title, into: &json)
                }
            }
        }
        if settings.riskLevelChange, let change {
            add(.riskLevelChange, source: eventUID(subject)) { json in
                json.field("principal", "USER")
                json.field("current_level", change.current.rawValue.uppercased())
                json.field("previous_level", change.previous.rawValue.uppercased())
                json.field("risk_reason", change.reason)
            }
        }
        return out
    }

    private func eventUID(_ subject: SignalSubject) -> String {
        "event:" + (subject.tenant ?? "") + ":" + subject.eventID
    }

    private func reasonAdmin(_ text: String, into json: inout JSONWriter) {
        json.key("reason_admin")
        json.beginObject()
        json.field("en", text)
        json.endObject()
    }

    private func encode(
        _ type: SecurityEventType, source: String, txn: String, subject: SignalSubject,
        message: UnsafeRawBufferPointer, body: (inout JSONWriter) -> Void
    ) -> [UInt8] {
        let seconds = Self.seconds(subject.time)
        var json = JSONWriter(capacity: 768)
        json.beginObject()
        json.field("iss", settings.issuer)
        json.field("jti", Identifiers.uuid(identifierKey, "set", type.rawValue, source))
        json.field("iat", seconds)
        switch settings.audience.count {
        case 0: break
        case 1: json.field("aud", settings.audience[0])
        default: json.stringArray("aud", settings.audience)
        }
        json.field("txn", txn)
        json.key("sub_id")
        let session = type == .sessionRevoked ? subject.sessionID?.string(in: message) : nil
        writeSubject(subject.userID, email: subject.email, session: session, into: &json)
        json.key("events")
        json.beginObject()
        json.dynamicKey(type.uri)
        json.beginObject()
        if settings.subjectInEvent {
            json.key("subject")
            writeSubject(subject.userID, email: subject.email, session: session, into: &json)
        }
        json.field("event_timestamp", seconds)
        body(&json)
        json.endObject()
        json.endObject()
        json.endObject()
        return json.finish()
    }

    /// The user, with the session when it is known (a complex subject).
    private func writeSubject(_ userID: String, email: String?, session: String?, into json: inout JSONWriter) {
        guard let session else { return writeUser(userID, email: email, into: &json) }
        json.beginObject()
        json.field("format", "complex")
        json.key("user")
        writeUser(userID, email: email, into: &json)
        json.key("session")
        json.beginObject()
        json.field("format", "opaque")
        json.field("id", session)
        json.endObject()
        json.endObject()
    }

    /// The user as `ssf.subject_format` names it (RFC 9493 subject identifiers): by `email` (the IdP's
    /// address beside an opaque id) or the id itself.
    private func writeUser(_ userID: String, email: String?, into json: inout JSONWriter) {
        json.beginObject()
        switch resolvedFormat(userID, email: email) {
        case .email:
            json.field("format", "email")
            json.field("email", email ?? userID)
        case .issSub:
            json.field("format", "iss_sub")
            json.field("iss", settings.subjectIssuer)
            json.field("sub", userID)
        case .opaque, .auto:
            json.field("format", "opaque")
            json.field("id", userID)
        }
        json.endObject()
    }

    private func resolvedFormat(_ userID: String, email: String?) -> SharedSignalSettings.SubjectFormat {
        guard settings.subjectFormat == .auto else { return settings.subjectFormat }
        if email != nil || User.isEmailAddress(userID) { return .email }
        return settings.subjectIssuer.isEmpty ? .opaque : .issSub
    }

    /// Whole seconds of `time` (NumericDate), rounded down.
    static func seconds(_ time: Timestamp) -> Int64 {
        let (quotient, remainder) = time.microseconds.quotientAndRemainder(dividingBy: 1_000_000)
        return remainder < 0 ? quotient - 1 : quotient
    }
}
