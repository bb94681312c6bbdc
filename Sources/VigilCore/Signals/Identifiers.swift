import _VigilMachinery

/// Deterministic public identifiers derived from content.
///
/// An id is two SipHash-2-4 values of the same bytes (tweaks 1 and 2): every part's UTF-8 followed by
/// a 0xFF separator, which no UTF-8 text contains, so parts can't run together. The parts are joined
/// once into a temporary buffer (on the stack for ids of ordinary size) and each stream then reads it
/// eight bytes at a time.
enum Identifiers {
    /// A UUID-formatted (version 8, RFC 9562) id from three parts (decision ids).
    static func uuid(_ key: SipHashKey, _ p0: String, _ p1: String, _ p2: String) -> String {
        let count = p0.utf8.count + p1.utf8.count + p2.utf8.count + 3
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            var joined = JoinedParts(buffer)
            joined.append(p0)
            joined.append(p1)
            joined.append(p2)
            return uuid(key, joined: joined.bytes)
        }
    }

    /// A UUID-formatted id from any number of parts (finding uids).
    static func uuid(_ key: SipHashKey, parts: [String]) -> String {
        let count = parts.reduce(parts.count) { $0 + $1.utf8.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            var joined = JoinedParts(buffer)
            for part in parts { joined.append(part) }
            return uuid(key, joined: joined.bytes)
        }
    }

    /// The id of bytes already joined with separators.
    static func uuid(_ key: SipHashKey, joined: UnsafeRawBufferPointer) -> String {
        var high = key.hash(joined, tweak: 1)
        var low = key.hash(joined, tweak: 2)
        high = (high & ~0xF000) | 0x8000  // version 8
        low = (low & ~(0xC000_0000_0000_0000)) | 0x8000_0000_0000_0000  // RFC variant
        // 8-4-4-4-12 hex digits written straight into the string's storage, eight digits per store.
        return String(unsafeUninitializedCapacity: 36) { buffer in
            let out = UnsafeMutableRawPointer(buffer.baseAddress!)
            let middle = hexDigits(UInt32(truncatingIfNeeded: high))
            let lowHigh = hexDigits(UInt32(truncatingIfNeeded: low >> 32))
            out.storeBytes(of: hexDigits(UInt32(truncatingIfNeeded: high >> 32)), as: UInt64.self)
            out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 8, as: UInt8.self)
            out.storeBytes(of: UInt32(truncatingIfNeeded: middle), toByteOffset: 9, as: UInt32.self)
            out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 13, as: UInt8.self)
            out.storeBytes(of: UInt32(truncatingIfNeeded: middle >> 32), toByteOffset: 14, as: UInt32.self)
            out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 18, as: UInt8.self)
            out.storeBytes(of: UInt32(truncatingIfNeeded: lowHigh), toByteOffset: 19, as: UInt32.self)
            out.storeBytes(of: UInt8(ascii: "-"), toByteOffset: 23, as: UInt8.self)
            out.storeBytes(of: UInt32(truncatingIfNeeded: lowHigh >> 32), toByteOffset: 24, as: UInt32.self)
            out.storeBytes(of: hexDigits(UInt32(truncatingIfNeeded: low)), toByteOffset: 28, as: UInt64.self)
            return 36
        }
    }

    /// The eight lower-case hex digits of `value`, most significant first, as the bytes of a
    /// little-endian word: each nibble spread into its own byte, then '0'–'9' or 'a'–'f' added to all
    /// eight at once.
    static func hexDigits(_ value: UInt32) -> UInt64 {
        var x = UInt64(value)
        x = (x | x << 16) & 0x0000_FFFF_0000_FFFF
        x = (x | x << 8) & 0x00FF_00FF_00FF_00FF
        x = (x | x << 4) & 0x0F0F_0F0F_0F0F_0F0F
        x = x.byteSwapped.littleEndian  // most significant nibble first in memory
        let letters = ((x &+ 0x0606_0606_0606_0606) >> 4) & 0x0101_0101_0101_0101  // 1 where the nibble ≥ 10
        return x &+ 0x3030_3030_3030_3030 &+ letters &* 0x27
    }
}

/// Parts copied one after the other into a buffer sized for them, each followed by 0xFF.
private struct JoinedParts {
    let buffer: UnsafeMutableBufferPointer<UInt8>
    var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

    mutating func append(_ part: String) {
        let end = buffer[count...].initialize(fromContentsOf: part.utf8)
        buffer[end] = 0xFF
        count = end + 1
    }

    var bytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[..<count])
    }
}
