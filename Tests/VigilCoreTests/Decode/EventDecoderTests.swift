import Testing

@testable import VigilCore

@Suite struct EventDecoderTests {
    let decoder = EventDecoder()

    func decoded(_ json: String) throws -> AuthEvent {
        try decoder.decode(Array(json.utf8)).get()
    }

    func failure(_ bytes: [UInt8], limits: InputSettings = InputSettings()) -> DecodeFailure? {
        if case .failure(let failure) = EventDecoder(limits: limits).decode(bytes) { return failure }
        return nil
    }

    @Test(arguments: DecodeCorpus.valid)
    func acceptsValidEvents(_ example: DecodeCorpus.Valid) {
        let result = decoder.decode(Array(example.json.utf8))
        if case .failure(let failure) = result {
            Issue.record("\(example.name): \(failure.reasonCode) — \(failure.detail)")
        }
    }

    @Test(arguments: DecodeCorpus.invalid)
    func rejectsWithExactReason(_ example: DecodeCorpus.Invalid) throws {
        let rejection = try #require(failure(example.bytes), "\(example.name) was accepted")
        #expect(rejection.reasonCode == example.reason, "\(example.name): \(rejection.detail)")
        #expect(!rejection.detail.isEmpty)
    }

    @Test(arguments: [
        (#"a\u0000b"#, "U+0000"), (#"jos\u200b\u00e9"#, "U+200B"), ("jos\u{200B}\u{E9}", "U+200B"),
        (#"   "#, "blank"), (#" \t "#, "U+0009"),
    ])
    func refusesUserIDsNoIdPIssues(_ id: String, _ named: String) throws {
        let line = DecodeCorpus.login(replacing: "user", with: #"{"id":"\#(id)"}"#)
        let rejection = try #require(failure(Array(line.utf8)))
        #expect(rejection.reasonCode == "invalid_value:user.id")
        #expect(rejection.detail.contains(named), "\(rejection.detail)")
        #expect(rejection.eventID == "e1")
    }

    @Test func keepsTheUserIDAsSent() throws {
        let line = DecodeCorpus.login(replacing: "user", with: #"{"id":" JOSE\u0301 "}"#)
        #expect(try decoded(line).user.id == " JOSE\u{301} ")
    }

    @Test func minimalLogin() throws {
        let event = try decoded(DecodeCorpus.login)
        #expect(
            event
                == AuthEvent(
                    eventID: "e1", type: .login, time: Timestamp(seconds: 1_714_564_800),
                    user: User(id: "alice", role: .standard), ip: IPAddress("203.0.113.7"), outcome: .success))
    }

    @Test func fullLogin() throws {
        let bytes = Array(DecodeCorpus.valid[1].json.utf8)
        let event = try decoder.decode(bytes).get()
        #expect(event.eventID == "evt-42")
        #expect(event.time == Timestamp(rfc3339: "2024-03-10T02:45:00.123456Z"))
        #expect(event.tenant == "acme")
        #expect(event.user == User(id: "u-1", role: .finance, emailDomain: "example.com"))
        #expect(event.ip == IPAddress("2001:db8::1"))
        #expect(event.device?.id == "d-9" && event.device?.managed == false)
        #expect(event.device?.userAgent?.string(in: bytes) == "Mozilla/5.0 (X11)")
        #expect(event.outcome == .failure)
        #expect(event.failureReason?.string(in: bytes) == "bad_password")
        #expect(event.credentialCompromised)
        #expect(event.sessionID?.string(in: bytes) == "s-1")
        #expect(event.correlationID?.string(in: bytes) == "c-1")
        #expect(event.mfa == nil && event.action == nil)
    }

    /// The IdP's own rating, when the producer passes one; none when absent or null.
    @Test(arguments: [(#","idp_risk":"medium""#, IdPRiskLevel?.some(.medium)), (#","idp_risk":null"#, nil), ("", nil)])
    func theIdPsRatingIsRead(member: String, level: IdPRiskLevel?) throws {
        let json = DecodeCorpus.login.dropLast() + member + "}"
        #expect(try decoded(String(json)).idpRisk == level)
    }

    /// What failed, when the producer says: kept for failed logins only (a success or another type has
    /// no failure to qualify), an unknown value refused like any other enumeration.
    @Test(arguments: [
        ("failure", #""unknown_user""#, FailureKind?.some(.unknownUser)),
        ("failure", #""invalid_credentials""#, .invalidCredentials), ("failure", #""other""#, .other),
        ("failure", "null", nil), ("success", #""unknown_user""#, nil),
    ])
    func theFailuresKindIsReadForFailedLoginsOnly(outcome: String, kind: String, expected: FailureKind?) throws {
        let line = DecodeCorpus.login(replacing: "outcome", with: #""\#(outcome)","failure_kind":\#(kind)"#)
        #expect(try decoded(line).failureKind == expected)
    }

    @Test func anUnknownFailureKindIsRefused() throws {
        let line = DecodeCorpus.login(replacing: "outcome", with: #""failure","failure_kind":"typo""#)
        let rejection = try #require(failure(Array(line.utf8)))
        #expect(rejection.reasonCode == "invalid_value:failure_kind")
    }

    @Test func mfaEvents() throws {
        let challengeBytes = Array(DecodeCorpus.valid[2].json.utf8)
        let challenge = try decoder.decode(challengeBytes).get()
        #expect(challenge.type == .mfaChallenge)
        #expect(challenge.mfa?.factor == .push && challenge.mfa?.result == nil)
        #expect(challenge.mfa?.challengeID?.string(in: challengeBytes) == "ch-1")
        #expect(challenge.user.role == .admin)
        #expect(challenge.time == Timestamp(rfc3339: "2024-05-01T20:00:00Z"))

        let result = try decoded(DecodeCorpus.valid[3].json)
        #expect(result.mfa == MFA(factor: .pushNumberMatch, result: .approved))
        #expect(result.outcome == nil, "outcome only belongs to login and password_reset_complete")
        #expect(result.ip?.isIPv4 == true)
        #expect(result.time.microseconds == 1_714_564_800_500_000)
    }

    /// Unread text fields stay where they are in the message and come out unescaped on demand.
    @Test func unreadFieldsAreSpansOfTheMessage() throws {
        let json =
            DecodeCorpus.login.dropLast()
            + #","failure_reason":"tab\tquote\"é\u00e9\ud834\udd1e","session_id":"s","device":{"user_agent":""}}"#
        let bytes = Array(json.utf8)
        let event = try decoder.decode(bytes).get()
        guard case .span(_, _, escaped: true) = try #require(event.failureReason) else {
            Issue.record("failure_reason was copied out of the message")
            return
        }
        #expect(event.failureReason?.string(in: bytes) == "tab\tquote\"éé𝄞")
        #expect(event.sessionID?.string(in: bytes) == "s")
        #expect(event.device?.userAgent?.string(in: bytes) == "")
        #expect(InputText("given").string(in: bytes) == "given")
        let literal: InputText = "lit"
        #expect(literal.string(in: [UInt8]()) == "lit")
    }

    @Test func passwordResets() throws {
        #expect(try decoded(DecodeCorpus.valid[4].json).outcome == nil)
        #expect(try decoded(DecodeCorpus.valid[5].json).outcome == .success)
        #expect(try decoded(DecodeCorpus.valid[6].json).outcome == .failure)
        #expect(try decoded(DecodeCorpus.valid[4].json).user.role == .contractor)
    }

    @Test func sensitiveActions() throws {
        let known = try decoded(DecodeCorpus.valid[7].json)
        #expect(known.action == .apiKeyCreate)
        #expect(known.ip == nil)
        #expect(known.user.role == .service)
        let other = try decoded(DecodeCorpus.valid[8].json)
        #expect(other.action == .other("export_all_the_things"))
        #expect(other.ip == IPAddress("fe80::1:2:3:4"))
        #expect(try decoded(DecodeCorpus.login(replacing: "action", with: #""data_export""#)).action == nil)
    }

    @Test func nullsAreAbsent() throws {
        let event = try decoded(DecodeCorpus.valid[9].json)
        #expect(event.tenant == nil && event.device == nil && event.user.emailDomain == nil)
        #expect(event.user.role == .standard)
        #expect(!event.credentialCompromised)
    }

    @Test func unescapesStrings() throws {
        let event = try decoded(DecodeCorpus.valid[10].json)
        #expect(event.eventID == "é😀-\"q\"\\/\u{8}\u{c}\n\r\t")
        #expect(event.type == .login)
        #expect(event.user.id == "zoë 用户")
    }

    @Test func everyRoleFactorAndResult() throws {
        for role in UserRole.allCases {
            let json = DecodeCorpus.login(replacing: "user", with: #"{"id":"a","role":"\#(role.rawValue)"}"#)
            #expect(try decoded(json).user.role == role)
        }
        for factor in MFAFactor.allCases {
            for result in MFAResult.allCases {
                let json =
                    #"{"event_id":"e","type":"mfa_result","time":"2024-05-01T12:00:00Z","user":{"id":"a"},"ip":"192.0.2.1","mfa":{"factor":"\#(factor.rawValue)","result":"\#(result.rawValue)"}}"#
                #expect(try decoded(json).mfa == MFA(factor: factor, result: result))
            }
        }
    }

    @Test func sizeLimitIsInclusive() {
        var limits = InputSettings()
        limits.maxEventBytes = 200
        let padded = DecodeCorpus.login + String(repeating: " ", count: 200 - DecodeCorpus.login.utf8.count)
        #expect(failure(Array(padded.utf8), limits: limits) == nil)
        #expect(failure(Array((padded + " ").utf8), limits: limits)?.reasonCode == "too_large")
    }

    @Test func depthLimitIsInclusive() {
        // The top-level object is level 1, so 15 nested arrays inside it reach exactly 16.
        let atLimit = DecodeCorpus.login(
            replacing: "x", with: String(repeating: "[", count: 15) + String(repeating: "]", count: 15))
        #expect(failure(Array(atLimit.utf8)) == nil)

        var shallow = InputSettings()
        shallow.maxNestingDepth = 1
        #expect(failure(Array(DecodeCorpus.login.utf8), limits: shallow)?.reasonCode == "too_deep")
        shallow.maxNestingDepth = 2
        #expect(failure(Array(DecodeCorpus.login.utf8), limits: shallow) == nil)
    }

    @Test func deepNestingBeyond64LevelsWhenConfigured() {
        var deep = InputSettings()
        deep.maxNestingDepth = 200
        let nested =
            (0..<150).map { $0 % 2 == 0 ? "[" : #"{"k":"# }.joined() + "0"
            + (0..<150).reversed().map { $0 % 2 == 0 ? "]" : "}" }.joined()
        let json = DecodeCorpus.login(replacing: "x", with: nested)
        #expect(failure(Array(json.utf8), limits: deep) == nil)
        let broken = DecodeCorpus.login(replacing: "x", with: String(nested.dropLast(2)) + "]}")
        #expect(failure(Array(broken.utf8), limits: deep)?.reasonCode == "invalid_json")
        #expect(failure(Array(json.utf8))?.reasonCode == "too_deep")
    }

    @Test func failureCarriesEventIDOnceRead() {
        let late = DecodeCorpus.login(replacing: "ip", with: #""1.2.3""#)
        #expect(failure(Array(late.utf8))?.eventID == "e1")
        let early = #"{"type":"logon","event_id":"e9"}"#
        #expect(failure(Array(early.utf8))?.eventID == "e9")
        #expect(failure(Array(#"{"event_id":"e1","#.utf8))?.eventID == "e1")
        #expect(failure(Array(#"{"event_id":"","#.utf8))?.eventID == nil)
    }

    @Test func unsafeBufferAndArrayOverloadsAgree() throws {
        let bytes = Array(DecodeCorpus.login.utf8)
        let viaBuffer = bytes.withUnsafeBytes { decoder.decode($0) }
        #expect(try viaBuffer.get() == decoder.decode(bytes).get())
    }
}
