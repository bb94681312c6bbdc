/// SipHash-2-4: a keyed pseudo-random function. Device ids, user keys and deterministic ids are
/// hashed with it so raw identifiers never enter state and an attacker cannot craft collisions
/// without the key. Implemented here so the core needs no C crypto library.
public struct SipHashKey: Sendable, Hashable {
    public var k0: UInt64
    public var k1: UInt64

    @inlinable public init(k0: UInt64, k1: UInt64) {
        self.k0 = k0
        self.k1 = k1
    }

    /// Derives a key from arbitrary secret bytes (at least 16 are expected; shorter secrets are
    /// stretched deterministically but callers should refuse them).
    @inlinable public init<Bytes: Collection>(secret: Bytes) where Bytes.Element == UInt8 {
        let bootstrap = SipHashKey(k0: 0x7669_6769_6c2d_6b30, k1: 0x7669_6769_6c2d_6b31)
        let bytes = Array(secret)
        self.k0 = bootstrap.hash(bytes, tweak: 1)
        self.k1 = bootstrap.hash(bytes, tweak: 2)
    }

    /// The public key replay and demo use when no secret is configured: reproducible, not secret.
    public static let publicDefault = SipHashKey(k0: 0x5669_6769_6c20_6465, k1: 0x6d6f_206b_6579_2121)

    /// A derived key for a separate purpose, so hashes of one kind can't be matched against another.
    @inlinable public func derived(_ purpose: UInt64) -> SipHashKey {
        var buffer = purpose
        let a = withUnsafeBytes(of: &buffer) { hash($0) }
        return SipHashKey(k0: a, k1: hash(UInt64(0), tweak: purpose))
    }

    @inlinable public func hash<Bytes: Sequence>(_ bytes: Bytes, tweak: UInt64 = 0) -> UInt64
    where Bytes.Element == UInt8 {
        var state = SipHashState(key: self, tweak: tweak)
        for byte in bytes { state.append(byte) }
        return state.finalize()
    }

    @inlinable public func hash(_ bytes: UnsafeRawBufferPointer, tweak: UInt64 = 0) -> UInt64 {
        var state = SipHashState(key: self, tweak: tweak)
        state.append(bytes)
        return state.finalize()
    }

    @inlinable public func hash(_ string: String, tweak: UInt64 = 0) -> UInt64 {
        var string = string
        return string.withUTF8 { hash(UnsafeRawBufferPointer($0), tweak: tweak) }
    }

    @inlinable public func hash(_ value: UInt64, tweak: UInt64) -> UInt64 {
        var value = value.littleEndian
        return withUnsafeBytes(of: &value) { hash($0, tweak: tweak) }
    }
}

/// Incremental SipHash-2-4 over bytes, for hashing several fields without concatenating them.
public struct SipHashState: Sendable {
    @usableFromInline var v0: UInt64, v1: UInt64, v2: UInt64, v3: UInt64
    @usableFromInline var pending: UInt64
    @usableFromInline var pendingCount: UInt64
    @usableFromInline var length: UInt64

    @inlinable public init(key: SipHashKey, tweak: UInt64 = 0) {
        v0 = key.k0 ^ 0x736f_6d65_7073_6575
        v1 = key.k1 ^ 0x646f_7261_6e64_6f6d ^ tweak
        v2 = key.k0 ^ 0x6c79_6765_6e65_7261
        v3 = key.k1 ^ 0x7465_6462_7974_6573
        pending = 0
        pendingCount = 0
        length = 0
    }

    @inlinable public mutating func append(_ byte: UInt8) {
        pending |= UInt64(byte) << (8 * pendingCount)
        pendingCount += 1
        length &+= 1
        if pendingCount == 8 {
            compress(pending)
            pending = 0
            pendingCount = 0
        }
    }

    @inlinable public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var index = 0
        let count = bytes.count
        while pendingCount != 0 && index < count {
            append(bytes[index])
            index += 1
        }
        while index + 8 <= count {
            compress(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)))
            length &+= 8
            index += 8
        }
        while index < count {
            append(bytes[index])
            index += 1
        }
    }

    @inlinable public mutating func append(_ string: String) {
        var string = string
        string.withUTF8 { append(UnsafeRawBufferPointer($0)) }
        append(UInt8(0xFF))  // separator: not a valid UTF-8 byte, so fields can't run together
    }

    @inlinable public mutating func append(_ value: UInt64) {
        var value = value.littleEndian
        withUnsafeBytes(of: &value) { append($0) }
    }

    @inlinable public consuming func finalize() -> UInt64 {
        let last = ((length & 0xFF) << 56) | pending
        compress(last)
        v2 ^= 0xFF
        round()
        round()
        round()
        round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    @inlinable mutating func compress(_ m: UInt64) {
        v3 ^= m
        round()
        round()
        v0 ^= m
    }

    @inline(__always)
    @inlinable mutating func round() {
        v0 &+= v1
        v1 = v1.rotateLeft(13)
        v1 ^= v0
        v0 = v0.rotateLeft(32)
        v2 &+= v3
        v3 = v3.rotateLeft(16)
        v3 ^= v2
        v0 &+= v3
        v3 = v3.rotateLeft(21)
        v3 ^= v0
        v2 &+= v1
        v1 = v1.rotateLeft(17)
        v1 ^= v2
        v2 = v2.rotateLeft(32)
    }
}

extension UInt64 {
    @inline(__always)
    @inlinable func rotateLeft(_ count: UInt64) -> UInt64 { (self << count) | (self >> (64 - count)) }
}
