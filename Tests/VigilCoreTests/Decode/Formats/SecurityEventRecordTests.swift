import Foundation
import Testing
import VigilTestSupport
import _VigilMachinery

@testable import VigilCore

/// Security Event Tokens an IdP transmits (fixtures of our own, following SSF 1.0, CAEP 1.0 and RISC, and
/// the forms Okta documents: milliseconds and the subject inside the event), read as compact JWS or as
/// claims: what maps to a canonical event, what is skipped, what is a dead letter.
@Suite struct SecurityEventRecordTests {
    let decoding = FormatDecoding(.ssf)

    static let passwordChange = """
        {"iss":"https://idp.example.org","jti":"756E69717565206964656E746966696572","iat":1772442000,\
        "aud":"https://vigil.example.org","sub_id":{"format":"email","email":"alice@example.org"},\
        "events":{"https://schemas.openid.net/secevent/caep/event-type/credential-change":\
        {"credential_type":"password","change_type":"update","event_timestamp":1772441990,\
        "initiating_entity":"user"}}}
        """

    @Test func aPasswordChangeIsACompletedResetThatArmsThePostResetWindow() throws {
        for message in [Self.passwordChange, SecurityEventTokens.compact(Self.passwordChange)] {
            let event = try decoding.event(message)
            #expect(event.eventID == "756E69717565206964656E746966696572")
            #expect(event.type == .passwordResetComplete && event.outcome == .success)
            #expect(event.user.id == "alice@example.org" && event.user.emailDomain == "example.org")
            #expect(event.time == Timestamp(seconds: 1_772_441_990), "event_timestamp, not iat")
            #expect(event.ip == nil)
        }
    }

    /// Okta's form: event_timestamp in milliseconds and the subject inside the event.
    @Test func oktasFormIsReadToo() throws {
        let event = try decoding.event(
            """
            {"iss":"https://acme.okta.com","jti":"okta-1","iat":1772442000,"events":{\
            "https://schemas.openid.net/secevent/caep/event-type/credential-change":{"event_timestamp":1772441990123,\
            "credential_type":"password","change_type":"update","subject":{"user":{"format":"iss_sub",\
            "iss":"https://acme.okta.com","sub":"00u1abcd"},"format":"complex"}}}}
            """)
        #expect(event.user.id == "00u1abcd" && event.user.emailDomain == nil)
        #expect(event.time == Timestamp(milliseconds: 1_772_441_990_123))
        // At the boundary: the last second before the year 5138 is seconds, 10^11 is milliseconds.
        #expect(SecurityEventRecord.millisecondsFrom == 100_000_000_000)
    }

    @Test func otherCredentialsAndDemandedChanges() throws {
        func token(_ uri: String, _ body: String) -> String {
            #"{"jti":"t","iat":1772442000,"sub_id":{"format":"opaque","id":"u-7"},"events":{"\#(uri)":{\#(body)}}}"#
        }
        let caep = "https://schemas.openid.net/secevent/caep/event-type/"
        let removed = try decoding.event(
            token(caep + "credential-change", #""credential_type":"fido2-roaming","change_type":"delete""#))
        #expect(removed.type == .sensitiveAction && removed.action == .mfaReset)
        let added = try decoding.event(
            token(caep + "credential-change", #""credential_type":"app","change_type":"create""#))
        #expect(added.type == .sensitiveAction && added.action == .other("credential_change"))
        let demanded = try decoding.event(
            token("https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required", ""))
        #expect(demanded.type == .passwordResetRequest && demanded.user.id == "u-7")
        #expect(demanded.time == Timestamp(seconds: 1_772_442_000), "no event_timestamp: iat")
        // Events the contract has nothing for are skipped, by type.
        #expect(try decoding.skippedType(token(caep + "session-revoked", "")) == "session-revoked")
        #expect(
            try decoding.skippedType(token("https://schemas.openid.net/secevent/ssf/event-type/verification", ""))
                == "verification")
        // The drafts' subject_type.
        let draft = try decoding.event(
            #"{"jti":"d","iat":1,"sub_id":{"subject_type":"email","email":"bob@example.org"},"events":{"\#(caep)credential-change":{}}}"#
        )
        #expect(draft.user.id == "bob@example.org")
        // Drafts before SSF 1.0: a complex subject as its members alone.
        let members = try decoding.event(
            #"{"jti":"m","iat":1,"events":{"\#(caep)credential-change":{"subject":{"user":{"format":"opaque","id":"u-9"}}}}}"#
        )
        #expect(members.user.id == "u-9")
    }

    @Test func whatCannotBeReadIsADeadLetterSayingWhy() {
        let caep = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
        let cases: [(String, String)] = [
            ("not.a.token!", "invalid_value:ssf.token"),
            ("only.two", "invalid_value:ssf.token"),
            (#"{"iat":1,"sub_id":{"format":"opaque","id":"u"},"events":{"\#(caep)":{}}}"#, "missing_field:ssf.jti"),
            (#"{"jti":"j","iat":1,"sub_id":{"format":"opaque","id":"u"}}"#, "missing_field:ssf.events"),
            (#"{"jti":"j","iat":1,"sub_id":{"format":"opaque","id":"u"},"events":{}}"#, "invalid_value:ssf.events"),
            (#"{"jti":"j","iat":1,"events":{"\#(caep)":{}}}"#, "missing_field:ssf.sub_id"),
            (
                #"{"jti":"j","iat":1,"sub_id":{"format":"phone_number","phone_number":"+1"},"events":{"\#(caep)":{}}}"#,
                "invalid_value:ssf.sub_id.format"
            ),
            (#"{"jti":"j","sub_id":{"format":"opaque","id":"u"},"events":{"\#(caep)":{}}}"#, "missing_field:ssf.iat"),
            (
                #"{"jti":"j","iat":-5,"sub_id":{"format":"opaque","id":"u"},"events":{"\#(caep)":{}}}"#,
                "invalid_time"
            ),
            (
                #"{"jti":"j","iat":1,"sub_id":{"format":"opaque","id":"u\u0000"},"events":{"\#(caep)":{}}}"#,
                "invalid_value:ssf.sub_id.id"
            ),
        ]
        for (message, reason) in cases {
            switch decoding.decoder.decode(Array(message.utf8)) {
            case .failure(let failure): #expect(failure.reasonCode == reason, "\(message)")
            case .success(let record): Issue.record("\(message) decoded: \(record)")
            }
        }
    }

    @Test func base64URLDecodesWhatJOSEWrites() {
        #expect(Base64URL.decode(Array("eyJhIjoxfQ".utf8)) == Array(#"{"a":1}"#.utf8))
        #expect(Base64URL.decode(Array("-_8".utf8)) == [0xFB, 0xFF])
        #expect(Base64URL.decode(Array("ab=".utf8)) == nil, "no padding")
        #expect(Base64URL.decode(Array("abcde".utf8)) == nil, "a length no encoding has")
        #expect(Base64URL.decode(Array("a+b/".utf8)) == nil, "standard base64's alphabet")
        // What the signer writes: no padding, the URL-safe alphabet, and back again for every length.
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.encode(Array(#"{"a":1}"#.utf8)) == "eyJhIjoxfQ")
        for count in 0..<8 {
            let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 250) }
            #expect(Base64URL.decode(Array(Base64URL.encode(bytes).utf8)) == bytes)
        }
    }

    @Test func aTokenIsRecognisedByItsForm() {
        let token = Array(SecurityEventTokens.compact(Self.passwordChange).utf8)
        #expect(token.withUnsafeBytes { InputFormat.detect($0) } == .ssf)
        #expect(Array("eyJ.x".utf8).withUnsafeBytes { InputFormat.detect($0) } == nil)
    }
}
