import _VigilMachinery

/// Auth0 tenant log events as log streams deliver them: `{"log_id": ..., "data": {...}}` (the custom
/// webhook's records), the same inside an EventBridge envelope's `detail`, or a Management API log
/// (`GET /api/v2/logs`) with the fields at the top. `data` holds `date` (ISO 8601), `type` (the event's
/// code), `user_id`, `user_name`, `ip`, `user_agent`, `client_id`, `description` and `details`. The mapping
/// table is in `docs/input-formats.md`.
///
/// What Auth0 encodes its own way:
/// - The outcome is in the type code: `s` a login, `f`/`fp`/`fu` failures, `gd_auth_rejected` a denied
///   push, `scpr`/`fcpr` reset requests.
/// - A failure for an unknown account (`fu`) has an empty `user_id`: the name typed (`user_name`) stands in.
/// - An unanswered push leaves no record: only sends and answers are logged.
/// - Logins record no device id: the application (`client_id`) stands in, with the user agent.
/// - Adaptive MFA's `details.riskAssessment.confidence` is confidence in the user, so `low` is a high risk
///   (the `idp_risk` signal); `riskAssessment` may be `null`.
/// - `pwd_leak` is a login blocked because its password is in a breach corpus: a failed login with a
///   compromised credential.
enum Auth0Record: RecordAdapter {
    private enum Mapping {
        case login(Outcome)
        /// A login refused because the password is known to be breached.
        case breachedPassword
        case challenge(MFAFactor)
        /// An MFA answer; the factor from `details.authenticator.type` when it says, else this one.
        case result(MFAResult, MFAFactor)
        case resetRequest
        case resetComplete(Outcome)
        case sensitive(SensitiveAction)
    }

    private static let mappings: [String: Mapping] = [
        "s": .login(.success), "scoa": .login(.success),
        "f": .login(.failure), "fp": .login(.failure), "fu": .login(.failure), "fcoa": .login(.failure),
        "pwd_leak": .breachedPassword,
        "gd_send_pn": .challenge(.push), "gd_send_sms": .challenge(.sms), "gd_send_voice": .challenge(.sms),
        "gd_send_email": .challenge(.email),
        "gd_auth_succeed": .result(.approved, .totp), "gd_auth_failed": .result(.failed, .totp),
        "gd_auth_rejected": .result(.denied, .push), "gd_recovery_failed": .result(.failed, .recoveryCode),
        "gd_webauthn_challenge_failed": .result(.failed, .webauthn),
        "scpr": .resetRequest, "fcpr": .resetRequest,
        "scp": .resetComplete(.success), "fcp": .resetComplete(.failure),
        "gd_enrollment_complete": .sensitive(.other("mfa_enroll")), "gd_unenroll": .sensitive(.mfaReset),
    ]

    /// `details.authenticator.type` values and the factor each names.
    private static let authenticators: [String: MFAFactor] = [
        "push": .push, "guardian": .push, "otp": .totp, "totp": .totp, "sms": .sms, "voice": .sms, "email": .email,
        "webauthn-roaming": .webauthn, "webauthn-platform": .passkey, "recovery-code": .recoveryCode,
    ]

    /// The record's fields (`data`, unwrapped from an EventBridge `detail` when there is one) and its id.
    private static func unwrap(_ record: RecordFields) throws(DecodeFailure) -> (data: RecordFields, id: String?) {
        if let detail = try record.object("detail") { return try unwrap(detail) }
        let id = try record.string("log_id", FieldLimits.eventID)
        guard let data = try record.object("data") else { return (record, id) }
        if let id { return (data, id) }
        return (data, try data.string("log_id", FieldLimits.eventID))
    }

    /// Adaptive MFA's `details.riskAssessment.confidence` is its confidence that the sign-in is the user's:
    /// `low` is a high risk, `high` a low one; `neutral`, absent or `null` says nothing.
    private static func riskLevel(_ details: RecordFields?) throws(DecodeFailure) -> IdPRiskLevel? {
        switch try details?.object("riskAssessment")?.string("confidence", 1...32) {
        case "low": .high
        case "medium": .medium
        case "high": .low
        default: nil
        }
    }

    static func mapRecord(_ record: RecordFields, eventID: inout String?) throws(DecodeFailure) -> DecodedRecord {
        let (data, id) = try unwrap(record)
        eventID = id
        let type = try data.required("type", 1...64)
        guard let mapping = mappings[type] else { return .skipped(eventType: type) }
        guard let id else {
            throw record.failure(.missingField, "log_id", "required field auth0.log_id is missing or null")
        }
        guard let time = try data.string("date", 1...64) else {
            throw data.failure(.missingField, "date", "required field \(data.fieldPath("date")) is missing or null")
        }
        guard let timestamp = Timestamp(rfc3339: time) else {
            throw data.failure(
                .invalidTime, "date", "\(data.fieldPath("date")) must be an ISO 8601 time with an offset")
        }
        let typed = try data.string("user_name", FieldLimits.userID)
        let userID: String
        // `fu` writes an empty `user_id`: no account matched the name.
        if data.object["user_id"] != .string(""), let known = try data.userID("user_id") {
            userID = known
        } else if let typed = try data.userID("user_name") {
            userID = typed
        } else {
            throw data.failure(
                .missingField, "user_id",
                "required field \(data.fieldPath("user_id")) (or user_name) is missing or empty")
        }
        let details = try data.object("details")
        let client = try data.string("client_id", FieldLimits.identifier)
        let agent = try data.string("user_agent", FieldLimits.freeText)
        let deviceID = try details?.string("device_id", FieldLimits.identifier) ?? client.map { "client:\($0)" }
        var event = AuthEvent(
            eventID: id, type: .login, time: timestamp, tenant: try data.string("tenant_name", FieldLimits.identifier),
            user: User(
                id: userID, emailDomain: typed.flatMap(RecordFields.emailDomain), email: User.emailAddress(typed)),
            ip: try data.ip("ip"),
            device: deviceID == nil && agent == nil
                ? nil : Device(id: deviceID, userAgent: agent.map { InputText($0) }),
            sessionID: try details?.string("session_id", FieldLimits.identifier).map { InputText($0) })
        event.idpRisk = try riskLevel(details)
        switch mapping {
        case .login(let outcome):
            event.outcome = outcome
            if outcome == .failure {
                let description = try data.string("description", FieldLimits.freeText)
                event.failureReason = InputText(description.map { "\(type): \($0)" } ?? type)
                event.failureKind = type == "fu" ? .unknownUser : type == "fp" ? .invalidCredentials : .other
            }
        case .breachedPassword:
            event.outcome = .failure
            event.failureReason = InputText(type)
            event.credentialCompromised = true
        case .challenge(let factor):
            event.type = .mfaChallenge
            event.mfa = MFA(factor: factor)
        case .result(let result, let fallback):
            event.type = .mfaResult
            let named = try details?.object("authenticator")?.string("type", 1...64)
            event.mfa = MFA(factor: named.flatMap { authenticators[$0] } ?? fallback, result: result)
        case .resetRequest:
            event.type = .passwordResetRequest
        case .resetComplete(let outcome): event.recast(as: .passwordResetComplete, outcome: outcome)
        case .sensitive(let action): event.recast(as: .sensitiveAction, action: action)
        }
        if event.type != .sensitiveAction, event.ip == nil {
            throw data.failure(.missingField, "ip", "required field \(data.fieldPath("ip")) is missing or null")
        }
        return .event(event)
    }
}
