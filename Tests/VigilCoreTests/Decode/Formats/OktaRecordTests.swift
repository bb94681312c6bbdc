import Testing

@testable import VigilCore

/// Okta System Log events (fixtures of our own following the LogEvent object and the event type catalogue;
/// see README.md here), mapped field by field into the canonical event, Identity Engine and Classic forms.
@Suite struct OktaRecordTests {
    let decoding = FormatDecoding(.okta)

    /// A LogEvent of `eventType` by user 00u1 with `outcome`, `debugData` and `client`.
    static func record(
        _ eventType: String, outcome: String = #"{"result":"SUCCESS","reason":null}"#, debugData: String = "{}",
        client: String = #"{"ipAddress":"81.2.69.142","userAgent":{"rawUserAgent":"Mozilla/5.0 (Windows NT 10.0)"}}"#,
        actor: String = #"{"id":"00u1abcd","type":"User","alternateId":"Ann.Lee@Example.COM","displayName":"Ann Lee"}"#,
        target: String = "null"
    ) -> String {
        """
        {"uuid":"3f5d2a10-a9c4-11ee-9d35-6b1a2f0e4c11","published":"2026-03-02T09:00:00.123Z","eventType":"\(eventType)",\
        "version":"0","severity":"INFO","actor":\(actor),"client":\(client),"outcome":\(outcome),"target":\(target),\
        "authenticationContext":{"externalSessionId":"102abcSESSION"},"transaction":{"type":"WEB","id":"Zx9TRANSACTION"},\
        "debugContext":{"debugData":\(debugData)},"request":{"ipChain":[{"ip":"81.2.69.142","version":"V4"}]}}
        """
    }

    @Test func aSessionStartMapsFieldByField() throws {
        let event = try decoding.event(
            Self.record(
                "user.session.start",
                debugData: #"{"deviceFingerprint":"fp-77","dtHash":"dt-1","behaviors":"{New Device=POSITIVE}"}"#))
        #expect(event.eventID == "3f5d2a10-a9c4-11ee-9d35-6b1a2f0e4c11")
        #expect(event.type == .login)
        #expect(event.outcome == .success)
        #expect(event.time == Timestamp(rfc3339: "2026-03-02T09:00:00.123Z"))
        #expect(event.tenant == nil)
        #expect(event.user.id == "00u1abcd")
        #expect(event.user.emailDomain == "example.com")
        // The login beside the opaque id: how the Shared Signals name the user to Okta.
        #expect(event.user.email?.lowercased().hasSuffix("@example.com") == true)
        #expect(event.ip == IPAddress("81.2.69.142"))
        #expect(event.device?.id == "fp-77")
        #expect(event.device?.userAgent == InputText("Mozilla/5.0 (Windows NT 10.0)"))
        #expect(event.sessionID == InputText("102abcSESSION"))
        #expect(event.correlationID == InputText("Zx9TRANSACTION"))
    }

    @Test func aFailedSessionStartCarriesTheReason() throws {
        let event = try decoding.event(
            Self.record("user.session.start", outcome: #"{"result":"FAILURE","reason":"VERIFICATION_ERROR"}"#))
        #expect(event.outcome == .failure)
        #expect(event.failureReason == InputText("VERIFICATION_ERROR"))
    }

    @Test(arguments: [
        (#"{"risk":"{reasons=Anomalous Device, Anomalous Location, level=HIGH}"}"#, IdPRiskLevel?.some(.high)),
        (#"{"risk":"{level=MEDIUM, reasons=New Geo-Location}"}"#, .medium),
        (#"{"risk":"{level=LOW}"}"#, .low),
        (#"{"logOnlySecurityData":"{\"risk\":{\"level\":\"HIGH\",\"reasons\":\"Anomalous Device\"}}"}"#, .high),
        (#"{"risk":"{reasons=none}"}"#, nil), (#"{"logOnlySecurityData":"not json"}"#, nil), ("{}", nil),
        (#"{"risk":"{level=LOW}","threatSuspected":"true"}"#, .high), (#"{"threatSuspected":"false"}"#, nil),
    ])
    func oktasRiskLevelIsTheIdPsRating(debugData: String, level: IdPRiskLevel?) throws {
        #expect(try decoding.event(Self.record("user.session.start", debugData: debugData)).idpRisk == level)
    }

    @Test func theDeviceTokenHashStandsInForAFingerprint() throws {
        let event = try decoding.event(Self.record("user.session.start", debugData: #"{"dtHash":"dt-1"}"#))
        #expect(event.device?.id == "dt-1")
    }

    @Test func aChallengeIsNotAnOutcomeAndIsSkipped() throws {
        guard
            case .skipped(let type) = try decoding.mapped(
                Self.record("user.session.start", outcome: #"{"result":"CHALLENGE"}"#))
        else {
            Issue.record("a CHALLENGE was mapped")
            return
        }
        #expect(type == "user.session.start:CHALLENGE")
    }

    @Test(arguments: [
        // Identity Engine: one event type, the answer in the outcome.
        (
            "user.authentication.auth_via_mfa", #"{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}"#,
            "OKTA_VERIFY_PUSH", MFAFactor.push, MFAResult.denied
        ),
        ("user.authentication.auth_via_mfa", #"{"result":"SUCCESS"}"#, "OKTA_VERIFY_PUSH", .push, .approved),
        (
            "user.authentication.auth_via_mfa", #"{"result":"FAILURE","reason":"VERIFICATION_ERROR"}"#,
            "OKTA_VERIFY_PUSH", .push, .failed
        ),
        (
            "user.authentication.auth_via_mfa", #"{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}"#,
            "OKTA_VERIFY_TOTP", .totp, .failed
        ),
        ("user.authentication.auth_via_mfa", #"{"result":"SUCCESS"}"#, "FIDO_WEBAUTHN", .webauthn, .approved),
        // Classic: the denial is its own type.
        (
            "user.mfa.okta_verify.deny_push", #"{"result":"FAILURE","reason":"User rejected Okta push verify"}"#,
            "OKTA_VERIFY_PUSH", .push, .denied
        ),
        ("user.mfa.okta_verify", #"{"result":"SUCCESS"}"#, "OKTA_VERIFY_PUSH", .push, .approved),
    ])
    func mfaAnswersInBothForms(
        eventType: String, outcome: String, factor: String, mapped: MFAFactor, result: MFAResult
    )
        throws
    {
        let event = try decoding.event(
            Self.record(eventType, outcome: outcome, debugData: #"{"factor":"\#(factor)"}"#))
        #expect(event.type == .mfaResult)
        #expect(event.mfa == MFA(factor: mapped, result: result))
    }

    /// A factor Okta names but Vigil does not list (a hardware token) is no MFA step Vigil reads: its
    /// wrong codes are not denied pushes. An absent factor stays a push (Classic's results carry none).
    @Test func anUnlistedFactorIsSkippedAndAnAbsentOneIsAPush() throws {
        let failure = #"{"result":"FAILURE","reason":"INVALID_CREDENTIALS"}"#
        for outcome in [failure, #"{"result":"SUCCESS"}"#] {
            let record = Self.record(
                "user.authentication.auth_via_mfa", outcome: outcome, debugData: #"{"factor":"YUBIKEY_TOKEN"}"#)
            guard case .skipped(let type) = try decoding.mapped(record) else {
                Issue.record("an unlisted factor was mapped: \(outcome)")
                continue
            }
            #expect(type == "user.authentication.auth_via_mfa:unlisted_factor")
        }
        let absent = try decoding.event(Self.record("user.authentication.auth_via_mfa", outcome: failure))
        #expect(absent.mfa == MFA(factor: .push, result: .denied))
    }

    @Test func aPushSentBySystemIsAboutItsTargetUser() throws {
        let event = try decoding.event(
            Self.record(
                "system.push.send_factor_verify_push",
                actor: #"{"id":"0oa1","type":"PublicClientApp","alternateId":"Okta System"}"#,
                target: #"[{"id":"dev1","type":"Device"},{"id":"00u9","type":"User","alternateId":"bo@example.org"}]"#))
        #expect(event.type == .mfaChallenge)
        #expect(event.mfa == MFA(factor: .push))
        #expect(event.user.id == "00u9")
        #expect(event.user.emailDomain == "example.org")
    }

    @Test func anAdminResetIsAboutTheTargetNotTheAdmin() throws {
        let event = try decoding.event(
            Self.record(
                "user.account.reset_password",
                actor: #"{"id":"00uADMIN","type":"User","alternateId":"admin@example.org"}"#,
                target: #"[{"id":"00uVICTIM","type":"User","alternateId":"victim@example.org"}]"#))
        #expect(event.type == .passwordResetComplete)
        #expect(event.outcome == .success)
        #expect(event.user.id == "00uVICTIM")
    }

    @Test func theStringNullIsNoAddressAndTheChainStandsIn() throws {
        let event = try decoding.event(Self.record("user.session.start", client: #"{"ipAddress":"null"}"#))
        #expect(event.ip == IPAddress("81.2.69.142"))
    }

    @Test(arguments: [
        ("system.email.password_reset.sent_message", EventType.passwordResetRequest),
        ("system.sms.send_password_reset_message", .passwordResetRequest),
        ("user.account.update_password", .passwordResetComplete),
        ("user.mfa.factor.deactivate", .sensitiveAction), ("user.mfa.factor.reset_all", .sensitiveAction),
        ("user.mfa.factor.activate", .sensitiveAction),
    ])
    func eventTypesMap(eventType: String, type: EventType) throws {
        #expect(try decoding.event(Self.record(eventType)).type == type)
    }

    @Test(arguments: [
        "user.authentication.sso", "policy.evaluate_sign_on", "security.threat.detected", "user.risk.detect",
    ])
    func otherTypesAreSkipped(eventType: String) throws {
        guard case .skipped(let type) = try decoding.mapped(#"{"eventType":"\#(eventType)"}"#) else {
            Issue.record("\(eventType) was mapped")
            return
        }
        #expect(type == eventType)
    }

    @Test(arguments: [
        (#"{"eventType":"user.session.start","published":"2026-03-02T09:00:00Z"}"#, "missing_field:okta.uuid"),
        (#"{"uuid":"u","eventType":"user.session.start","published":"nope"}"#, "invalid_time"),
        (
            #"{"uuid":"u","eventType":"user.session.start","published":"2026-03-02T09:00:00Z","outcome":{"result":"SUCCESS"},"client":{"ipAddress":"81.2.69.142"}}"#,
            "missing_field:okta.actor"
        ),
        (
            #"{"uuid":"u","eventType":"user.session.start","published":"2026-03-02T09:00:00Z","outcome":{"result":"SUCCESS"},"actor":{"id":"00u1","type":"User"},"client":{"ipAddress":"null"}}"#,
            "missing_field:okta.client.ipAddress"
        ),
        (
            #"{"uuid":"u","eventType":"user.session.start","published":"2026-03-02T09:00:00Z","outcome":{"result":"SUCCESS"},"actor":{"type":"User"},"client":{"ipAddress":"81.2.69.142"}}"#,
            "missing_field:okta.actor.id"
        ),
        (
            #"{"uuid":"u","eventType":"user.session.start","published":"2026-03-02T09:00:00Z","outcome":{"result":"SUCCESS"},"target":{},"client":{"ipAddress":"81.2.69.142"}}"#,
            "invalid_type:okta.target"
        ),
        (
            #"{"uuid":"u","eventType":"user.session.start","published":"2026-03-02T09:00:00Z","outcome":{"result":"SUCCESS"},"actor":{"id":"00u1","type":"User"},"client":{"ipAddress":"1.2.3"}}"#,
            "invalid_ip"
        ),
    ])
    func badRecordsAreRefusedNamingTheFormatAndField(json: String, reason: String) {
        let refusal = decoding.failure(json)
        #expect(refusal?.reasonCode == reason, "\(refusal?.detail ?? "accepted")")
    }

    /// An Event Hook delivery as a shipper puts it on Kafka: `{"eventType": "com.okta.event_hook", "data":
    /// {"events": [...]}}`, read LogEvent by LogEvent; a broken one fails alone with its own bytes.
    @Test func anEventHookBatchIsReadEventByEvent() throws {
        let good = Self.record("user.session.start")
        let broken =
            #"{"uuid":"broken-1","published":"2026-03-02T09:00:00.123Z","eventType":"user.session.start","outcome":{"result":"SUCCESS"}}"#
        let hook =
            #"{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","#
            + #""source":"https://example.okta.com/api/v1/eventHooks/whoHOOK","eventId":"b5a188b9-5ba8-4d0f-b2f1","#
            + #""eventTime":"2026-03-02T09:00:01.000Z","contentType":"application/json","data":{"events":["#
            + good + "," + broken + "," + Self.record("user.account.reset_password") + "]}}"
        let read = try #require(try decoding.eventFailureEvent(hook))
        #expect(read.failed == broken)
        #expect(read.first.type == .login)
        #expect(read.failure.reasonCode == "missing_field:okta.actor")
        #expect(read.last.type == .passwordResetComplete)
        // A LogEvent alone is still one record of the whole message.
        let single = try Array(good.utf8).withUnsafeBytes { try RecordDecoder(format: .okta).decodeMessage($0) }
        #expect(single.map(\.batchIndex) == [nil])
        #expect(Array(hook.utf8).withUnsafeBytes { InputFormat.detect($0) } == .okta)
    }
}
