import Testing

@testable import VigilCore

/// Auth0 tenant log events as log streams deliver them (fixtures of our own following Auth0's log event
/// documentation and type codes; see README.md here), mapped field by field into the canonical event.
@Suite struct Auth0RecordTests {
    let decoding = FormatDecoding(.auth0)

    /// A record with `type` and `details`, in a log stream's envelope.
    static func record(
        _ type: String, details: String = "{}", user: String = #""user_id":"auth0|64f1","user_name":"bo@Example.org""#
    ) -> String {
        """
        {"log_id":"90020260302090000123456789","data":{"date":"2026-03-02T09:00:00.123Z","type":"\(type)",\
        "description":"","tenant_name":"acme","client_id":"AaiyAPdpYdesoKnqjj8HJqRn4T5titww","client_name":"Portal",\
        "ip":"2001:db8:1::5","user_agent":"Chrome 120.0.0 / Mac OS X 14.2.0",\(user),"details":\(details)}}
        """
    }

    @Test func aSuccessfulLoginMapsFieldByField() throws {
        let event = try decoding.event(Self.record("s", details: #"{"session_id":"sess-1"}"#))
        #expect(event.eventID == "90020260302090000123456789")
        #expect(event.type == .login)
        #expect(event.outcome == .success)
        #expect(event.time == Timestamp(rfc3339: "2026-03-02T09:00:00.123Z"))
        #expect(event.tenant == "acme")
        #expect(event.user.id == "auth0|64f1")
        #expect(event.user.emailDomain == "example.org")
        #expect(event.ip == IPAddress("2001:db8:1::5"))
        #expect(event.device?.id == "client:AaiyAPdpYdesoKnqjj8HJqRn4T5titww")
        #expect(event.device?.userAgent == InputText("Chrome 120.0.0 / Mac OS X 14.2.0"))
        #expect(event.sessionID == InputText("sess-1"))
        #expect(event.mfa == nil)
    }

    @Test func aFailureForAnUnknownAccountIsKeyedByTheTypedName() throws {
        let event = try decoding.event(Self.record("fu", user: #""user_id":"","user_name":"ghost@example.org""#))
        #expect(event.outcome == .failure)
        #expect(event.user.id == "ghost@example.org")
        #expect(event.failureReason == InputText("fu: "))
        #expect(event.failureKind == .unknownUser)
    }

    @Test(arguments: [
        ("fu", FailureKind?.some(.unknownUser)), ("fp", .invalidCredentials), ("f", .other), ("s", nil),
        ("scpr", nil),
    ])
    func theTypeCodeIsTheFailuresKind(code: String, kind: FailureKind?) throws {
        #expect(try decoding.event(Self.record(code)).failureKind == kind)
    }

    @Test func aGuardianDeviceIdIsTheDevice() throws {
        let event = try decoding.event(Self.record("gd_send_pn", details: #"{"device_id":"dev_PHONE1"}"#))
        #expect(event.type == .mfaChallenge)
        #expect(event.mfa == MFA(factor: .push))
        #expect(event.device?.id == "dev_PHONE1")
    }

    @Test(arguments: [
        ("gd_auth_rejected", "{}", MFAFactor.push, MFAResult.denied),
        ("gd_auth_succeed", #"{"authenticator":{"type":"push"}}"#, .push, .approved),
        ("gd_auth_succeed", "{}", .totp, .approved),
        ("gd_auth_failed", #"{"authenticator":{"type":"sms"}}"#, .sms, .failed),
        ("gd_recovery_failed", "{}", .recoveryCode, .failed),
        ("gd_webauthn_challenge_failed", "{}", .webauthn, .failed),
    ])
    func mfaAnswersMapToResultsWithTheirFactor(
        code: String, details: String, factor: MFAFactor, result: MFAResult
    )
        throws
    {
        let event = try decoding.event(Self.record(code, details: details))
        #expect(event.type == .mfaResult)
        #expect(event.mfa == MFA(factor: factor, result: result))
    }

    @Test(arguments: [
        ("scpr", EventType.passwordResetRequest, nil as Outcome?), ("fcpr", .passwordResetRequest, nil),
        ("scp", .passwordResetComplete, .success), ("fcp", .passwordResetComplete, .failure),
        ("fp", .login, .failure), ("f", .login, .failure), ("scoa", .login, .success),
    ])
    func typeCodesCarryTheOutcome(code: String, type: EventType, outcome: Outcome?) throws {
        let event = try decoding.event(Self.record(code))
        #expect(event.type == type)
        #expect(event.outcome == outcome)
    }

    /// Adaptive MFA's confidence is in the user: low confidence is a high risk.
    @Test(arguments: [
        (#"{"riskAssessment":{"confidence":"low","version":"1","assessments":{}}}"#, IdPRiskLevel?.some(.high)),
        (#"{"riskAssessment":{"confidence":"medium"}}"#, .medium), (#"{"riskAssessment":{"confidence":"high"}}"#, .low),
        (#"{"riskAssessment":{"confidence":"neutral"}}"#, nil), (#"{"riskAssessment":null}"#, nil), ("{}", nil),
    ])
    func adaptiveMFAConfidenceIsTheIdPsRating(details: String, level: IdPRiskLevel?) throws {
        #expect(try decoding.event(Self.record("s", details: details)).idpRisk == level)
    }

    @Test func aBreachedPasswordIsAFailedLoginWithACompromisedCredential() throws {
        let event = try decoding.event(Self.record("pwd_leak"))
        #expect(event.type == .login)
        #expect(event.outcome == .failure)
        #expect(event.credentialCompromised)
    }

    @Test func theEventBridgeEnvelopeAndTheManagementAPIFormAreRead() throws {
        let bridged = try decoding.event(#"{"version":"0","detail":\#(Self.record("s"))}"#)
        #expect(bridged.eventID == "90020260302090000123456789")
        let api = try decoding.event(
            #"{"log_id":"api-1","date":"2026-03-02T09:00:00Z","type":"s","user_id":"auth0|1","ip":"81.2.69.142"}"#)
        #expect(api.eventID == "api-1")
        #expect(api.device == nil)
    }

    @Test(arguments: ["seacft", "sapi", "limit_wc", "gd_start_auth", "ss", "w"])
    func otherCodesAreSkipped(code: String) throws {
        guard case .skipped(let type) = try decoding.mapped(#"{"log_id":"x","data":{"type":"\#(code)"}}"#) else {
            Issue.record("\(code) was mapped")
            return
        }
        #expect(type == code)
    }

    @Test(arguments: [
        (
            #"{"data":{"date":"2026-03-02T09:00:00Z","type":"s","user_id":"u","ip":"81.2.69.142"}}"#,
            "missing_field:auth0.log_id"
        ),
        (#"{"log_id":"x","data":{"type":"s","user_id":"u","ip":"81.2.69.142"}}"#, "missing_field:auth0.data.date"),
        (#"{"log_id":"x","data":{"date":"yesterday","type":"s","user_id":"u","ip":"81.2.69.142"}}"#, "invalid_time"),
        (
            #"{"log_id":"x","data":{"date":"2026-03-02T09:00:00Z","type":"s","ip":"81.2.69.142"}}"#,
            "missing_field:auth0.data.user_id"
        ),
        (
            #"{"log_id":"x","data":{"date":"2026-03-02T09:00:00Z","type":"s","user_id":"u"}}"#,
            "missing_field:auth0.data.ip"
        ),
        (#"{"log_id":"x","data":{"date":"2026-03-02T09:00:00Z","type":"s","user_id":"u","ip":"n/a"}}"#, "invalid_ip"),
        (#"{"log_id":"x","data":"s"}"#, "invalid_type:auth0.data"),
        (
            #"{"log_id":"x","data":{"date":"2026-03-02T09:00:00Z","type":"gd_auth_succeed","user_id":"u","ip":"81.2.69.142","details":{"authenticator":7}}}"#,
            "invalid_type:auth0.data.details.authenticator"
        ),
    ])
    func badRecordsAreRefusedNamingTheFormatAndField(json: String, reason: String) {
        let refusal = decoding.failure(json)
        #expect(refusal?.reasonCode == reason, "\(refusal?.detail ?? "accepted")")
    }
}
