/// Strict UTF-8 validation (RFC 3629): no overlong forms, no encoded surrogates, nothing above
/// U+10FFFF. Run over the whole message before parsing, so no later stage ever sees bad text.
public enum UTF8Validation {
    /// The offset of the first invalid byte, or nil when `bytes` is valid UTF-8.
    @inlinable public static func firstInvalidOffset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        var index = 0
        while index < count {
            // ASCII fast path, eight bytes at a time.
            while index + 8 <= count,
                bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
            }
            guard index < count else { return nil }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            // Allowed range of the second byte, then how many plain continuation bytes follow it.
            let secondLow: UInt8
            let secondHigh: UInt8
            let tail: Int
            switch lead {
            case 0xC2...0xDF: (secondLow, secondHigh, tail) = (0x80, 0xBF, 0)
            case 0xE0: (secondLow, secondHigh, tail) = (0xA0, 0xBF, 1)  // no overlongs
            case 0xED: (secondLow, secondHigh, tail) = (0x80, 0x9F, 1)  // no surrogates
            case 0xE1...0xEF: (secondLow, secondHigh, tail) = (0x80, 0xBF, 1)
            case 0xF0: (secondLow, secondHigh, tail) = (0x90, 0xBF, 2)  // no overlongs
            case 0xF1...0xF3: (secondLow, secondHigh, tail) = (0x80, 0xBF, 2)
            case 0xF4: (secondLow, secondHigh, tail) = (0x80, 0x8F, 2)  // ≤ U+10FFFF
            default: return index
            }
            guard index + 1 < count, (secondLow...secondHigh).contains(bytes[index + 1]) else { return index }
            guard index + 2 + tail <= count else { return index }
            for offset in 2..<2 + tail where bytes[index + offset] & 0xC0 != 0x80 { return index }
            index += 2 + tail
        }
        return nil
    }
}
