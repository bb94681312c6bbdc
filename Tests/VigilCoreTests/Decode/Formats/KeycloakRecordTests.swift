import Testing

@testable import VigilCore

/// Keycloak user events as an event-listener SPI writes them (fixtures of our own, following the
/// field names of Keycloak's `Event` and the types of `EventType`; see README.md here), mapped field by
/// field into the canonical event.
@Suite struct KeycloakRecordTests {
    let decoding = FormatDecoding(.keycloak)

    /// A password login through the account console: every field Vigil reads, mapped.
    static let login = """
        {"id":"5b1c7a2e-61f4-4bd4-9a0e-2a3c1f0e8d11","time":1772442000123,"type":"LOGIN","realmId":"acme",\
        "clientId":"account-console","userId":"0f8e3c5a-7b1d-4c6e-9a2f-3d4b5c6d7e8f","sessionId":"c1a2b3c4-d5e6",\
        "ipAddress":"81.2.69.142","details":{"auth_method":"openid-connect","auth_type":"code",\
        "redirect_uri":"https://sso.example.org/realms/acme/account/","code_id":"c1a2b3c4-d5e6",\
        "username":"Alice@Example.ORG"}}
        """

    @Test func aLoginMapsFieldByField() throws {
        let event = try decoding.event(Self.login)
        #expect(event.eventID == "5b1c7a2e-61f4-4bd4-9a0e-2a3c1f0e8d11")
        #expect(event.type == .login)
        #expect(event.outcome == .success)
        #expect(event.time == Timestamp(milliseconds: 1_772_442_000_123))
        #expect(event.tenant == "acme")
        #expect(event.user.id == "0f8e3c5a-7b1d-4c6e-9a2f-3d4b5c6d7e8f")
        // No email in the details: the typed user name, when it is an address, gives the domain.
        #expect(event.user.emailDomain == "example.org")
        #expect(event.ip == IPAddress("81.2.69.142"))
        #expect(event.sessionID == InputText("c1a2b3c4-d5e6"))
        #expect(event.correlationID == InputText("c1a2b3c4-d5e6"))
        #expect(event.device == Device(id: "client:account-console"))
        #expect(event.mfa == nil)
        #expect(event.failureReason == nil)
    }

    @Test func aFailureForAnUnknownAccountIsKeyedByTheTypedName() throws {
        let event = try decoding.event(
            """
            {"id":"e-2","time":1772442001000,"type":"LOGIN_ERROR","realmId":"acme","clientId":"account-console",\
            "ipAddress":"2001:db8::7","error":"user_not_found","details":{"auth_method":"openid-connect",\
            "username":"mallory","email":"mallory@Corp.Example.COM"}}
            """)
        #expect(event.type == .login)
        #expect(event.outcome == .failure)
        #expect(event.user.id == "mallory")
        #expect(event.user.emailDomain == "corp.example.com")
        #expect(event.failureReason == InputText("user_not_found"))
        #expect(event.failureKind == .unknownUser)
        #expect(event.sessionID == nil)
    }

    /// The error names what failed: the campaign windows count unknown accounts apart.
    @Test(arguments: [
        ("LOGIN_ERROR", "user_not_found", FailureKind?.some(.unknownUser)),
        ("LOGIN_ERROR", "invalid_user_credentials", .invalidCredentials),
        ("LOGIN_ERROR", "user_temporarily_disabled", .other),
        ("LOGIN", nil, nil),
    ])
    func theErrorIsTheFailuresKind(type: String, error: String?, kind: FailureKind?) throws {
        let errorField = error.map { #""error":"\#($0)","# } ?? ""
        let event = try decoding.event(
            """
            {"id":"e-3","time":1772442001000,"type":"\(type)","realmId":"acme","clientId":"account-console",\
            "userId":"u-1","ipAddress":"81.2.69.142",\(errorField)"details":{"username":"bob"}}
            """)
        #expect(event.failureKind == kind)
    }

    @Test(arguments: [
        ("SEND_RESET_PASSWORD", EventType.passwordResetRequest, nil as Outcome?, nil as SensitiveAction?),
        ("SEND_RESET_PASSWORD_ERROR", .passwordResetRequest, nil, nil),
        ("RESET_PASSWORD", .passwordResetComplete, .success, nil),
        ("RESET_PASSWORD_ERROR", .passwordResetComplete, .failure, nil),
        ("UPDATE_PASSWORD", .passwordResetComplete, .success, nil),
        ("UPDATE_TOTP", .sensitiveAction, nil, .other("update_totp")),
        ("REMOVE_TOTP", .sensitiveAction, nil, .mfaReset),
        ("UPDATE_EMAIL", .sensitiveAction, nil, .other("update_email")),
        ("UPDATE_CREDENTIAL", .sensitiveAction, nil, .other("update_credential")),
        ("REMOVE_CREDENTIAL", .sensitiveAction, nil, .mfaReset),
    ])
    func eachReadTypeMaps(keycloakType: String, type: EventType, outcome: Outcome?, action: SensitiveAction?) throws {
        let event = try decoding.event(
            """
            {"id":"e-\(keycloakType)","time":1772442002000,"type":"\(keycloakType)","realmId":"acme",\
            "userId":"u-1","ipAddress":"81.2.69.142","details":{"credential_type":"otp","email":"u1@example.org"}}
            """)
        #expect(event.type == type)
        #expect(event.outcome == outcome)
        #expect(event.action == action)
        #expect(event.user.emailDomain == "example.org")
    }

    @Test func aPasswordCredentialUpdateIsAResetCompleted() throws {
        let event = try decoding.event(
            """
            {"id":"e-3","time":1772442003000,"type":"UPDATE_CREDENTIAL","realmId":"acme","userId":"u-1",\
            "ipAddress":"81.2.69.142","details":{"credential_type":"password"}}
            """)
        #expect(event.type == .passwordResetComplete)
        #expect(event.outcome == .success)
    }

    @Test(arguments: ["LOGOUT", "CODE_TO_TOKEN", "REGISTER", "REFRESH_TOKEN", "USER_DISABLED_BY_TEMPORARY_LOCKOUT"])
    func otherTypesAreSkippedNotRefused(keycloakType: String) throws {
        // Even without the fields a read type needs: a skipped record is never a dead letter.
        guard case .skipped(let type) = try decoding.mapped(#"{"type":"\#(keycloakType)","time":"not read"}"#) else {
            Issue.record("\(keycloakType) was mapped")
            return
        }
        #expect(type == keycloakType)
    }

    @Test func aRecordWithoutIdGetsOneDerivedFromItsFields() throws {
        let record = """
            {"time":1772442004000,"type":"LOGIN","realmId":"acme","userId":"u-1","sessionId":"s-1",\
            "ipAddress":"81.2.69.142"}
            """
        let first = try decoding.event(record)
        let copy = try decoding.event(record)
        let later = try decoding.event(record.replacingOccurrences(of: "1772442004000", with: "1772442004001"))
        #expect(first.eventID.hasPrefix("keycloak-"))
        #expect(first.eventID.count == "keycloak-".count + 16)
        #expect(first.eventID == copy.eventID)
        #expect(first.eventID != later.eventID)
    }

    @Test func aTimeWrittenAsAStringOfDigitsIsRead() throws {
        let event = try decoding.event(
            #"{"id":"e-4","time":"1772442005000","type":"LOGIN","userId":"u-1","ipAddress":"81.2.69.142"}"#)
        #expect(event.time == Timestamp(milliseconds: 1_772_442_005_000))
    }

    @Test(arguments: [
        (#"{"id":"e","type":"LOGIN","userId":"u","ipAddress":"81.2.69.142"}"#, "missing_field:keycloak.time"),
        (#"{"id":"e","time":1,"type":"LOGIN","ipAddress":"81.2.69.142"}"#, "missing_field:keycloak.userId"),
        (#"{"id":"e","time":1,"type":"LOGIN","userId":"u"}"#, "missing_field:keycloak.ipAddress"),
        (#"{"id":"e","time":1,"userId":"u","ipAddress":"81.2.69.142"}"#, "missing_field:keycloak.type"),
        (#"{"id":"e","time":1.5,"type":"LOGIN","userId":"u","ipAddress":"81.2.69.142"}"#, "invalid_time"),
        (#"{"id":"e","time":-1,"type":"LOGIN","userId":"u","ipAddress":"81.2.69.142"}"#, "invalid_time"),
        (#"{"id":"e","time":253402300800000,"type":"LOGIN","userId":"u","ipAddress":"81.2.69.142"}"#, "invalid_time"),
        (#"{"id":"e","time":"17e11","type":"LOGIN","userId":"u","ipAddress":"81.2.69.142"}"#, "invalid_time"),
        (
            #"{"id":"e","time":true,"type":"LOGIN","userId":"u","ipAddress":"81.2.69.142"}"#,
            "invalid_type:keycloak.time"
        ),
        (#"{"id":"e","time":1,"type":"LOGIN","userId":"u","ipAddress":"null"}"#, "invalid_ip"),
        (#"{"id":"e","time":1,"type":"LOGIN","userId":7,"ipAddress":"81.2.69.142"}"#, "invalid_type:keycloak.userId"),
        (
            #"{"id":"e","time":1,"type":"LOGIN","userId":"a\u200Bb","ipAddress":"81.2.69.142"}"#,
            "invalid_value:keycloak.userId"
        ),
        (
            #"{"id":"e","time":1,"type":"LOGIN","userId":"u","ipAddress":"81.2.69.142","details":[]}"#,
            "invalid_type:keycloak.details"
        ),
        (
            #"{"id":"e","time":1,"type":"LOGIN","type":"LOGOUT","userId":"u","ipAddress":"81.2.69.142"}"#,
            "duplicate_field:keycloak"
        ),
        (#"["LOGIN"]"#, "not_an_object"),
        (#"{"id":"e","time":1,"type":"LOGIN""#, "invalid_json"),
    ])
    func badRecordsAreRefusedNamingTheFormatAndField(json: String, reason: String) {
        let refusal = decoding.failure(json)
        #expect(refusal?.reasonCode == reason, "\(refusal?.detail ?? "accepted")")
    }

    @Test func aRefusalCarriesTheRecordsId() {
        let refusal = decoding.failure(#"{"id":"kc-77","time":1,"type":"LOGIN","userId":"u"}"#)
        #expect(refusal?.eventID == "kc-77")
    }

    @Test func theCanonicalFormatIsTheContractsDecoder() throws {
        let line =
            #"{"event_id":"e","type":"login","time":"2026-03-02T09:00:00Z","user":{"id":"u"},"ip":"81.2.69.142","outcome":"success"}"#
        guard case .event(let event) = try RecordDecoder(format: .vigil).decode(Array(line.utf8)).get() else {
            Issue.record("skipped")
            return
        }
        #expect(event == (try EventDecoder().decode(Array(line.utf8)).get()))
    }
}
