import Testing

@testable import VigilCore

@Suite("Reputation table")
struct ReputationTableTests {
    private func table(_ networks: [(String, String)], asn: [UInt32: String] = [:]) throws -> ReputationTable {
        ReputationTable(asnCategories: asn, networks: try networks.map { (try CIDR($0.0), category: $0.1) })
    }

    private func categories(_ table: ReputationTable, _ address: String) -> [String] {
        table.categories(containing: IPAddress(address)!)
    }

    @Test func ipv4RangeEdges() throws {
        let t = try table([("10.0.0.0/8", "a"), ("192.0.2.255/32", "b")])
        #expect(categories(t, "9.255.255.255") == [])
        #expect(categories(t, "10.0.0.0") == ["a"])
        #expect(categories(t, "10.255.255.255") == ["a"])
        #expect(categories(t, "11.0.0.0") == [])
        #expect(categories(t, "192.0.2.254") == [])
        #expect(categories(t, "192.0.2.255") == ["b"])
        #expect(categories(t, "192.0.3.0") == [])
        #expect(categories(t, "::a00:1") == [], "IPv4-compatible IPv6 is outside IPv4 networks")
    }

    @Test func ipv6RangeEdges() throws {
        let t = try table([("2001:db8::/32", "c"), ("2001:db8:1::/48", "d")])
        #expect(categories(t, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff") == [])
        #expect(categories(t, "2001:db8::") == ["c"])
        #expect(categories(t, "2001:db8:0:ffff:ffff:ffff:ffff:ffff") == ["c"])
        #expect(categories(t, "2001:db8:1::") == ["c", "d"])
        #expect(categories(t, "2001:db8:1:ffff:ffff:ffff:ffff:ffff") == ["c", "d"])
        #expect(categories(t, "2001:db8:2::") == ["c"])
        #expect(categories(t, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff") == ["c"])
        #expect(categories(t, "2001:db9::") == [])
        #expect(categories(t, "10.0.0.1") == [])
    }

    @Test func overlapsRepeatsAndTheWholeSpace() throws {
        let t = try table([
            ("10.0.0.0/8", "b"), ("10.1.0.0/16", "a"), ("10.1.2.0/24", "b"), ("10.1.2.0/24", "b"),
            ("::/0", "z"), ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "top"),
        ])
        #expect(categories(t, "::") == ["z"])
        #expect(categories(t, "10.0.0.1") == ["b", "z"])
        #expect(categories(t, "10.1.2.3") == ["a", "b", "z"])
        #expect(categories(t, "10.1.3.0") == ["a", "b", "z"])
        #expect(categories(t, "10.2.0.0") == ["b", "z"])
        #expect(categories(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe") == ["z"])
        #expect(categories(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff") == ["top", "z"])
    }

    @Test func emptyTableMatchesNothing() {
        #expect(ReputationTable.empty.matches(address: IPAddress("1.2.3.4")!, asn: 1) == [])
        #expect(ReputationTable.empty.rangeCount == 1)
    }

    @Test func asnMatchComesFirst() throws {
        let t = try table([("203.0.113.0/24", "hosting"), ("203.0.113.0/25", "bad")], asn: [64500: "vpn"])
        #expect(
            t.matches(address: IPAddress("203.0.113.1")!, asn: 64500) == [
                ReputationMatch(source: .asn, category: "vpn"), ReputationMatch(source: .cidr, category: "bad"),
                ReputationMatch(source: .cidr, category: "hosting"),
            ])
        #expect(
            t.matches(address: IPAddress("203.0.113.200")!, asn: 64501) == [
                ReputationMatch(source: .cidr, category: "hosting")
            ])
        #expect(t.matches(address: IPAddress("198.51.100.1")!, asn: nil) == [])
        let matches = t.matches(address: IPAddress("203.0.113.1")!, asn: 64500)
        #expect(matches == matches.sorted())
    }

    /// Random overlapping networks of both families against a linear scan, at every range edge.
    @Test func agreesWithLinearScan() throws {
        var random = SplitMix64(seed: 0x5EED)
        var networks: [(CIDR, category: String)] = []
        for _ in 0..<1500 {
            let isIPv4 = random.next() % 2 == 0
            let prefix = isIPv4 ? 96 + Int(random.next() % 33) : Int(random.next() % 129)
            // Few distinct top bits so networks overlap.
            let base =
                isIPv4
                ? IPAddress(ipv4: UInt32(truncatingIfNeeded: random.next()) & 0x0F0F_FFFF)
                : IPAddress(high: 0x2001_0DB8_0000_0000 | (random.next() & 0xFF_FFFF), low: random.next())
            networks.append(
                (CIDR(network: base.masked(toPrefix: prefix), prefixLength128: prefix), "c\(random.next() % 7)"))
        }
        let t = ReputationTable(networks: networks)
        var probes: [IPAddress] = []
        for (cidr, _) in networks {
            probes.append(cidr.network)
            probes.append(cidr.last)
            let before =
                cidr.network.low == 0
                ? IPAddress(high: cidr.network.high &- 1, low: ~0)
                : IPAddress(high: cidr.network.high, low: cidr.network.low - 1)
            probes.append(before)
            let after =
                cidr.last.low == ~0
                ? IPAddress(high: cidr.last.high &+ 1, low: 0)
                : IPAddress(high: cidr.last.high, low: cidr.last.low + 1)
            probes.append(after)
        }
        for address in probes {
            let expected = Array(Set(networks.filter { $0.0.contains(address) }.map(\.category))).sorted()
            #expect(t.categories(containing: address) == expected, "\(address)")
        }
    }

    @Test func parsesListsWithCommentsAndLineEndings() throws {
        let text = "# header\n\n10.0.0.0/8\n  192.0.2.1  # a host\r\n2001:db8::/32\t\n   # indented comment\n"
        let cidrs = try ReputationTable.parseCIDRList(text: text, source: "list.txt")
        #expect(cidrs.map(\.description) == ["10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32"])
        #expect(try ReputationTable.parseCIDRList(text: "", source: "empty").isEmpty)
    }

    @Test(arguments: [
        ("10.0.0.0/8\nnot-an-ip\n", 2, CIDRError.invalidAddress("not-an-ip")),
        ("# c\r\n\r\n10.0.0.0/40\r\n", 3, .invalidPrefix("10.0.0.0/40", maximum: 32)),
        ("1.1.1.1/24 # typo\n", 1, .hostBitsSet("1.1.1.1/24", network: "1.1.1.0/24")),
        ("10.0.0.0/8 10.0.0.0/9\n", 1, .invalidPrefix("10.0.0.0/8 10.0.0.0/9", maximum: 32)),
    ])
    func listErrorsCarryTheLine(text: String, line: Int, error: CIDRError) {
        #expect(throws: CIDRListError.invalidLine(source: "feeds/x.txt", line: line, error)) {
            try ReputationTable.parseCIDRList(text: text, source: "feeds/x.txt")
        }
    }
}

/// Deterministic pseudo-random numbers, so a failure reproduces.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
