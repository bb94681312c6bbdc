import VigilCore

/// An event before it has an id: what the generator schedules and later renders to JSON.
struct Draft: Sendable {
    struct Identity: Sendable {
        var index: Int
        var role: UserRole
        var domain: String
    }

    struct DeviceInfo: Sendable {
        var id: String?
        var managed: Bool?
        var userAgent: String?
    }

    var type: EventType
    var time: Timestamp
    var user: Identity
    var ip: IPAddress?
    var device: DeviceInfo?
    var outcome: Outcome?
    var failureReason: String?
    /// What failed, for a failed login whose IdP says: each format writes it its own way (Okta has no
    /// way, `docs/input-formats.md`).
    var failureKind: FailureKind?
    /// A user name that names no account (a guess from a stuffing list), sent instead of the user's id.
    var accountName: String?
    var factor: MFAFactor?
    var result: MFAResult?
    var challengeID: String?
    var action: String?
    var attack: AttackKind?
    /// The attack sequence the event is part of (`GeneratedEvent.campaign`).
    var campaign: Int?
    var noise: NoiseKind?
    /// Scheduling order, to keep events with equal times in the order they were planned.
    var order = 0

    init(type: EventType, time: Timestamp, user: Identity, ip: IPAddress?) {
        self.type = type
        self.time = time
        self.user = user
        self.ip = ip
    }

    /// The wire form. Every string comes from the generator's own vocabulary (ASCII, no quotes or
    /// backslashes), so nothing needs escaping.
    func json(eventID: String, tenant: String?, userID: String) -> [UInt8] {
        var out = JSONLine()
        out.string("event_id", eventID, first: true)
        out.string("type", type.rawValue)
        out.string("time", time.rfc3339)
        if let tenant { out.string("tenant", tenant) }
        out.open("user")
        out.string("id", userID, first: true)
        out.string("role", user.role.rawValue)
        out.string("email_domain", user.domain)
        out.close()
        if let ip { out.string("ip", ip.description) }
        if let device {
            out.open("device")
            var first = true
            if let id = device.id {
                out.string("id", id, first: first)
                first = false
            }
            if let managed = device.managed {
                out.bool("managed", managed, first: first)
                first = false
            }
            if let agent = device.userAgent { out.string("user_agent", agent, first: first) }
            out.close()
        }
        if let outcome { out.string("outcome", outcome.rawValue) }
        if let failureReason { out.string("failure_reason", failureReason) }
        if let failureKind { out.string("failure_kind", failureKind.rawValue) }
        if let factor {
            out.open("mfa")
            out.string("factor", factor.rawValue, first: true)
            if let result { out.string("result", result.rawValue) }
            if let challengeID { out.string("challenge_id", challengeID) }
            out.close()
        }
        if let action { out.string("action", action) }
        out.bytes.append(UInt8(ascii: "}"))
        return out.bytes
    }
}

extension Draft {
    /// Each factor as Okta's `debugData.factor` and Entra's `authenticationMethod` name it.
    fileprivate static let factorNames: [MFAFactor: (okta: String, entra: String)] = [
        .push: ("OKTA_VERIFY_PUSH", "Mobile app notification"),
        .pushNumberMatch: ("OKTA_VERIFY_PUSH", "Mobile app notification"),
        .passkey: ("SIGNED_NONCE", "Passkey (Microsoft Authenticator)"),
        .webauthn: ("FIDO_WEBAUTHN", "FIDO2 security key"),
        .totp: ("OKTA_VERIFY_TOTP", "OATH verification code"), .sms: ("SMS_FACTOR", "Text message"),
        .email: ("EMAIL_FACTOR", "Email OTP"), .recoveryCode: ("RECOVERY_CODE", "OATH verification code"),
    ]
}

/// An identity provider's names for the kinds of event both it and Vigil have.
private struct IdPTypeNames {
    var loginSuccess, loginFailure, resetRequest, resetSuccess, resetFailure, sensitiveAction: String

    static let keycloak = IdPTypeNames(
        loginSuccess: "LOGIN", loginFailure: "LOGIN_ERROR", resetRequest: "SEND_RESET_PASSWORD",
        resetSuccess: "RESET_PASSWORD", resetFailure: "RESET_PASSWORD_ERROR", sensitiveAction: "UPDATE_CREDENTIAL")
    static let okta = IdPTypeNames(
        loginSuccess: "user.session.start", loginFailure: "user.session.start",
        resetRequest: "system.email.password_reset.sent_message", resetSuccess: "user.account.reset_password",
        resetFailure: "user.account.reset_password", sensitiveAction: "user.mfa.factor.activate")
    static let auth0 = IdPTypeNames(
        loginSuccess: "s", loginFailure: "fp", resetRequest: "scpr", resetSuccess: "scp", resetFailure: "fcp",
        sensitiveAction: "gd_enrollment_complete")
}

extension Draft {
    /// The IdP's name for this draft's kind; nil for MFA events, which each IdP names its own way.
    fileprivate func typeName(in names: IdPTypeNames) -> String? {
        switch type {
        case .login: outcome == .failure ? names.loginFailure : names.loginSuccess
        case .passwordResetRequest: names.resetRequest
        case .passwordResetComplete: outcome == .failure ? names.resetFailure : names.resetSuccess
        case .sensitiveAction: names.sensitiveAction
        case .mfaChallenge, .mfaResult: nil
        }
    }

    /// The event as a Keycloak user event (`docs/input-formats.md`). Keycloak has no MFA events and no
    /// device: an MFA challenge or result comes out as the `CODE_TO_TOKEN` record a listener also sends
    /// (skipped by Vigil), a device is left out, and a sensitive action becomes a credential update.
    func keycloakJSON(eventID: String, tenant: String?, userID: String) -> [UInt8] {
        let keycloakType = typeName(in: .keycloak) ?? "CODE_TO_TOKEN"
        var out = JSONLine()
        out.string("id", eventID, first: true)
        out.number("time", time.milliseconds)
        out.string("type", keycloakType)
        if let tenant { out.string("realmId", tenant) }
        out.string("clientId", "account-console")
        // Keycloak knows no user id for a name that matches no account.
        if failureKind != .unknownUser { out.string("userId", userID) }
        out.string("sessionId", "\(userID)-session")
        if let ip { out.string("ipAddress", ip.description) }
        if keycloakType == "LOGIN_ERROR" {
            out.string(
                "error", failureKind == .unknownUser ? "user_not_found" : failureReason ?? "invalid_user_credentials")
        }
        out.open("details")
        out.string("auth_method", "openid-connect", first: true)
        out.string("username", userID)
        out.string("email", "\(userID)@\(user.domain)")
        if type == .sensitiveAction { out.string("credential_type", "otp") }
        out.close()
        out.bytes.append(UInt8(ascii: "}"))
        return out.bytes
    }
}

extension Draft {
    /// The event as an Auth0 log stream record (`{"log_id", "data"}`, `docs/input-formats.md`). Auth0 logs
    /// no unanswered push: an MFA timeout comes out as the `gd_start_auth` record Vigil skips; factors
    /// Auth0 has no code for are sent as one-time codes; a sensitive action becomes an MFA enrolment.
    func auth0JSON(eventID: String, tenant: String?, userID: String) -> [UInt8] {
        let code: String
        if type == .login, failureKind == .unknownUser {
            code = "fu"
        } else if let name = typeName(in: .auth0) {
            code = name
        } else if type == .mfaChallenge {
            code =
                switch factor {
                case .push, .pushNumberMatch: "gd_send_pn"
                case .sms: "gd_send_sms"
                case .email: "gd_send_email"
                default: "gd_start_auth"
                }
        } else {
            code =
                switch result {
                case .approved: "gd_auth_succeed"
                case .denied: "gd_auth_rejected"
                case .failed: "gd_auth_failed"
                default: "gd_start_auth"
                }
        }
        var out = JSONLine()
        out.string("log_id", eventID, first: true)
        out.open("data")
        out.string("date", time.rfc3339, first: true)
        out.string("type", code)
        if let tenant { out.string("tenant_name", tenant) }
        out.string("client_id", "spa-\(device?.managed == true ? "managed" : "web")")
        out.string("user_id", "auth0|\(userID)")
        out.string("user_name", "\(userID)@\(user.domain)")
        if let ip { out.string("ip", ip.description) }
        if let agent = device?.userAgent { out.string("user_agent", agent) }
        out.open("details")
        out.string("session_id", "\(userID)-session", first: true)
        if let id = device?.id { out.string("device_id", id) }
        if type == .mfaResult, let factor {
            out.open("authenticator")
            out.string("type", factor.isPush ? "push" : factor == .totp ? "otp" : factor.rawValue, first: true)
            out.close()
        }
        out.close()
        out.close()
        out.bytes.append(UInt8(ascii: "}"))
        return out.bytes
    }
}

extension Draft {
    /// The event as an Okta System Log `LogEvent` (Identity Engine form, `docs/input-formats.md`): a push
    /// is `system.push.send_factor_verify_push`, an answer `user.authentication.auth_via_mfa` (a denial is a
    /// `FAILURE` with `INVALID_CREDENTIALS`), a challenge of another factor the `user.authentication.verify`
    /// record Vigil skips.
    func oktaJSON(eventID: String, userID: String) -> [UInt8] {
        let eventType: String
        if let name = typeName(in: .okta) {
            eventType = name
        } else if type == .mfaResult {
            eventType = "user.authentication.auth_via_mfa"
        } else {
            eventType = factor?.isPush == true ? "system.push.send_factor_verify_push" : "user.authentication.verify"
        }
        let result: String
        var reason: String?
        switch (type, outcome, self.result) {
        case (.login, .failure?, _), (.passwordResetComplete, .failure?, _):
            result = "FAILURE"
            reason = failureReason ?? "INVALID_CREDENTIALS"
        case (.mfaResult, _, .approved?): result = "SUCCESS"
        case (.mfaResult, _, .denied?):
            result = "FAILURE"
            reason = "INVALID_CREDENTIALS"
        case (.mfaResult, _, _):
            result = "FAILURE"
            reason = "VERIFICATION_ERROR"
        default: result = "SUCCESS"
        }
        var out = JSONLine()
        out.string("uuid", eventID, first: true)
        out.string("published", time.rfc3339)
        out.string("eventType", eventType)
        out.open("actor")
        out.string("id", userID, first: true)
        out.string("type", "User")
        out.string("alternateId", "\(userID)@\(user.domain)")
        out.close()
        out.open("client")
        out.string("ipAddress", ip?.description ?? "null", first: true)
        if let agent = device?.userAgent {
            out.open("userAgent")
            out.string("rawUserAgent", agent, first: true)
            out.close()
        }
        out.close()
        out.open("outcome")
        out.string("result", result, first: true)
        if let reason { out.string("reason", reason) }
        out.close()
        out.open("authenticationContext")
        out.string("externalSessionId", "\(userID)-session", first: true)
        out.close()
        out.open("debugContext")
        out.open("debugData", first: true)
        var first = true
        if let id = device?.id {
            out.string("deviceFingerprint", id, first: true)
            first = false
        }
        if let factor { out.string("factor", Self.factorNames[factor]!.okta, first: first) }
        out.close()
        out.close()
        out.bytes.append(UInt8(ascii: "}"))
        return out.bytes
    }
}

extension Draft {
    /// The event as a Microsoft Entra ID record in an Event Hubs message of one (`{"records": [...]}`,
    /// `docs/input-formats.md`). A login is a `SignInLogs` record (error 0, or 50126 with a failed
    /// password step); an MFA answer a sign-in whose steps are "Previously satisfied" then the factor (its
    /// challenge comes from the same step); an MFA challenge the 50074 "strong authentication required"
    /// interrupt Vigil skips; resets and sensitive actions `AuditLogs` activities.
    func entraJSON(eventID: String, tenant: String?, userID: String) -> [UInt8] {
        let tenantID = tenant ?? "00000000-0000-0000-0000-00000000a11c"
        // Entra writes seven fraction digits.
        let stamp = "\(time.rfc3339.dropLast())0000Z"
        let principal = "\(userID)@\(user.domain)"
        var out = JSONLine()
        out.openArray("records", first: true)
        out.element(first: true)
        out.string("time", stamp, first: true)
        out.string("tenantId", tenantID)
        let audit = type == .passwordResetRequest || type == .passwordResetComplete || type == .sensitiveAction
        out.string("category", audit ? "AuditLogs" : "SignInLogs")
        out.string("correlationId", challengeID ?? "\(userID)-flow")
        out.open("properties")
        out.string("id", eventID, first: true)
        if audit {
            let activity: String
            switch type {
            case .passwordResetRequest: activity = "Self-service password reset flow activity progress"
            case .passwordResetComplete: activity = "Reset password (self-service)"
            default: activity = "User registered security info"
            }
            out.string("activityDisplayName", activity)
            out.string("activityDateTime", stamp)
            out.string("loggedByService", "Self-service Password Management")
            out.string("result", outcome == .failure ? "failure" : "success")
            if type == .passwordResetRequest { out.string("resultReason", "User submitted their user ID") }
            out.open("initiatedBy")
            out.open("user", first: true)
            out.string("id", userID, first: true)
            out.string("userPrincipalName", principal)
            out.string("ipAddress", ip?.description ?? "")
            out.close()
            out.close()
            out.openArray("targetResources")
            out.element(first: true)
            out.string("id", userID, first: true)
            out.string("type", "User")
            out.string("userPrincipalName", principal)
            out.close()
            out.closeArray()
        } else {
            let code: Int64 =
                switch (type, outcome, result) {
                case (.login, .failure?, _): failureKind == .unknownUser ? 50034 : 50126
                case (.mfaChallenge, _, _): 50074
                case (.mfaResult, _, .approved?): 0
                case (.mfaResult, _, _): 500121
                default: 0
                }
            out.string("createdDateTime", stamp)
            // Entra knows no object id for a name that matches no account.
            out.string("userId", code == 50034 ? "" : userID)
            out.string("userPrincipalName", principal)
            out.string("ipAddress", ip?.description ?? "")
            if let agent = device?.userAgent { out.string("userAgent", agent) }
            out.open("status")
            out.number("errorCode", code, first: true)
            if code == 50126 {
                out.string("failureReason", "Invalid username or password or Invalid on-premise username or password.")
            } else if code == 50034 {
                out.string("failureReason", "The user account does not exist in the directory.")
            }
            out.close()
            out.open("deviceDetail")
            out.string("deviceId", device?.id ?? "", first: true)
            if let managed = device?.managed { out.bool("isManaged", managed) }
            out.close()
            out.openArray("authenticationDetails")
            out.element(first: true)
            out.string("authenticationStepDateTime", stamp, first: true)
            if type == .login {
                out.string("authenticationMethod", "Password")
                out.bool("succeeded", outcome != .failure)
            } else {
                out.string("authenticationMethod", "Previously satisfied")
                out.bool("succeeded", true)
            }
            out.close()
            if type == .mfaResult, let factor {
                out.element(first: false)
                out.string("authenticationStepDateTime", stamp, first: true)
                out.string("authenticationMethod", Self.factorNames[factor]!.entra)
                out.bool("succeeded", result == .approved)
                out.string("authenticationStepResultDetail", Self.entraStepDetail(result))
                out.close()
            }
            out.closeArray()
        }
        out.close()
        out.close()
        out.closeArray()
        out.bytes.append(UInt8(ascii: "}"))
        return out.bytes
    }

    private static func entraStepDetail(_ result: MFAResult?) -> String {
        switch result {
        case .approved?: "MFA successfully completed"
        case .denied?: "MFA denied; user declined the authentication"
        case .timeout?: "MFA denied; user did not respond to mobile app notification"
        default: "Invalid verification code"
        }
    }
}

/// Appends JSON members to a growing object; compact, one line, as Kafka producers usually send it.
private struct JSONLine {
    var bytes: [UInt8] = [UInt8(ascii: "{")]

    init() {
        bytes.reserveCapacity(384)
    }

    mutating func key(_ name: String, first: Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: name.utf8)
        bytes.append(contentsOf: "\":".utf8)
    }

    mutating func string(_ name: String, _ value: String, first: Bool = false) {
        key(name, first: first)
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: value.utf8)
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func number(_ name: String, _ value: Int64, first: Bool = false) {
        key(name, first: first)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ name: String, _ value: Bool, first: Bool = false) {
        key(name, first: first)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func open(_ name: String, first: Bool = false) {
        key(name, first: first)
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func close() {
        bytes.append(UInt8(ascii: "}"))
    }

    /// Starts the array `name`; each element then starts with `element`.
    mutating func openArray(_ name: String, first: Bool = false) {
        key(name, first: first)
        bytes.append(UInt8(ascii: "["))
    }

    /// Starts an object element of the array last opened.
    mutating func element(first: Bool) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        bytes.append(UInt8(ascii: "{"))
    }

    mutating func closeArray() {
        bytes.append(UInt8(ascii: "]"))
    }
}
