import Testing
import _VigilMachinery

@testable import VigilCore

/// The spellings of one account share its state; ids no IdP issues are refused.
@Suite struct UserIdentityTests {
    static let composed = "jos\u{E9}"  // é as one scalar (NFC)
    static let decomposed = "jose\u{301}"  // e and a combining acute accent (NFD)

    static func keyHash(_ id: String) -> UInt64 {
        var hasher = SipHashState(key: .publicDefault)
        UserIdentity.appendKey(of: id, to: &hasher)
        return hasher.finalize()
    }

    @Test func composedDecomposedUpperCaseAndPaddedSpellingsShareOneKey() {
        #expect(Array(Self.composed.utf8) != Array(Self.decomposed.utf8))
        let spellings = [Self.composed, Self.decomposed, "JOS\u{C9}", "JOSE\u{301}", "  jos\u{E9}\t", "Jos\u{E9}"]
        for spelling in spellings {
            #expect(Array(UserIdentity.key(of: spelling).utf8) == Array(Self.composed.utf8), "\(spelling)")
            #expect(Self.keyHash(spelling) == Self.keyHash(Self.composed), "\(spelling)")
        }
    }

    @Test func plainIdsAreTheirOwnKeyAndOtherIdsStayApart() {
        #expect(UserIdentity.key(of: "alice@example.com") == "alice@example.com")
        #expect(Self.keyHash("Alice") == Self.keyHash("alice"))
        #expect(Self.keyHash("jose") != Self.keyHash(Self.composed))
        #expect(Self.keyHash("al ice") != Self.keyHash("alice"))
        // Lower-casing "İ" gives "i" and a combining dot above, which NFC keeps apart from a plain "i".
        #expect(Self.keyHash("\u{130}") != Self.keyHash("i"))
    }

    @Test(arguments: [
        ("a\u{0}b", "U+0000"), ("jos\u{200B}\u{E9}", "U+200B"), ("alice\u{200D}", "U+200D"),
        ("\u{FEFF}alice", "U+FEFF"), ("ali\u{202E}ce", "U+202E"), ("a\u{85}b", "U+0085"), ("a\u{2028}b", "U+2028"),
        ("a\tb", "U+0009"), ("a\u{7F}", "U+007F"),
    ])
    func controlAndInvisibleCharactersAreRefused(_ id: String, _ named: String) throws {
        let problem = try #require(UserIdentity.problem(in: id))
        #expect(problem.contains(named))
    }

    @Test(arguments: [" ", "   ", "\u{3000}", " \u{A0} "])
    func blankIdsAreRefused(_ id: String) throws {
        let problem = try #require(UserIdentity.problem(in: id))
        #expect(problem.contains("blank"))
    }

    @Test(arguments: ["alice", " alice ", "zo\u{EB} \u{7528}\u{6237}", decomposed, "o'brien+test@example.com"])
    func ordinaryIdsPass(_ id: String) {
        #expect(UserIdentity.problem(in: id) == nil)
    }

    @Test func spellingsOfOneUserAreOneUserAndDecisionsKeepTheSpellingSent() throws {
        var h = EngineHarness()
        h.establish(Self.composed)
        #expect(h.login("someone-else", at: 30).signals.contains(.firstLogin))
        for (index, spelling) in [Self.decomposed, "JOS\u{C9}", " jos\u{E9}"].enumerated() {
            let verdict = h.login(spelling, at: Double(31 + index))
            #expect(!verdict.signals.contains(.firstLogin), "\(spelling)")
            #expect(verdict.decision?.userID == spelling)
        }
        #expect(h.engine.userCount == 2)
    }
}
