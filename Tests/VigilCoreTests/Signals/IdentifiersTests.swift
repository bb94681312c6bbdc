import Testing
import _VigilMachinery

@testable import VigilCore

/// Ids are joined once and hashed in bulk; they must stay what the part-by-part streams gave.
@Suite struct IdentifiersTests {
    /// The earlier form: both streams fed part by part, each part followed by 0xFF.
    static func reference(_ key: SipHashKey, _ parts: [String]) -> (UInt64, UInt64) {
        var a = SipHashState(key: key, tweak: 1)
        var b = SipHashState(key: key, tweak: 2)
        for part in parts {
            a.append(part)
            b.append(part)
        }
        return (a.finalize(), b.finalize())
    }

    /// The hex digits of the id, version and variant bits restored from the reference.
    static func digits(_ hashes: (UInt64, UInt64)) -> String {
        let high = (hashes.0 & ~0xF000) | 0x8000
        let low = (hashes.1 & ~0xC000_0000_0000_0000) | 0x8000_0000_0000_0000
        func hex(_ value: UInt64) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: 16 - text.count) + text
        }
        return hex(high) + hex(low)
    }

    /// Every length 0–40 (all alignments of the 8-byte word loads), non-ASCII, and one longer than
    /// any stack buffer.
    static let samples: [String] =
        (0...40).map { String(repeating: "a", count: $0) }
        + ["", "é", "Zürich → 東京", "tenant-\u{1F600}", "\"quoted\"\n", String(repeating: "ü", count: 3000)]

    @Test func threePartIdsEqualTheStreamedHash() {
        let key = SipHashKey.publicDefault.derived(4)
        for (index, tenant) in Self.samples.enumerated() {
            let eventID = Self.samples[(index * 7 + 3) % Self.samples.count]
            let id = Identifiers.uuid(key, "decision", tenant, eventID)
            #expect(id.count == 36)
            #expect(id.filter { $0 != "-" } == Self.digits(Self.reference(key, ["decision", tenant, eventID])))
        }
    }

    @Test func findingIdsEqualTheStreamedHash() {
        let key = SipHashKey.publicDefault.derived(4)
        for (index, subject) in Self.samples.enumerated() {
            // Six parts, and seven for the findings that name their triggering event.
            let parts =
                [
                    "finding", "credential_stuffing", "source", Self.samples[index % 5], subject,
                    String(index * 1_000_003),
                ] + (index.isMultiple(of: 2) ? [] : [Self.samples[(index * 3) % Self.samples.count]])
            let id = Identifiers.uuid(key, parts: parts)
            #expect(id.filter { $0 != "-" } == Self.digits(Self.reference(key, parts)))
        }
    }

    @Test(arguments: [0, 9, 10, 15, 0x0123_4567, 0x89AB_CDEF, 0xFFFF_FFFF, 0xA0B0_C0D0, 0x7FFF_FFFF] as [UInt32])
    func hexDigitsAreEightLowerCaseDigitsMostSignificantFirst(_ value: UInt32) {
        var word = Identifiers.hexDigits(value)
        let text = withUnsafeBytes(of: &word) { String(decoding: $0, as: UTF8.self) }
        let expected = String(value, radix: 16)
        #expect(text == String(repeating: "0", count: 8 - expected.count) + expected)
    }

    @Test func layoutIsAVersion8UUID() {
        let id = Identifiers.uuid(.publicDefault, "decision", "", "e-1")
        let groups = id.split(separator: "-", omittingEmptySubsequences: false).map(\.count)
        #expect(groups == [8, 4, 4, 4, 12])
        #expect(Array(id)[14] == "8")
        #expect("89ab".contains(Array(id)[19]))
        #expect(id == id.lowercased())
    }
}
