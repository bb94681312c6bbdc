/// An IPv4 or IPv6 address as a 128-bit value. IPv4 addresses are held IPv4-mapped (`::ffff:a.b.c.d`)
/// so that one representation serves lookups, hashing and prefix aggregation for both families.
public struct IPAddress: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The upper and lower 64 bits, network order.
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit value.
    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = 0x0000_FFFF_0000_0000 | UInt64(value)
    }

    public var isIPv4: Bool { high == 0 && (low >> 32) == 0x0000_FFFF }

    /// The 32-bit IPv4 value, when this is an IPv4 address.
    public var ipv4Value: UInt32? { isIPv4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// The 16 bytes in network order (IPv4-mapped for IPv4).
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            out[i] = UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64(i)))
            out[8 + i] = UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64(i)))
        }
        return out
    }

    /// The address with all bits after the first `bits` (of the 128-bit form) cleared.
    public func masked(toPrefix bits: Int) -> IPAddress {
        if bits <= 0 { return IPAddress(high: 0, low: 0) }
        if bits >= 128 { return self }
        if bits <= 64 {
            let mask: UInt64 = bits == 64 ? ~0 : ~(~0 >> UInt64(bits))
            return IPAddress(high: high & mask, low: 0)
        }
        let mask: UInt64 = ~(~0 >> UInt64(bits - 64))
        return IPAddress(high: high, low: low & mask)
    }

    /// The key that groups traffic from one source: the address for IPv4, its /64 for IPv6
    /// (one customer's allocation, so rotating within it does not evade per-IP counters).
    public var sourceKey: IPAddress { isIPv4 ? self : masked(toPrefix: 64) }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
    }

    /// Canonical text: dotted quad for IPv4, RFC 5952 for IPv6.
    public var description: String {
        if let v4 = ipv4Value {
            return "\(v4 >> 24).\((v4 >> 16) & 0xFF).\((v4 >> 8) & 0xFF).\(v4 & 0xFF)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for i in 0..<4 {
            groups[i] = UInt16(truncatingIfNeeded: high >> (48 - 16 * UInt64(i)))
            groups[4 + i] = UInt16(truncatingIfNeeded: low >> (48 - 16 * UInt64(i)))
        }
        // Longest run (length >= 2) of zero groups, first one on ties, is written as "::".
        var bestStart = -1
        var bestLength = 0
        var runStart = -1
        for i in 0...8 {
            if i < 8 && groups[i] == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength {
                    bestStart = runStart
                    bestLength = i - runStart
                }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var text = ""
        var i = 0
        while i < 8 {
            if i == bestStart {
                text += "::"
                i += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[i], radix: 16)
            i += 1
        }
        return text
    }
}

extension IPAddress {
    /// Parses IPv4 dotted-quad or IPv6 text (RFC 4291 forms, with an embedded IPv4 tail allowed).
    /// Rejects leading zeros in IPv4 octets (ambiguous octal), zone ids, brackets and anything else.
    public init?(_ text: String) {
        var text = text
        let parsed: IPAddress? = text.withUTF8 { IPAddress.parse(UnsafeRawBufferPointer($0)) }
        guard let parsed else { return nil }
        self = parsed
    }

    /// Parses the address from raw UTF-8 bytes without allocating.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
        if bytes.isEmpty || bytes.count > 45 { return nil }
        var hasColon = false
        for byte in bytes where byte == UInt8(ascii: ":") {
            hasColon = true
            break
        }
        if !hasColon {
            guard let v4 = parseIPv4(bytes, from: 0, to: bytes.count) else { return nil }
            return IPAddress(ipv4: v4)
        }
        return parseIPv6(bytes)
    }

    private static func parseIPv4(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        var index = start
        while index < end {
            var octet: UInt32 = 0
            var digits = 0
            let octetStart = index
            while index < end, let digit = decimalDigit(bytes[index]) {
                octet = octet * 10 + digit
                digits += 1
                index += 1
                if digits > 3 { return nil }
            }
            if digits == 0 || octet > 255 { return nil }
            if digits > 1 && bytes[octetStart] == UInt8(ascii: "0") { return nil }
            value = (value << 8) | octet
            octets += 1
            if index < end {
                guard bytes[index] == UInt8(ascii: "."), octets < 4 else { return nil }
                index += 1
                if index == end { return nil }
            }
        }
        return octets == 4 ? value : nil
    }

    private static func parseIPv6(_ bytes: UnsafeRawBufferPointer) -> IPAddress? {
        var groups = [UInt16](repeating: 0, count: 8)
        var count = 0
        var doubleColonAt = -1
        var index = 0
        let end = bytes.count
        if bytes[0] == UInt8(ascii: ":") {
            guard end > 1, bytes[1] == UInt8(ascii: ":") else { return nil }
            doubleColonAt = 0
            index = 2
        }
        while index < end {
            // An IPv4 tail occupies the last two groups.
            var isIPv4Tail = false
            var scan = index
            while scan < end, bytes[scan] != UInt8(ascii: ":") {
                if bytes[scan] == UInt8(ascii: ".") { isIPv4Tail = true }
                scan += 1
            }
            if isIPv4Tail {
                guard scan == end, count <= 6, let v4 = parseIPv4(bytes, from: index, to: end) else { return nil }
                groups[count] = UInt16(v4 >> 16)
                groups[count + 1] = UInt16(v4 & 0xFFFF)
                count += 2
                index = end
                break
            }
            var group: UInt32 = 0
            var digits = 0
            while index < end, let digit = hexDigit(bytes[index]) {
                group = group << 4 | digit
                digits += 1
                index += 1
                if digits > 4 { return nil }
            }
            if digits == 0 || count == 8 { return nil }
            groups[count] = UInt16(group)
            count += 1
            if index < end {
                guard bytes[index] == UInt8(ascii: ":") else { return nil }
                index += 1
                if index < end, bytes[index] == UInt8(ascii: ":") {
                    guard doubleColonAt < 0 else { return nil }
                    doubleColonAt = count
                    index += 1
                } else if index == end {
                    return nil
                }
            }
        }
        if doubleColonAt >= 0 {
            guard count < 8 else { return nil }
            let tail = count - doubleColonAt
            var expanded = [UInt16](repeating: 0, count: 8)
            for i in 0..<doubleColonAt { expanded[i] = groups[i] }
            for i in 0..<tail { expanded[8 - tail + i] = groups[doubleColonAt + i] }
            groups = expanded
        } else if count != 8 {
            return nil
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for i in 0..<4 {
            high = high << 16 | UInt64(groups[i])
            low = low << 16 | UInt64(groups[4 + i])
        }
        return IPAddress(high: high, low: low)
    }

    private static func decimalDigit(_ byte: UInt8) -> UInt32? {
        byte >= 48 && byte <= 57 ? UInt32(byte - 48) : nil
    }

    private static func hexDigit(_ byte: UInt8) -> UInt32? {
        switch byte {
        case 48...57: UInt32(byte - 48)
        case 97...102: UInt32(byte - 87)
        case 65...70: UInt32(byte - 55)
        default: nil
        }
    }
}
