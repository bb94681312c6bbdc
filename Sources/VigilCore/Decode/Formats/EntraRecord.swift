import _VigilMachinery

/// Microsoft Entra ID logs as diagnostic settings stream them to an Event Hub, whose Kafka endpoint Vigil
/// reads: one message is `{"records": [...]}` (`InputFormat.carriesBatches`), each record in Azure Monitor's
/// common shape (`time`, `category`, `tenantId`, `resultType`, `callerIpAddress`, `correlationId`,
/// `properties`), `properties` holding Microsoft Graph's `signIn` or `directoryAudit` fields in camelCase. A
/// record sent alone (no `records` array) is read the same way. The mapping table is in
/// `docs/input-formats.md`.
///
/// What Entra encodes its own way:
/// - A sign-in is one record whatever happened in it: the password and each MFA step are entries of
///   `authenticationDetails[]`. One record therefore becomes several events: the login, then a challenge
///   and a result per MFA step. A step-up inside an existing session (first step "Previously satisfied",
///   then MFA) has no login of its own.
/// - A denied push is a step "Mobile app notification" that did not succeed, its
///   `authenticationStepResultDetail` "MFA denied; user declined the authentication"; an unanswered one
///   says "user did not respond to mobile app notification".
/// - `status.errorCode` separates failures (50126 a wrong password, 50053 a locked account, ...) from
///   interrupts that are steps of a normal sign-in (50140 "keep me signed in", 50074 MFA required, ...):
///   those are skipped, counted per code. `resultType` repeats the code as a string.
/// - Times have seven fraction digits and may carry an offset other than `Z`; `Level` and `durationMs`
///   come as strings or numbers (Vigil reads neither).
/// - Password resets are not sign-ins: they are `AuditLogs` activities of "Self-service Password
///   Management" (the account in `targetResources[]`, the address in `initiatedBy.user.ipAddress`).
/// - Entra's own verdict: `riskLevelDuringSignIn` (and `riskState` "confirmedCompromised") feed the
///   `idp_risk` signal; a `leakedCredentials` detection marks the credential compromised.
/// - An unregistered device has an empty `deviceDetail.deviceId`: the browser family and operating system
///   stand in (`entra-agent:Chrome|Windows10`), so a login from another kind of client still counts as new.
enum EntraRecord: RecordAdapter {
    static func mapRecord(_ record: RecordFields, eventID: inout String?) throws(DecodeFailure) -> DecodedRecord {
        let properties = try record.object("properties")
        eventID = try properties?.string("id", idLengths)
        guard let category = try record.string("category", 1...128) else {
            throw record.failure(.missingField, "category", "required field entra.category is missing or null")
        }
        let mapping: (RecordFields, RecordFields, String) throws(DecodeFailure) -> DecodedRecord
        switch category {
        case "SignInLogs": mapping = signIn
        case "AuditLogs": mapping = audit
        // Token refreshes and service sign-ins: 5–10 times the interactive volume, no user typing anything.
        default: return .skipped(eventType: category)
        }
        guard let properties else {
            throw record.failure(.missingField, "properties", "required field entra.properties is missing or null")
        }
        guard let id = eventID else {
            throw properties.failure(.missingField, "id", "required field entra.properties.id is missing or null")
        }
        return try mapping(record, properties, id)
    }

    /// An id leaves room for the suffixes of the events one record yields (`.mfa1.result`) within the
    /// contract's 128 characters; Entra's ids are GUIDs.
    private static let idLengths = 1...100

    // MARK: Sign-ins

    /// `status.errorCode` values that are a step of a normal sign-in, not its end: skipped.
    private static let interrupts: Set<Int64> = [
        50072, 50074, 50076, 50079, 50097, 50125, 50140, 50158, 50199, 81010, 81012,
    ]

    /// `authenticationDetails[].authenticationMethod` values that are MFA factors, and the factor each names.
    private static let factors: [String: MFAFactor] = [
        "Mobile app notification": .push, "Text message": .sms, "OATH verification code": .totp,
        "Mobile app verification code": .totp, "Software OATH token": .totp, "Hardware OATH token": .totp,
        "FIDO2 security key": .webauthn, "Windows Hello for Business": .passkey, "Email OTP": .email,
        "Email one-time passcode": .email,
    ]

    /// The factor a method names: the table, or a family of names with a variable tail ("Phone call
    /// approval (Authentication phone)", "Passkey (Microsoft Authenticator)"); nil for a first factor
    /// ("Password", "Previously satisfied") or a method Vigil does not know.
    private static func factor(_ method: String) -> MFAFactor? {
        if let factor = factors[method] { return factor }
        if method.hasPrefix("Phone call") { return .sms }
        if method.hasPrefix("Passkey") { return .passkey }
        return nil
    }

    private static func signIn(
        _ record: RecordFields, _ properties: RecordFields, _ id: String
    ) throws(DecodeFailure) -> DecodedRecord {
        let status = try properties.object("status")
        var code = try status?.integer("errorCode")
        if code == nil { code = try record.integer("resultType") }
        guard let code else {
            throw properties.failure(
                .missingField, "status",
                "required field entra.properties.status.errorCode (or entra.resultType) is missing or null")
        }
        if interrupts.contains(code) { return .skipped(eventType: "SignInLogs:\(code)") }
        let time = try time(properties, "createdDateTime", record)
        let steps = try properties.objects("authenticationDetails")
        var base = AuthEvent(
            eventID: id, type: .login, time: time, tenant: try record.string("tenantId", FieldLimits.identifier),
            user: try user(properties), ip: try address(properties, "ipAddress", record),
            device: try device(properties),
            sessionID: try properties.string("sessionId", FieldLimits.identifier).map { InputText($0) },
            correlationID: try correlation(properties, record).map { InputText($0) })
        guard base.ip != nil else {
            throw properties.failure(
                .missingField, "ipAddress",
                "required field entra.properties.ipAddress (or entra.callerIpAddress) is missing or empty")
        }
        base.idpRisk = try riskLevel(properties)
        base.credentialCompromised = leakedCredentials(properties)

        var events: [AuthEvent] = []
        var mfaSteps: [(RecordFields, MFAFactor)] = []
        var firstFactor = steps.isEmpty
        for step in steps {
            let method = try step.string("authenticationMethod", 0...128) ?? ""
            if let factor = factor(method) {
                mfaSteps.append((step, factor))
            } else if method != "Previously satisfied" {
                firstFactor = true
            }
        }
        // A step-up in an existing session (previously satisfied, then MFA) signs nobody in.
        if firstFactor || mfaSteps.isEmpty {
            var login = base
            login.outcome = code == 0 || code == 500121 ? .success : .failure
            if login.outcome == .failure {
                let reason = try status?.string("failureReason", FieldLimits.freeText)
                login.failureReason = InputText(reason.map { "\(code): \($0)" } ?? "\(code)")
                login.failureKind = code == 50034 ? .unknownUser : code == 50126 ? .invalidCredentials : .other
            }
            events.append(login)
        }
        var previous = time
        for (number, (step, factor)) in mfaSteps.enumerated() {
            let stepTime = try step.string("authenticationStepDateTime", 1...64).flatMap(Timestamp.init(rfc3339:))
            var challenge = base
            challenge.recast(as: .mfaChallenge)
            challenge.eventID = "\(id).mfa\(number + 1)"
            challenge.time = previous
            challenge.mfa = MFA(factor: factor, challengeID: base.correlationID)
            events.append(challenge)
            guard let succeeded = try step.bool("succeeded") else { continue }
            var answer = challenge
            answer.type = .mfaResult
            answer.eventID = "\(id).mfa\(number + 1).result"
            answer.time = max(stepTime ?? previous, previous)
            let detail = try step.string("authenticationStepResultDetail", FieldLimits.freeText)?.lowercased() ?? ""
            let result: MFAResult =
                if succeeded {
                    .approved
                } else if detail.contains("did not respond") || detail.contains("timed out") {
                    .timeout
                } else if detail.contains("declined") || detail.contains("denied") || detail.contains("fraud") {
                    .denied
                } else {
                    .failed
                }
            answer.mfa = MFA(factor: factor, result: result, challengeID: base.correlationID)
            events.append(answer)
            previous = answer.time
        }
        return events.count == 1 ? .event(events[0]) : .events(events)
    }

    /// The account: its object id (`userId` of a sign-in, `id` of an audit record's user), unless empty or
    /// the all-zero id Entra writes when no account matched the name typed; then `userPrincipalName` (what
    /// credential stuffing looks like). The email domain is the user principal name's.
    private static func user(_ fields: RecordFields, id idField: String = "userId") throws(DecodeFailure) -> User {
        let principal = try fields.string("userPrincipalName", FieldLimits.userID)
        // A guest's domain is its own (`homeAddress`); its address stays the name Entra knows it by, which
        // is what a receiver of its tokens looks up.
        let domain = principal.map(homeAddress).flatMap(RecordFields.emailDomain)
        if let object = fields.object[idField], object != .string(""),
            object != .string("00000000-0000-0000-0000-000000000000"), let id = try fields.userID(idField)
        {
            return User(id: id, emailDomain: domain, email: User.emailAddress(principal))
        }
        guard let typed = try fields.userID("userPrincipalName") else {
            throw fields.failure(
                .missingField, idField,
                "required field \(fields.fieldPath(idField)) (or userPrincipalName) is missing")
        }
        return User(id: typed, emailDomain: domain)
    }

    /// A guest's user principal name (`alice_contoso.com#EXT#@fabrikam.onmicrosoft.com`) as the address it
    /// stands for (`alice@contoso.com`): its email domain is the guest's own, not the inviting tenant's (a
    /// reset wave against one partner's accounts is that partner's domain). Any other name as it is.
    static func homeAddress(_ principal: String) -> String {
        guard let marker = principal.firstRange(of: "#EXT#@") else { return principal }
        let local = principal[..<marker.lowerBound]
        guard let separator = local.lastIndex(of: "_") else { return principal }
        return local[..<separator] + "@" + local[local.index(after: separator)...]
    }

    /// `deviceDetail`: the registered device's id, else the browser family and operating system; whether
    /// the device is managed; the raw `userAgent`, only without a registered id: that id names the machine,
    /// whose browsers all present it, so it is not bound to one browser (`EventContext.browser`).
    private static func device(_ properties: RecordFields) throws(DecodeFailure) -> Device? {
        let detail = try properties.object("deviceDetail")
        var agent = try properties.string("userAgent", FieldLimits.freeText)
        var id = try detail?.string("deviceId", 0...FieldLimits.identifier.upperBound)
        if let registered = id, !registered.isEmpty { agent = nil }
        if id?.isEmpty ?? true {
            let browser = try detail?.string("browser", 0...128).map(browserFamily) ?? ""
            let system = try detail?.string("operatingSystem", 0...128) ?? ""
            id = browser.isEmpty && system.isEmpty ? nil : "entra-agent:\(browser)|\(system)"
        }
        let managed = try detail?.bool("isManaged")
        guard id != nil || agent != nil || managed != nil else { return nil }
        return Device(id: id, managed: managed, userAgent: agent.map { InputText($0) })
    }

    /// "Chrome 120.0.0" → "Chrome": a browser update is not a new device.
    private static func browserFamily(_ browser: String) -> String {
        let words = browser.split(separator: " ")
        return words.prefix { !($0.first?.isNumber ?? false) }.joined(separator: " ")
    }

    /// `riskLevelDuringSignIn` (`none` and `hidden`, a tenant without the licence, say nothing); a
    /// `riskState` of "confirmedCompromised" is high whatever the level.
    private static func riskLevel(_ properties: RecordFields) throws(DecodeFailure) -> IdPRiskLevel? {
        if try properties.string("riskState", 1...64) == "confirmedCompromised" { return .high }
        return try properties.string("riskLevelDuringSignIn", 1...32).flatMap(IdPRiskLevel.init(rawValue:))
    }

    /// A `leakedCredentials` detection in `riskEventTypes_v2`: an array of names as Graph documents it, or
    /// the same array as JSON text, as some pipelines pass it on. A value that reads as neither is ignored,
    /// never a dead letter: it only informs.
    private static func leakedCredentials(_ properties: RecordFields) -> Bool {
        switch properties.object["riskEventTypes_v2"] {
        case .array(let names): names.contains(.string("leakedCredentials"))
        case .string(let text): text.contains("\"leakedCredentials\"")
        default: false
        }
    }

    // MARK: Audit logs

    private enum AuditMapping {
        case resetRequest
        case resetComplete
        case sensitive(SensitiveAction)
    }

    /// `activityDisplayName` values Vigil reads. A self-service reset's progress records are requests only
    /// when the user starts the flow or names the account (`resultReason`); the rest are skipped.
    private static let activities: [String: AuditMapping] = [
        "Reset password (self-service)": .resetComplete, "Reset user password": .resetComplete,
        "Change password (self-service)": .resetComplete, "Change user password": .resetComplete,
        "User registered security info": .sensitive(.other("mfa_enroll")),
        "Admin registered security info": .sensitive(.other("mfa_enroll")),
        "User deleted security info": .sensitive(.mfaReset), "Admin deleted security info": .sensitive(.mfaReset),
    ]
    private static let progress = "Self-service password reset flow activity progress"

    private static func audit(
        _ record: RecordFields, _ properties: RecordFields, _ id: String
    ) throws(DecodeFailure) -> DecodedRecord {
        var activity = try properties.string("activityDisplayName", 1...256)
        if activity == nil { activity = try record.string("operationName", 1...256) }
        let mapping: AuditMapping
        if let activity, let known = activities[activity] {
            mapping = known
        } else if let activity, activity == progress {
            let reason = try properties.string("resultReason", FieldLimits.freeText) ?? ""
            guard reason.hasPrefix("User started") || reason.hasPrefix("User submitted their user ID") else {
                return .skipped(eventType: "AuditLogs:\(activity)")
            }
            mapping = .resetRequest
        } else {
            return .skipped(eventType: activity.map { "AuditLogs:\($0)" } ?? "AuditLogs")
        }
        let initiator = try properties.object("initiatedBy")?.object("user")
        var account = initiator
        for resource in try properties.objects("targetResources") where try resource.string("type", 1...64) == "User" {
            account = resource
            break
        }
        guard let account else {
            throw properties.failure(
                .missingField, "targetResources", "no entra.properties.targetResources[] of type User names the account"
            )
        }
        var event = AuthEvent(
            eventID: id, type: .passwordResetRequest, time: try time(properties, "activityDateTime", record),
            tenant: try record.string("tenantId", FieldLimits.identifier), user: try user(account, id: "id"),
            ip: try initiator.flatMap { user throws(DecodeFailure) in try address(user, "ipAddress", nil) },
            correlationID: try correlation(properties, record).map { InputText($0) })
        let failed = try properties.string("result", 1...64).map { $0 == "failure" || $0 == "timeout" } ?? false
        switch mapping {
        case .resetRequest: break
        case .resetComplete: event.recast(as: .passwordResetComplete, outcome: failed ? .failure : .success)
        case .sensitive(let action): event.recast(as: .sensitiveAction, action: action)
        }
        if event.type != .sensitiveAction, event.ip == nil {
            throw properties.failure(
                .missingField, "initiatedBy",
                "required field entra.properties.initiatedBy.user.ipAddress is missing or empty")
        }
        return .event(event)
    }

    // MARK: Shared fields

    /// The time in `properties.name`, else the record's `time`.
    private static func time(
        _ properties: RecordFields, _ name: String, _ record: RecordFields
    ) throws(DecodeFailure) -> Timestamp {
        var (source, field) = (properties, name)
        var text = try properties.string(name, 1...64)
        if text == nil {
            (source, field) = (record, "time")
            text = try record.string(field, 1...64)
        }
        guard let text else {
            throw properties.failure(
                .missingField, name, "required field \(properties.fieldPath(name)) (or entra.time) is missing or null")
        }
        guard let time = Timestamp(rfc3339: text) else {
            throw source.failure(
                .invalidTime, field, "\(source.fieldPath(field)) must be an ISO 8601 time with an offset")
        }
        return time
    }

    /// The address in `name`, else the record's `callerIpAddress`; an empty string is absent.
    private static func address(
        _ fields: RecordFields, _ name: String, _ record: RecordFields?
    ) throws(DecodeFailure) -> IPAddress? {
        if let text = try fields.string(name, 0...64), !text.isEmpty { return try fields.ip(name) }
        guard let record, let text = try record.string("callerIpAddress", 0...64), !text.isEmpty else { return nil }
        return try record.ip("callerIpAddress")
    }

    /// `properties.correlationId`, else the record's.
    private static func correlation(_ properties: RecordFields, _ record: RecordFields) throws(DecodeFailure) -> String?
    {
        if let id = try properties.string("correlationId", FieldLimits.identifier) { return id }
        return try record.string("correlationId", FieldLimits.identifier)
    }
}
