import _VigilMachinery

/// Keycloak user events, as an event-listener SPI serialises `org.keycloak.events.Event` to Kafka (the
/// widely used keycloak-kafka listener writes it with Jackson, without a key): `id`, `time` (epoch
/// milliseconds), `type`, `realmId`, `clientId`, `userId`, `sessionId`, `ipAddress`, `error` and a
/// string map `details` (`username`, `email`, `code_id`, `credential_type`, ...). The mapping table is in
/// `docs/input-formats.md`.
///
/// What Keycloak encodes its own way:
/// - The outcome is in the type: `LOGIN` and `LOGIN_ERROR` (with `error`, e.g. `invalid_user_credentials`,
///   `user_not_found`).
/// - A failure for an unknown account has no `userId`: `details.username` (what was typed) stands in,
///   since failures for unknown names are what credential stuffing looks like.
/// - Keycloak has no push factor, and a failed one-time code is a `LOGIN_ERROR` like a failed password:
///   no MFA events come from Keycloak.
/// - Older builds write no `id`: the event id is then derived from the fields that identify the event.
/// - No device or user agent is recorded. The client application (`clientId`) stands in as the device
///   (`client:<clientId>`): without it every Keycloak login would count as one from an unknown device
///   (Vigil's reading of a login that names none), and every login after a reset as a takeover.
enum KeycloakRecord: RecordAdapter {
    /// How a Keycloak event type maps; types not listed are skipped.
    private enum Mapping {
        case login(Outcome)
        case type(EventType)
        /// A reset completed (a new password set), failed when `Outcome.failure`.
        case resetComplete(Outcome)
        case sensitive(SensitiveAction)
        /// `UPDATE_CREDENTIAL` / `REMOVE_CREDENTIAL`: a password change when `details.credential_type`
        /// says `password`, else a change of a second factor.
        case credential(SensitiveAction)
    }

    private static let mappings: [String: Mapping] = [
        "LOGIN": .login(.success),
        "LOGIN_ERROR": .login(.failure),
        "SEND_RESET_PASSWORD": .type(.passwordResetRequest),
        "SEND_RESET_PASSWORD_ERROR": .type(.passwordResetRequest),
        "RESET_PASSWORD": .resetComplete(.success),
        "RESET_PASSWORD_ERROR": .resetComplete(.failure),
        "UPDATE_PASSWORD": .resetComplete(.success),
        "UPDATE_CREDENTIAL": .credential(.other("update_credential")),
        "REMOVE_CREDENTIAL": .credential(.mfaReset),
        "UPDATE_TOTP": .sensitive(.other("update_totp")),
        "REMOVE_TOTP": .sensitive(.mfaReset),
        "UPDATE_EMAIL": .sensitive(.other("update_email")),
    ]

    static func mapRecord(_ record: RecordFields, eventID: inout String?) throws(DecodeFailure) -> DecodedRecord {
        eventID = try record.string("id", FieldLimits.eventID)
        let type = try record.required("type", 1...64)
        guard let mapping = mappings[type] else { return .skipped(eventType: type) }
        let time = try record.epochMilliseconds("time")
        let details = try record.object("details")
        let username = try details?.string("username", FieldLimits.userID)
        let email = try details?.string("email", 1...320)
        let userID: String
        if let id = try record.userID("userId") {
            userID = id
        } else if let typed = try details?.userID("username") {
            userID = typed
        } else {
            throw record.failure(
                .missingField, "userId",
                "required field keycloak.userId (or keycloak.details.username) is missing or null")
        }
        let ip = try record.ip("ipAddress")
        let sessionID = try record.string("sessionId", FieldLimits.identifier)
        let tenant = try record.string("realmId", FieldLimits.identifier)
        let id = eventID ?? derivedEventID(type: type, time: time, userID: userID, sessionID: sessionID, record: record)
        eventID = id
        let emailDomain = email.flatMap(RecordFields.emailDomain) ?? username.flatMap(RecordFields.emailDomain)
        let correlationID = try details?.string("code_id", FieldLimits.identifier)
        let client = try record.string("clientId", FieldLimits.identifier)

        var event = AuthEvent(
            eventID: id, type: EventType.login, time: time, tenant: tenant,
            user: User(id: userID, emailDomain: emailDomain, email: User.emailAddress(email ?? username)), ip: ip,
            device: client.map { Device(id: "client:\($0)") }, sessionID: sessionID.map { InputText($0) },
            correlationID: correlationID.map { InputText($0) })
        switch mapping {
        case .login(let outcome):
            event.outcome = outcome
            if outcome == .failure {
                let reason = try record.string("error", FieldLimits.freeText)
                event.failureReason = reason.map { InputText($0) }
                switch reason {
                case "user_not_found": event.failureKind = .unknownUser
                case "invalid_user_credentials": event.failureKind = .invalidCredentials
                default: event.failureKind = .other
                }
            }
        case .type(let type):
            event.type = type
        case .resetComplete(let outcome): event.recast(as: .passwordResetComplete, outcome: outcome)
        case .sensitive(let action): event.recast(as: .sensitiveAction, action: action)
        case .credential(let action):
            let credentialType = try details?.string("credential_type", 1...64)
            if credentialType == "password" {
                event.type = .passwordResetComplete
                event.outcome = .success
            } else {
                event.type = .sensitiveAction
                event.action = action
            }
        }
        if event.type != .sensitiveAction, event.ip == nil {
            throw record.failure(.missingField, "ipAddress", "required field keycloak.ipAddress is missing or null")
        }
        return .event(event)
    }

    /// An id for a record without one: a hash of what identifies the event, so a copy of the record
    /// (the listener delivers at least once) gets the same id.
    private static func derivedEventID(
        type: String, time: Timestamp, userID: String, sessionID: String?, record: RecordFields
    ) -> String {
        let ip = record.object["ipAddress"]?.string ?? ""
        let identity = [type, String(time.milliseconds), userID, sessionID ?? "", ip].joined(separator: "\u{1F}")
        let hash = SipHashKey.publicDefault.hash(identity)
        let hex = String(hash, radix: 16)
        return "keycloak-" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
