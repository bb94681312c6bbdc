import _VigilMachinery

/// Okta System Log events (`LogEvent`), one per message, as System Log pollers (`GET /api/v1/logs`) and
/// Log Streaming pipelines publish them: `uuid`, `published`, `eventType`, `actor`, `target[]`, `client`
/// (`ipAddress`, `userAgent.rawUserAgent`), `outcome` (`result`, `reason`), `authenticationContext`,
/// `transaction`, `debugContext.debugData` and `request.ipChain[]`. The mapping table is in
/// `docs/input-formats.md`.
///
/// What Okta encodes its own way:
/// - Identity Engine logs a denied push as `user.authentication.auth_via_mfa` with `outcome.reason`
///   `INVALID_CREDENTIALS` and `debugData.factor` `OKTA_VERIFY_PUSH`; Classic has
///   `user.mfa.okta_verify.deny_push`. Both are a denied push here.
/// - The user is the `target` of type `User` when there is one (a reset done by an admin, a push sent by
///   "Okta System"), else the `actor` when it is a `User`.
/// - `client.ipAddress` can be the string `"null"`: absent; the first address of `request.ipChain` then
///   stands in.
/// - Okta's own risk rating is a Java-map string (`debugData.risk`) or JSON inside a string
///   (`logOnlySecurityData`): the `idp_risk` signal reads its level.
/// - The outcome of a login is `outcome.result`: `SUCCESS`/`ALLOW` or `FAILURE`/`DENY`; a `CHALLENGE` (an MFA
///   prompt on the way) is not an outcome and is skipped.
enum OktaRecord: RecordAdapter {
    private enum Mapping {
        case login
        case pushSent
        /// An MFA answer (OIE or Classic); `denied` when Classic says so by its type.
        case mfaResult(deniedByType: Bool)
        case resetRequest
        case resetComplete
        case sensitive(SensitiveAction)
    }

    private static let mappings: [String: Mapping] = [
        "user.session.start": .login,
        "system.push.send_factor_verify_push": .pushSent,
        "user.authentication.auth_via_mfa": .mfaResult(deniedByType: false),
        "user.mfa.okta_verify": .mfaResult(deniedByType: false),
        "user.mfa.okta_verify.deny_push": .mfaResult(deniedByType: true),
        "system.email.password_reset.sent_message": .resetRequest,
        "system.sms.send_password_reset_message": .resetRequest,
        "system.voice.send_password_reset_call": .resetRequest,
        "user.account.reset_password": .resetComplete,
        "user.account.update_password": .resetComplete,
        "user.mfa.factor.activate": .sensitive(.other("mfa_enroll")),
        "user.mfa.factor.deactivate": .sensitive(.mfaReset),
        "user.mfa.factor.reset_all": .sensitive(.mfaReset),
        "user.mfa.factor.update": .sensitive(.other("mfa_update")),
    ]

    /// `debugData.factor` values and the factor each names.
    private static let factors: [String: MFAFactor] = [
        "OKTA_VERIFY_PUSH": .push, "OKTA_VERIFY": .push, "SIGNED_NONCE": .passkey, "FIDO_WEBAUTHN": .webauthn,
        "OKTA_VERIFY_TOTP": .totp, "GOOGLE_AUTHENTICATOR": .totp, "TOTP": .totp, "SMS_FACTOR": .sms,
        "CALL_FACTOR": .sms, "EMAIL_FACTOR": .email,
    ]

    static func mapRecord(_ record: RecordFields, eventID: inout String?) throws(DecodeFailure) -> DecodedRecord {
        eventID = try record.string("uuid", FieldLimits.eventID)
        let type = try record.required("eventType", 1...128)
        guard let mapping = mappings[type] else { return .skipped(eventType: type) }
        guard let id = eventID else {
            throw record.failure(.missingField, "uuid", "required field okta.uuid is missing or null")
        }
        let published = try record.required("published", 1...64)
        guard let time = Timestamp(rfc3339: published) else {
            throw record.failure(.invalidTime, "published", "okta.published must be an ISO 8601 time with an offset")
        }
        let outcome = try record.object("outcome")
        let result = try outcome?.string("result", 1...32)
        let reason = try outcome?.string("reason", FieldLimits.freeText)
        if case .login = mapping, result == "CHALLENGE" || result == "UNKNOWN" || result == nil {
            return .skipped(eventType: "\(type):\(result ?? "no_result")")
        }
        let principal = try user(of: record)
        let debugData = try record.object("debugContext")?.object("debugData")
        let client = try record.object("client")
        var deviceID = try debugData?.string("deviceFingerprint", FieldLimits.identifier)
        if deviceID == nil { deviceID = try debugData?.string("dtHash", FieldLimits.identifier) }
        let agent = try client?.object("userAgent")?.string("rawUserAgent", FieldLimits.freeText)
        var event = AuthEvent(
            eventID: id, type: .login, time: time,
            user: User(
                id: principal.id, emailDomain: principal.login.flatMap(RecordFields.emailDomain),
                email: User.emailAddress(principal.login)),
            ip: try address(record, client: client),
            device: deviceID == nil && agent == nil
                ? nil : Device(id: deviceID, userAgent: agent.map { InputText($0) }),
            sessionID: try record.object("authenticationContext")?.string("externalSessionId", FieldLimits.identifier)
                .map { InputText($0) },
            correlationID: try record.object("transaction")?.string("id", FieldLimits.identifier).map { InputText($0) })
        event.idpRisk = try riskLevel(debugData)
        let succeeded = result == "SUCCESS" || result == "ALLOW"
        switch mapping {
        case .login:
            event.outcome = succeeded ? .success : .failure
            if !succeeded { event.failureReason = InputText(reason ?? result ?? "FAILURE") }
        case .pushSent:
            event.recast(as: .mfaChallenge)
            event.mfa = MFA(factor: .push)
        case .mfaResult(let deniedByType):
            event.recast(as: .mfaResult)
            // Absent: Classic's push results carry none. Named but not listed (a hardware token, a
            // security question): not an MFA step Vigil reads, as Entra's unlisted methods; read as push, a
            // token's wrong codes made push bombing out of nothing.
            let named = try debugData?.string("factor", 1...64)
            guard let factor = named.map({ factors[$0] }) ?? .push else {
                return .skipped(eventType: "\(type):unlisted_factor")
            }
            let answer: MFAResult =
                if deniedByType {
                    .denied
                } else if succeeded {
                    .approved
                } else if factor.isPush, reason == "INVALID_CREDENTIALS" {
                    .denied
                } else {
                    .failed
                }
            event.mfa = MFA(factor: factor, result: answer)
        case .resetRequest:
            event.recast(as: .passwordResetRequest)
        case .resetComplete:
            event.recast(as: .passwordResetComplete, outcome: succeeded || result == nil ? .success : .failure)
        case .sensitive(let action):
            event.recast(as: .sensitiveAction, action: action)
        }
        if event.type != .sensitiveAction, event.ip == nil {
            throw record.failure(
                .missingField, "client.ipAddress",
                "required field okta.client.ipAddress (or request.ipChain) is missing or null")
        }
        return .event(event)
    }

    /// The user the event is about: the first `target` of type `User`, else the `actor` when it is one.
    private static func user(of record: RecordFields) throws(DecodeFailure) -> (id: String, login: String?) {
        var candidates = try record.objects("target")
        if let actor = try record.object("actor") { candidates.append(actor) }
        for candidate in candidates where try candidate.string("type", 1...64) == "User" {
            guard let id = try candidate.userID("id") else {
                throw candidate.failure(
                    .missingField, "id", "required field \(candidate.fieldPath("id")) is missing or null")
            }
            return (id, try candidate.string("alternateId", FieldLimits.userID))
        }
        throw record.failure(.missingField, "actor", "no okta.target or okta.actor of type User names the account")
    }

    /// Okta's rating: `level` in `debugData.risk`, a Java-map string (`{reasons=..., level=HIGH}`), or in
    /// `logOnlySecurityData`, JSON inside a string (`{"risk":{"level":"HIGH"}}`) when risk runs in
    /// log-only mode. A rating that reads as neither is ignored, never a dead letter: it only informs.
    /// ThreatInsight's `threatSuspected` ("true": the address is one Okta saw attacking) is high.
    private static func riskLevel(_ debugData: RecordFields?) throws(DecodeFailure) -> IdPRiskLevel? {
        if try debugData?.string("threatSuspected", 1...16) == "true" { return .high }
        if let map = try debugData?.string("risk", FieldLimits.freeText) {
            // Entries are `key=value` separated by commas; the reasons' own commas never start a `level=`.
            for entry in map.split(whereSeparator: { $0 == "," || $0 == "{" || $0 == "}" }) {
                let pair = entry.drop { $0 == " " }
                guard pair.hasPrefix("level=") else { continue }
                return IdPRiskLevel(rawValue: pair.dropFirst("level=".count).prefix { $0.isLetter }.lowercased())
            }
        }
        guard let embedded = try debugData?.string("logOnlySecurityData", 0...8192) else { return nil }
        var bytes = Array(embedded.utf8)
        let parsed = bytes.withUnsafeMutableBytes { buffer in
            try? JSONValue.parse(UnsafeRawBufferPointer(buffer), maxDepth: 8, as: DecodeFailure.self)
        }
        guard let level = parsed?.object?["risk"]?.object?["level"]?.string else { return nil }
        return IdPRiskLevel(rawValue: level.lowercased())
    }

    /// `client.ipAddress` unless absent or the string "null", else the first of `request.ipChain`.
    private static func address(_ record: RecordFields, client: RecordFields?) throws(DecodeFailure) -> IPAddress? {
        if let text = try client?.string("ipAddress", 1...64), text != "null" { return try client?.ip("ipAddress") }
        guard let chain = try record.object("request")?.object["ipChain"]?.array, let first = chain.first?.object
        else { return nil }
        let hop = RecordFields(object: first, format: .okta, path: "request.ipChain[0].")
        guard let text = try hop.string("ip", 1...64), text != "null" else { return nil }
        return try hop.ip("ip")
    }
}
