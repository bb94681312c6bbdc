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

    /// A UUID-formatted id from six parts (finding uids).
    static func uuid(
        _ key: SipHashKey, _ p0: String, _ p1: String, _ p2: String, _ p3: String, _ p4: String, _ p5: String
    ) -> String {
        let count = [p0, p1, p2, p3, p4, p5].reduce(6) { $0 + $1.utf8.count }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: count) { buffer in
            var joined = JoinedParts(buffer)
            for part in [p0, p1, p2, p3, p4, p5] { joined.append(part) }
            return uuid(key, joined: joined.bytes)
        }
    }

    /// The id of bytes already joined with separators.
    static func uuid(_ key: SipHashKey, joined: UnsafeRawBufferPointer) -> String {
        var high = key.hash(joined, tweak: 1)
        var low = key.hash(joined, tweak: 2)
        high = (high & ~0xF000) | 0x8000  // version 8
        low = (low & ~(0xC000_0000_0000_0000)) | 0x8000_0000_0000_0000  // RFC variant
        // 8-4-4-4-12 hex digits written straight into the string's storage.
        return String(unsafeUninitializedCapacity: 36) { out in
            var position = 0
            func put(_ value: UInt64, digits: Int) {
                for shift in stride(from: (digits - 1) * 4, through: 0, by: -4) {
                    let nibble = UInt8((value >> UInt64(shift)) & 0xF)
                    out[position] = nibble < 10 ? 48 + nibble : 87 + nibble
                    position += 1
                }
            }
            func dash() {
                out[position] = UInt8(ascii: "-")
                position += 1
            }
            put(high >> 32, digits: 8)
            dash()
            put(high >> 16, digits: 4)
            dash()
            put(high, digits: 4)
            dash()
            put(low >> 48, digits: 4)
            dash()
            put(low, digits: 12)
            return position
        }
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

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[..<count]) }
}
