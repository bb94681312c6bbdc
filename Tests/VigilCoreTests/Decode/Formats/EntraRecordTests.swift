import Testing
import VigilTestSupport

@testable import VigilCore

/// Microsoft Entra ID records as diagnostic settings stream them to an Event Hub (fixtures of our own
/// following the Azure Monitor record shape and Microsoft Graph's `signIn` and `directoryAudit` resources;
/// see README.md here), mapped field by field into the canonical events, and batches (`{"records": [...]}`)
/// whose bad record fails alone.
@Suite struct EntraRecordTests {
    let decoding = FormatDecoding(.entra)

    static let password =
        #"{"authenticationMethod":"Password","succeeded":true,"authenticationStepDateTime":"2026-03-02T09:00:00.1234567Z"}"#

    /// A `SignInLogs` record with `status`, `steps` (`authenticationDetails`) and `extra` properties.
    static func signIn(
        status: String = #"{"errorCode":0}"#, steps: String = "[\(password)]", extra: String = "",
        userID: String = #""0f3c1e7a-5b2d-4c8e-9a61-2d7f4b9e0c13""#, category: String = "SignInLogs"
    ) -> String {
        """
        {"time":"2026-03-02T09:00:01.5000000Z","resourceId":"/tenants/7d1c6f0e-2a9b-4e55-8c1d-3b6a9f2e4d70/providers/Microsoft.aadiam",\
        "operationName":"Sign-in activity","operationVersion":"1.0","category":"\(category)",\
        "tenantId":"7d1c6f0e-2a9b-4e55-8c1d-3b6a9f2e4d70","resultType":"0","resultSignature":"None","durationMs":"0",\
        "callerIpAddress":"81.2.69.142","correlationId":"5e0b8d2c-1f4a-4b7e-8c3d-9a2e6f1b7c40","identity":"Ann Lee",\
        "Level":4,"location":"GB","properties":{"id":"c6b1e2f4-7a3d-4e9b-8f10-2d5c9a7b3e61",\
        "createdDateTime":"2026-03-02T04:00:00.1234567-05:00","userDisplayName":"Ann Lee",\
        "userPrincipalName":"Ann.Lee@Contoso.COM","userId":\(userID),"appDisplayName":"Office 365",\
        "ipAddress":"81.2.69.142","clientAppUsed":"Browser","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64)",\
        "correlationId":"5e0b8d2c-1f4a-4b7e-8c3d-9a2e6f1b7c40","sessionId":"8a2f6c1d-3e7b-4d9a-b5c0-1e4f7a2d9b36",\
        "conditionalAccessStatus":"success","isInteractive":true,"status":\(status),\
        "deviceDetail":{"deviceId":"6e2a9c4f-1b7d-4f3e-a8c5-0d9b2e7f4a13","displayName":"ANN-LAPTOP",\
        "operatingSystem":"Windows10","browser":"Edge 120.0.2210","isCompliant":true,"isManaged":true,\
        "trustType":"Azure AD joined"},"location":{"city":"London","countryOrRegion":"GB"},\
        "authenticationDetails":\(steps),"authenticationRequirement":"multiFactorAuthentication"\(extra)}}
        """
    }

    /// An `AuditLogs` record of `activity` with `result`, `reason` and the initiator's `ip`.
    static func audit(
        _ activity: String, result: String = "success", reason: String = "", ip: String = "81.2.69.142"
    )
        -> String
    {
        """
        {"time":"2026-03-02T09:05:00.0000000Z","category":"AuditLogs","operationName":"\(activity)",\
        "tenantId":"7d1c6f0e-2a9b-4e55-8c1d-3b6a9f2e4d70","resultSignature":"None","Level":"4","durationMs":0,\
        "correlationId":"2b9e4f7a-6c1d-4a3e-9f5b-8d0c2e7a1b64","properties":{"id":"SSGM_4f8e2a9c-1d7b-4e3f-a6c0",\
        "category":"UserManagement","correlationId":"2b9e4f7a-6c1d-4a3e-9f5b-8d0c2e7a1b64","result":"\(result)",\
        "resultReason":"\(reason)","activityDisplayName":"\(activity)","activityDateTime":"2026-03-02T09:05:00.2500000Z",\
        "loggedByService":"Self-service Password Management","operationType":"Update",\
        "initiatedBy":{"user":{"id":"0f3c1e7a-5b2d-4c8e-9a61-2d7f4b9e0c13","userPrincipalName":"Ann.Lee@Contoso.COM",\
        "ipAddress":"\(ip)"}},"targetResources":[{"id":"0f3c1e7a-5b2d-4c8e-9a61-2d7f4b9e0c13","type":"User",\
        "userPrincipalName":"Ann.Lee@Contoso.COM","modifiedProperties":[]}]}}
        """
    }

    static func step(
        _ method: String, succeeded: String, detail: String, at time: String = "09:00:30.0000000"
    )
        -> String
    {
        """
        {"authenticationStepDateTime":"2026-03-02T\(time)Z","authenticationMethod":"\(method)",\
        "authenticationMethodDetail":"","succeeded":\(succeeded),"authenticationStepResultDetail":"\(detail)",\
        "authenticationStepRequirement":"Primary authentication"}
        """
    }

    @Test func anInteractiveSignInMapsFieldByField() throws {
        let events = try decoding.events(Self.signIn())
        #expect(events.count == 1)
        let event = try #require(events.first)
        #expect(event.eventID == "c6b1e2f4-7a3d-4e9b-8f10-2d5c9a7b3e61")
        #expect(event.type == .login)
        #expect(event.outcome == .success)
        // createdDateTime: seven fraction digits and a −05:00 offset.
        #expect(event.time == Timestamp(rfc3339: "2026-03-02T09:00:00.123456Z"))
        #expect(event.tenant == "7d1c6f0e-2a9b-4e55-8c1d-3b6a9f2e4d70")
        #expect(event.user.id == "0f3c1e7a-5b2d-4c8e-9a61-2d7f4b9e0c13")
        #expect(event.user.emailDomain == "contoso.com")
        #expect(event.user.email?.lowercased().hasSuffix("@contoso.com") == true)
        #expect(event.ip == IPAddress("81.2.69.142"))
        #expect(event.device?.id == "6e2a9c4f-1b7d-4f3e-a8c5-0d9b2e7f4a13")
        #expect(event.device?.managed == true)
        // A registered device id names the machine: no user agent is kept with it.
        #expect(event.device?.userAgent == nil)
        #expect(event.sessionID == InputText("8a2f6c1d-3e7b-4d9a-b5c0-1e4f7a2d9b36"))
        #expect(event.correlationID == InputText("5e0b8d2c-1f4a-4b7e-8c3d-9a2e6f1b7c40"))
        #expect(event.idpRisk == nil)
        #expect(!event.credentialCompromised)
    }

    @Test func anUnregisteredDeviceIsItsBrowserFamilyAndSystem() throws {
        let record = Self.signIn().replacingOccurrences(
            of: #""deviceId":"6e2a9c4f-1b7d-4f3e-a8c5-0d9b2e7f4a13""#, with: #""deviceId":"""#)
        let event = try #require(try decoding.events(record).first)
        // The version is left out: a browser update is not a new device.
        #expect(event.device?.id == "entra-agent:Edge|Windows10")
    }

    @Test func aDeniedPushIsALoginAChallengeAndADenial() throws {
        let push = Self.step(
            "Mobile app notification", succeeded: "false", detail: "MFA denied; user declined the authentication")
        let events = try decoding.events(
            Self.signIn(status: #"{"errorCode":500121}"#, steps: "[\(Self.password),\(push)]"))
        #expect(events.map(\.type) == [.login, .mfaChallenge, .mfaResult])
        #expect(
            events.map(\.eventID) == [
                "c6b1e2f4-7a3d-4e9b-8f10-2d5c9a7b3e61", "c6b1e2f4-7a3d-4e9b-8f10-2d5c9a7b3e61.mfa1",
                "c6b1e2f4-7a3d-4e9b-8f10-2d5c9a7b3e61.mfa1.result",
            ])
        // The password was right (500121 is a failed second factor): the login succeeded.
        #expect(events[0].outcome == .success)
        #expect(events[1].mfa == MFA(factor: .push, challengeID: InputText("5e0b8d2c-1f4a-4b7e-8c3d-9a2e6f1b7c40")))
        #expect(events[2].mfa?.result == .denied)
        // The challenge goes out when the sign-in starts, the answer comes at its step's time.
        #expect(events[1].time == events[0].time)
        #expect(events[2].time == Timestamp(rfc3339: "2026-03-02T09:00:30Z"))
        #expect(events.allSatisfy { $0.user.id == events[0].user.id && $0.ip == events[0].ip })
    }

    @Test(arguments: [
        ("Mobile app notification", "true", "MFA successfully completed", MFAFactor.push, MFAResult.approved),
        (
            "Mobile app notification", "false", "MFA denied; user did not respond to mobile app notification", .push,
            .timeout
        ),
        ("Mobile app notification", "false", "MFA denied; user declined the authentication", .push, .denied),
        ("Mobile app notification", "false", "MFA denied; Fraud code entered", .push, .denied),
        ("Text message", "false", "Invalid verification code", .sms, .failed),
        ("OATH verification code", "true", "MFA successfully completed", .totp, .approved),
        ("Phone call approval (Authentication phone)", "false", "MFA denied; phone call not answered", .sms, .denied),
        ("FIDO2 security key", "true", "MFA successfully completed", .webauthn, .approved),
        ("Passkey (Microsoft Authenticator)", "true", "MFA successfully completed", .passkey, .approved),
    ])
    func eachStepsMethodAndDetailAreItsFactorAndResult(
        method: String, succeeded: String, detail: String, factor: MFAFactor, result: MFAResult
    ) throws {
        let step = Self.step(method, succeeded: succeeded, detail: detail)
        let events = try decoding.events(Self.signIn(steps: "[\(Self.password),\(step)]"))
        #expect(events.last?.mfa == MFA(factor: factor, result: result, challengeID: events[0].correlationID))
    }

    @Test func aStepUpInASessionHasNoLogin() throws {
        let satisfied = Self.step(
            "Previously satisfied", succeeded: "true", detail: "MFA requirement satisfied by claim")
        let push = Self.step(
            "Mobile app notification", succeeded: "false", detail: "MFA denied; user declined the authentication")
        let events = try decoding.events(Self.signIn(status: #"{"errorCode":500121}"#, steps: "[\(satisfied),\(push)]"))
        #expect(events.map(\.type) == [.mfaChallenge, .mfaResult])
        // A session reused from a new place is still a login (a replayed token looks like this).
        let reuse = try decoding.events(Self.signIn(steps: "[\(satisfied)]"))
        #expect(reuse.map(\.type) == [.login])
    }

    @Test func aStepWithoutAnAnswerIsAChallengeOnly() throws {
        let pending = #"{"authenticationMethod":"Mobile app notification","succeeded":null}"#
        let events = try decoding.events(Self.signIn(steps: "[\(Self.password),\(pending)]"))
        #expect(events.map(\.type) == [.login, .mfaChallenge])
    }

    @Test(arguments: [
        (
            #"{"errorCode":50126,"failureReason":"Invalid username or password or Invalid on-premise username or password."}"#,
            "50126: Invalid username or password or Invalid on-premise username or password."
        ),
        (#"{"errorCode":50053,"failureReason":"Account is locked"}"#, "50053: Account is locked"),
        (#"{"errorCode":"53003"}"#, "53003"),
    ])
    func aFailedSignInCarriesItsCodeAndReason(status: String, reason: String) throws {
        let event = try #require(try decoding.events(Self.signIn(status: status)).first)
        #expect(event.outcome == .failure)
        #expect(event.failureReason == InputText(reason))
        #expect(event.failureKind == (status.contains("50126") ? .invalidCredentials : .other))
    }

    @Test(arguments: [50140, 50074, 50076, 50079, 50158])
    func anInterruptIsAStepOfASignInAndIsSkipped(code: Int) throws {
        #expect(try decoding.skippedType(Self.signIn(status: #"{"errorCode":\#(code)}"#)) == "SignInLogs:\(code)")
    }

    @Test func theResultTypeStandsInForAMissingStatus() throws {
        let record = Self.signIn(status: "null").replacingOccurrences(
            of: #""resultType":"0""#, with: #""resultType":"50126""#)
        #expect(try decoding.events(record).first?.outcome == .failure)
        let neither = Self.signIn(status: "null").replacingOccurrences(of: #""resultType":"0","#, with: "")
        #expect(decoding.failure(neither)?.reasonCode == "missing_field:entra.properties.status")
    }

    /// A B2B guest's user principal name encodes its own address before `#EXT#`: the email domain is the
    /// guest's (a reset wave against a partner's accounts names the partner), not the inviting tenant's.
    @Test func aGuestsEmailDomainIsItsOwn() throws {
        let guest = Self.signIn().replacingOccurrences(
            of: #""userPrincipalName":"Ann.Lee@Contoso.COM""#,
            with: #""userPrincipalName":"ann.lee_partner.example#EXT#@contoso.onmicrosoft.com""#)
        let event = try #require(try decoding.events(guest).first)
        #expect(event.user.emailDomain == "partner.example")
        // The address stays the name Entra knows the guest by: what a receiver of its tokens looks up.
        #expect(event.user.email == User.emailAddress("ann.lee_partner.example#EXT#@contoso.onmicrosoft.com"))
        #expect(EntraRecord.homeAddress("no_underscore#EXT#x") == "no_underscore#EXT#x")
        #expect(EntraRecord.homeAddress("plain#EXT#@t.example") == "plain#EXT#@t.example")
    }

    @Test func aNameNoAccountMatchedIsTheUserPrincipalNameTyped() throws {
        for userID in [#""00000000-0000-0000-0000-000000000000""#, #""""#, "null"] {
            let event = try #require(
                try decoding.events(Self.signIn(status: #"{"errorCode":50034}"#, userID: userID)).first)
            #expect(event.user.id == "Ann.Lee@Contoso.COM")
            #expect(event.user.email == nil, "the id is the address")
            #expect(event.outcome == .failure)
            #expect(event.failureKind == .unknownUser)
        }
    }

    @Test(arguments: [
        (#","riskLevelDuringSignIn":"high","riskState":"atRisk""#, IdPRiskLevel?.some(.high)),
        (#","riskLevelDuringSignIn":"medium""#, .medium), (#","riskLevelDuringSignIn":"low""#, .low),
        (#","riskLevelDuringSignIn":"none""#, nil), (#","riskLevelDuringSignIn":"hidden""#, nil),
        (#","riskLevelDuringSignIn":"none","riskState":"confirmedCompromised""#, .high), ("", nil),
    ])
    func entrasRiskLevelIsTheIdPsRating(extra: String, level: IdPRiskLevel?) throws {
        #expect(try decoding.events(Self.signIn(extra: extra)).first?.idpRisk == level)
    }

    @Test func aLeakedCredentialsDetectionMarksTheCredentialCompromised() throws {
        let extra = #","riskEventTypes_v2":["unfamiliarFeatures","leakedCredentials"]"#
        #expect(try decoding.events(Self.signIn(extra: extra)).first?.credentialCompromised == true)
        // The array as JSON text, as some pipelines pass it on.
        let text = #","riskEventTypes_v2":"[\"leakedCredentials\"]""#
        #expect(try decoding.events(Self.signIn(extra: text)).first?.credentialCompromised == true)
        // Other detections, or a value that reads as neither, say nothing (and never dead-letter the sign-in).
        for other in [#","riskEventTypes_v2":["unlikelyTravel"]"#, #","riskEventTypes_v2":7"#, ""] {
            #expect(try decoding.events(Self.signIn(extra: other)).first?.credentialCompromised == false)
        }
    }

    @Test(arguments: [
        "NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs", "ManagedIdentitySignInLogs", "RiskyUsers",
    ])
    func categoriesVigilDoesNotReadAreSkippedByName(category: String) throws {
        #expect(try decoding.skippedType(Self.signIn(category: category)) == category)
    }

    @Test func aSelfServiceResetIsACompletedReset() throws {
        let event = try decoding.event(Self.audit("Reset password (self-service)"))
        #expect(event.type == .passwordResetComplete)
        #expect(event.outcome == .success)
        #expect(event.eventID == "SSGM_4f8e2a9c-1d7b-4e3f-a6c0")
        #expect(event.time == Timestamp(rfc3339: "2026-03-02T09:05:00.25Z"))
        #expect(event.user.id == "0f3c1e7a-5b2d-4c8e-9a61-2d7f4b9e0c13")
        #expect(event.user.emailDomain == "contoso.com")
        #expect(event.ip == IPAddress("81.2.69.142"))
        #expect(event.correlationID == InputText("2b9e4f7a-6c1d-4a3e-9f5b-8d0c2e7a1b64"))
        #expect(try decoding.event(Self.audit("Reset password (self-service)", result: "failure")).outcome == .failure)
    }

    @Test func aResetFlowStartedOrNamingTheAccountIsARequest() throws {
        let activity = "Self-service password reset flow activity progress"
        for reason in ["User submitted their user ID", "User started the mobile-only password reset flow"] {
            #expect(try decoding.event(Self.audit(activity, reason: reason)).type == .passwordResetRequest)
        }
        #expect(
            try decoding.skippedType(Self.audit(activity, reason: "User verified with email"))
                == "AuditLogs:\(activity)")
    }

    @Test func securityInfoChangesAreSensitiveActionsWithoutAnAddress() throws {
        #expect(try decoding.event(Self.audit("User registered security info", ip: "")).action == .other("mfa_enroll"))
        #expect(try decoding.event(Self.audit("User deleted security info")).action == .mfaReset)
        #expect(try decoding.skippedType(Self.audit("Add member to group")) == "AuditLogs:Add member to group")
        // A reset names where it came from.
        #expect(
            decoding.failure(Self.audit("Reset password (self-service)", ip: ""))?.reasonCode
                == "missing_field:entra.properties.initiatedBy")
    }

    @Test(arguments: [
        (#"{"category":"SignInLogs","properties":{"userId":"x"}}"#, "missing_field:entra.properties.id"),
        (#"{"properties":{"id":"x"}}"#, "missing_field:entra.category"),
        (#"{"category":"SignInLogs"}"#, "missing_field:entra.properties"),
        (
            #"{"category":"SignInLogs","properties":{"id":"x","status":{"errorCode":0},"createdDateTime":"2026-03-02T09:00:00Z","ipAddress":"1.2.3.4"}}"#,
            "missing_field:entra.properties.userId"
        ),
        (
            #"{"category":"SignInLogs","properties":{"id":"x","status":{"errorCode":"zero"}}}"#,
            "invalid_type:entra.properties.status.errorCode"
        ),
        (
            #"{"category":"SignInLogs","properties":{"id":"x","status":{"errorCode":0},"userId":"u","createdDateTime":"2026-03-02","ipAddress":"1.2.3.4"}}"#,
            "invalid_time"
        ),
        (
            #"{"category":"SignInLogs","properties":{"id":"x","status":{"errorCode":0},"userId":"u","createdDateTime":"2026-03-02T09:00:00Z","ipAddress":"1.2.3.400"}}"#,
            "invalid_ip"
        ),
        (
            #"{"category":"SignInLogs","properties":{"id":"x","status":{"errorCode":0},"userId":"u","createdDateTime":"2026-03-02T09:00:00Z"}}"#,
            "missing_field:entra.properties.ipAddress"
        ),
        (
            #"{"category":"SignInLogs","properties":{"id":"x","status":{"errorCode":0},"userId":"u","createdDateTime":"2026-03-02T09:00:00Z","ipAddress":"1.2.3.4","authenticationDetails":[1]}}"#,
            "invalid_type:entra.properties.authenticationDetails"
        ),
    ])
    func aRecordThatIsNotASignInSaysWhichField(record: String, reason: String) {
        #expect(decoding.failure(record)?.reasonCode == reason)
    }

    @Test func theFailureOfAMappedRecordCarriesItsID() {
        let failure = decoding.failure(
            Self.signIn().replacingOccurrences(of: #""ipAddress":"81.2.69.142","#, with: "")
                .replacingOccurrences(of: #""callerIpAddress":"81.2.69.142","#, with: ""))
        #expect(failure?.reasonCode == "missing_field:entra.properties.ipAddress")
        #expect(failure?.eventID == "c6b1e2f4-7a3d-4e9b-8f10-2d5c9a7b3e61")
    }

    // MARK: Batches

    /// `decodeMessage` over `json`.
    func message(_ json: String, limits: InputSettings = InputSettings()) throws -> [RecordDecoder.MessageRecord] {
        try Array(json.utf8).withUnsafeBytes { try RecordDecoder(format: .entra, limits: limits).decodeMessage($0) }
    }

    @Test func aBatchsBadRecordFailsAloneWithItsOwnBytes() throws {
        let broken = #"{"category":"SignInLogs","properties":{"id":"broken"}}"#
        let batch =
            #"{"records": [ "# + Self.signIn() + ", " + broken + ",\n" + Self.audit("Reset password (self-service)")
            + "]}"
        let read = try #require(try decoding.eventFailureEvent(batch))
        #expect(read.failed == broken)
        #expect(read.lastText == Self.audit("Reset password (self-service)"))
        #expect(read.first.type == .login)
        #expect(read.failure.reasonCode == "missing_field:entra.properties.status")
        #expect(read.failure.eventID == "broken")
        #expect(read.last.type == .passwordResetComplete)
    }

    @Test func aRecordAloneIsOneRecordOfTheWholeMessage() throws {
        let records = try message(Self.signIn())
        #expect(records.count == 1)
        #expect(records.first?.batchIndex == nil)
        #expect(records.first?.bytes == 0..<Self.signIn().utf8.count)
    }

    @Test func theBatchIsBoundedByMaxBatchBytesAndEachRecordByMaxEventBytes() throws {
        var limits = InputSettings()
        limits.maxEventBytes = 2048
        limits.maxBatchBytes = 8192
        let big = Self.signIn(extra: #","note":""# + String(repeating: "x", count: 2048) + #"""#)
        let records = try message(#"{"records":["# + Self.signIn() + "," + big + "]}", limits: limits)
        guard case .success = records[0].result, case .failure(let failure) = records[1].result else {
            Issue.record("\(records.map(\.result))")
            return
        }
        #expect(failure.kind == .tooLarge)
        // A whole batch beyond its bound is refused before parsing; a record alone is held to the record's.
        let many = #"{"records":["# + Array(repeating: Self.signIn(), count: 6).joined(separator: ",") + "]}"
        #expect(throws: DecodeFailure.self) { try message(many, limits: limits) }
        #expect(throws: DecodeFailure.self) { try message(big, limits: limits) }
        #expect(throws: DecodeFailure.self) { try message(#"{"records":[{"#, limits: limits) }
    }

    @Test func anEmptyBatchHasNoRecords() throws {
        #expect(try message(#"{"records":[]}"#).isEmpty)
        let notObjects = try message(#"{"records":[1]}"#)
        guard case .failure(let failure) = notObjects.first?.result else {
            Issue.record("a number was mapped")
            return
        }
        #expect(failure.kind == .notAnObject)
    }
}

/// `InputFormat.detect`: a record's shape names its format when only one format's does.
@Suite struct InputFormatDetectionTests {
    static func detect(_ json: String) -> InputFormat? {
        Array(json.utf8).withUnsafeBytes { InputFormat.detect($0) }
    }

    @Test func eachFormatsRecordNamesItsFormat() {
        #expect(Self.detect(EventLines.login(id: "a", time: "2026-03-02T09:00:00Z", user: "u")) == .vigil)
        #expect(Self.detect(OktaRecordTests.record("user.session.start")) == .okta)
        #expect(Self.detect(#"{"log_id":"9001","data":{"type":"s","date":"2026-03-02T09:00:00.000Z"}}"#) == .auth0)
        #expect(Self.detect(#"{"detail":{"log_id":"9001","data":{"type":"s"}}}"#) == .auth0)
        #expect(Self.detect(#"{"id":"k1","time":1772442000000,"type":"LOGIN","realmId":"acme"}"#) == .keycloak)
        #expect(Self.detect(#"{"records":[]}"#) == .entra)
        #expect(Self.detect(EntraRecordTests.signIn()) == .entra)
    }

    @Test func anAmbiguousOrUnknownShapeNamesNone() {
        // Vigil's members and Okta's in one object.
        #expect(Self.detect(#"{"event_id":"a","type":"login","uuid":"b","eventType":"user.session.start"}"#) == nil)
        #expect(Self.detect(#"{"hello":"world"}"#) == nil)
        #expect(Self.detect("[1,2]") == nil)
        #expect(Self.detect("not json") == nil)
        #expect(Array([0xff, 0xfe]).withUnsafeBytes { InputFormat.detect($0) } == nil)
    }
}
