import _VigilMachinery

/// Enciphers an IP address under a key derived from the operator's secret, reversibly: a four-round
/// Feistel network over the two 64-bit halves with SipHash as the round function (a pseudo-random
/// permutation of the 128-bit value by the Luby–Rackoff construction).
///
/// Used for the one address state must give back verbatim: the user's last login, which the
/// impossible-travel alert cites as its first source. Stored as a plain keyed hash it could not be
/// cited after a restore; enciphered, it is as hidden as a keyed hash of an IPv4 address would be (with
/// the key, both fall to trying the 2^32 addresses), and nothing readable sits in the bytes.
struct AddressCipher {
    let key: SipHashKey

    static let rounds: UInt64 = 4

    func encipher(_ address: IPAddress) -> (UInt64, UInt64) {
        var (left, right) = (address.high, address.low)
        for round in 0..<Self.rounds { (left, right) = (right, left ^ key.hash(right, tweak: round)) }
        return (left, right)
    }

    func decipher(_ high: UInt64, _ low: UInt64) -> IPAddress {
        var (left, right) = (high, low)
        for round in (0..<Self.rounds).reversed() { (left, right) = (right ^ key.hash(left, tweak: round), left) }
        return IPAddress(high: left, low: right)
    }
}
