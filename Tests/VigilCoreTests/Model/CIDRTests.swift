import Testing

@testable import VigilCore

@Suite("CIDR")
struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8", "10.255.255.255"),
        ("0.0.0.0/0", "0.0.0.0/0", "255.255.255.255"),
        ("198.51.100.7", "198.51.100.7/32", "198.51.100.7"),
        ("192.0.2.128/25", "192.0.2.128/25", "192.0.2.255"),
        ("2001:db8::/32", "2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("::/0", "::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8::1", "2001:db8::1/128", "2001:db8::1"),
        ("2001:db8:0:0:8000::/65", "2001:db8:0:0:8000::/65", "2001:db8::ffff:ffff:ffff:ffff"),
        ("::ffff:192.0.2.0/120", "192.0.2.0/24", "192.0.2.255"),
    ])
    func parses(text: String, canonical: String, last: String) throws {
        let cidr = try CIDR(text)
        #expect(cidr.description == canonical)
        #expect(cidr.last == IPAddress(last))
        #expect(cidr.contains(cidr.network) && cidr.contains(cidr.last))
    }

    @Test func ipv4PrefixIsStoredInTheMappedRange() throws {
        let cidr = try CIDR("10.0.0.0/8")
        #expect(cidr.prefixLength128 == 104)
        #expect(cidr.network == IPAddress("10.0.0.0"))
        #expect(!cidr.contains(IPAddress("11.0.0.0")!))
        #expect(!cidr.contains(IPAddress("9.255.255.255")!))
        #expect(!cidr.contains(IPAddress("::a00:0")!), "IPv4-compatible IPv6 is not the IPv4 address")
    }

    @Test(arguments: [
        ("10.0.0.1/8", CIDRError.hostBitsSet("10.0.0.1/8", network: "10.0.0.0/8")),
        ("2001:db8::1/32", .hostBitsSet("2001:db8::1/32", network: "2001:db8::/32")),
        ("10.0.0.0/33", .invalidPrefix("10.0.0.0/33", maximum: 32)),
        ("2001:db8::/129", .invalidPrefix("2001:db8::/129", maximum: 128)),
        ("10.0.0.0/", .invalidPrefix("10.0.0.0/", maximum: 32)),
        ("10.0.0.0/08", .invalidPrefix("10.0.0.0/08", maximum: 32)),
        ("10.0.0.0/-1", .invalidPrefix("10.0.0.0/-1", maximum: 32)),
        ("10.0.0.0/8/9", .invalidPrefix("10.0.0.0/8/9", maximum: 32)),
        ("10.0.0.0/ 8", .invalidPrefix("10.0.0.0/ 8", maximum: 32)),
        ("10.0.0/8", .invalidAddress("10.0.0/8")),
        ("/8", .invalidAddress("/8")),
        ("example.com", .invalidAddress("example.com")),
        ("", .invalidAddress("")),
    ])
    func rejects(text: String, error: CIDRError) {
        #expect(throws: error) { try CIDR(text) }
    }

    @Test func errorTextSuggestsTheNetwork() {
        #expect(
            CIDRError.hostBitsSet("10.0.0.1/8", network: "10.0.0.0/8").description.contains("did you mean 10.0.0.0/8"))
    }
}
