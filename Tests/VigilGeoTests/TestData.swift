import Foundation
import Testing
import VigilCore
import VigilTestSupport

/// The JSON sources MaxMind builds its test databases from.
enum TestData {
    /// The networks of a `*-Test.json` source file in file order, each with its record.
    static func networks(_ name: String) throws -> [(network: String, record: [String: Any])] {
        let data = try Data(contentsOf: TestPaths.maxmind(name))
        let list = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return try list.map { entry in
            let (network, record) = try #require(entry.first)
            return (network, try #require(record as? [String: Any]))
        }
    }
}

/// Addresses to probe one JSON network with: its first and last address, in every form the database
/// answers for. MaxMind's IPv6 test trees hold IPv4 at `::a.b.c.d`; libmaxminddb reaches that subtree
/// for a plain IPv4 socket address, so an IPv4 network is probed both as IPv4 and as `::a.b.c.d`.
struct Probe {
    /// The network in the IPv4-compatible form the tree uses (`::a.b.c.d/96+n` for IPv4).
    let treeNetwork: CIDR
    let addresses: [IPAddress]

    init(_ text: String) throws {
        let cidr = try CIDR(text)
        let isIPv4 = cidr.network.isIPv4 && cidr.prefixLength128 >= 96
        // `::a.b.c.d` is held as-is (not IPv4-mapped) by IPAddress, so it is looked up as IPv6.
        let compatible = cidr.network.high == 0 && cidr.network.low >> 32 == 0 && cidr.prefixLength128 >= 96
        treeNetwork = isIPv4 ? try CIDR("::\(cidr.network)/\(cidr.prefixLength128)") : cidr
        var addresses: [IPAddress] = []
        for address in [treeNetwork.network, treeNetwork.last] {
            addresses.append(address)
            if isIPv4 || compatible { addresses.append(IPAddress(ipv4: UInt32(truncatingIfNeeded: address.low))) }
        }
        self.addresses = addresses
    }

    /// The same address in tree form, for comparing against other networks of the file.
    static func treeForm(_ address: IPAddress) -> IPAddress {
        address.isIPv4 ? IPAddress(high: 0, low: address.low & 0xFFFF_FFFF) : address
    }
}
