import Testing
import _VigilMachinery

@testable import VigilCore

/// The link ids are hashed where they lie in the message: the keys must equal those of the same ids given
/// as text, escaped or not, and the placeholders must count as absent in any case.
@Suite struct LinkKeysTests {
    let key = SipHashKey.publicDefault.derived(8)

    func keys(ofLine session: String, correlation: String) throws -> LinkKeys {
        let line =
            #"{"event_id":"e1","type":"login","time":"2024-05-01T12:00:00Z","user":{"id":"u"},"ip":"203.0.113.7","outcome":"success","#
            + #""session_id":"\#(session)","correlation_id":"\#(correlation)"}"#
        let bytes = Array(line.utf8)
        let event = try EventDecoder().decode(bytes).get()
        return bytes.withUnsafeBytes { LinkKeys(event, key: key, message: $0) }
    }

    func keys(ofText session: String, correlation: String) -> LinkKeys {
        let event = AuthEvent(
            eventID: "e1", type: .login, time: Timestamp(microseconds: 0), user: User(id: "u"), outcome: .success,
            sessionID: InputText(session), correlationID: InputText(correlation))
        return LinkKeys(event, key: key, message: nil)
    }

    @Test func spansHashLikeTheirText() throws {
        let fromSpans = try keys(ofLine: "s-1", correlation: #"c\u002d2"#)
        #expect(fromSpans == keys(ofText: "s-1", correlation: "c-2"))
        #expect(fromSpans.session != 0 && fromSpans.correlation != 0 && fromSpans.session != fromSpans.correlation)
    }

    @Test(arguments: ["unknown", "UNKNOWN", "N/A", "Null", "-", "0", "00000000-0000-0000-0000-000000000000"])
    func placeholdersAreAbsent(_ placeholder: String) throws {
        #expect(try keys(ofLine: placeholder, correlation: "c-1").session == 0)
        #expect(keys(ofText: placeholder, correlation: "c-1").session == 0)
        #expect(try keys(ofLine: placeholder + "x", correlation: "c-1").session != 0)
    }

    /// An escaped placeholder is one all the same: ids are compared as the text they stand for.
    @Test func anEscapedPlaceholderIsAbsent() throws {
        #expect(try keys(ofLine: #"unkno\u0077n"#, correlation: "c-1").session == 0)
    }
}
