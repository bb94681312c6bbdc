/// A network written as an address and a prefix length, the unit of the operator's reputation lists.
///
/// IPv4 networks are held in the IPv4-mapped part of the 128-bit space, like `IPAddress`, so one
/// table serves both families. Parsing is strict on purpose: a network whose host bits are set
/// (`10.0.0.1/8`) is rejected rather than silently widened, because in a block list a mistyped prefix
/// usually means the operator meant a much smaller network. A bare address is a single-host network.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The first address of the network (host bits clear).
    public let network: IPAddress
    /// Prefix length in the 128-bit space (IPv4 `/n` is stored as `96 + n`).
    public let prefixLength128: Int

    /// Parses `a.b.c.d/n` (n in 0...32), `x:y::/n` (n in 0...128), or a bare address (one host).
    public init(_ text: String) throws(CIDRError) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(String(parts[0])) else { throw .invalidAddress(text) }
        let isIPv6Text = parts[0].contains(":")
        let familyBits = isIPv6Text ? 128 : 32
        var familyPrefix = familyBits
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                !(digits.count > 1 && digits.first == "0"), let value = Int(digits), value <= familyBits
            else { throw .invalidPrefix(text, maximum: familyBits) }
            familyPrefix = value
        }
        let prefix = isIPv6Text ? familyPrefix : 96 + familyPrefix
        let network = address.masked(toPrefix: prefix)
        guard network == address else {
            throw .hostBitsSet(text, network: CIDR(network: network, prefixLength128: prefix).description)
        }
        self.init(network: network, prefixLength128: prefix)
    }

    /// A network from an address already masked to `prefixLength128` bits.
    init(network: IPAddress, prefixLength128: Int) {
        self.network = network
        self.prefixLength128 = prefixLength128
    }

    /// The last address of the network.
    public var last: IPAddress {
        let bits = prefixLength128
        if bits >= 128 { return network }
        if bits <= 64 {
            let hostMask: UInt64 = bits == 0 ? ~0 : ~0 >> UInt64(bits)
            return IPAddress(high: network.high | hostMask, low: ~0)
        }
        return IPAddress(high: network.high, low: network.low | (~0 >> UInt64(bits - 64)))
    }

    /// Whether `address` is inside the network; an IPv4 address matches IPv4 networks through its mapped form.
    public func contains(_ address: IPAddress) -> Bool {
        address.masked(toPrefix: prefixLength128) == network
    }

    /// `a.b.c.d/n` for networks inside the IPv4-mapped range, otherwise `x::/n`.
    public var description: String {
        if network.isIPv4 && prefixLength128 >= 96 { return "\(network)/\(prefixLength128 - 96)" }
        return "\(network)/\(prefixLength128)"
    }
}

/// Why a CIDR did not parse; each case carries the offending text.
public enum CIDRError: Error, Equatable, CustomStringConvertible {
    case invalidAddress(String)
    case invalidPrefix(String, maximum: Int)
    /// Carries the network the text would denote with its host bits cleared, as a hint.
    case hostBitsSet(String, network: String)

    /// The message for the operator, quoting the offending text.
    public var description: String {
        switch self {
        case .invalidAddress(let text): "'\(text)': not an IPv4 or IPv6 address"
        case .invalidPrefix(let text, let maximum): "'\(text)': prefix length must be a number from 0 to \(maximum)"
        case .hostBitsSet(let text, let network): "'\(text)': host bits are set (did you mean \(network)?)"
        }
    }
}
