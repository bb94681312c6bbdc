import Testing

@testable import VigilCore

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("1.2.3.4", "1.2.3.4"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("::", "::"), ("::1", "::1"), ("2001:db8::1", "2001:db8::1"),
        ("2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"), ("::ffff:81.2.69.142", "81.2.69.142"),
        ("fe80::1:2:3:4", "fe80::1:2:3:4"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"),
    ])
    func parsesAndFormatsCanonically(input: String, canonical: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1..2.3", "1.2.3.",
        ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "g::1", "fe80::1%eth0", "[::1]", "1:",
        ":1", "1:2:3:4:5:6:7::8:9", "::1.2.3", "1.2.3.4::", "abc", "-1.2.3.4",
    ])
    func rejectsMalformedText(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func ipv6SourceKeyAggregatesTo64() throws {
        let a = try #require(IPAddress("2001:db8:1:2:aaaa::1"))
        let b = try #require(IPAddress("2001:db8:1:2:bbbb::9"))
        #expect(a.sourceKey == b.sourceKey)
        #expect(a.sourceKey.description == "2001:db8:1:2::")
        let v4 = try #require(IPAddress("10.1.2.3"))
        #expect(v4.sourceKey == v4)
    }
}
