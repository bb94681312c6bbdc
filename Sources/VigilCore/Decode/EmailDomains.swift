/// The email domains per-domain windows are keyed by: a DNS name of at least two labels (letters, digits,
/// inner hyphens, 1–63 each, at most 253 characters), lower-cased so the windows do not split on case.
enum EmailDomains {
    /// The normalised domain, or nil when `text` is not one.
    static func normalized(_ text: UnsafeRawBufferPointer) -> String? {
        guard FieldLimits.emailDomain.contains(text.count), isDomainName(text) else { return nil }
        return String(unsafeUninitializedCapacity: text.count) { out in
            for (offset, byte) in text.enumerated() {
                out[offset] = byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
            }
            return text.count
        }
    }

    private static func isDomainName(_ text: UnsafeRawBufferPointer) -> Bool {
        var labels = 0
        var labelLength = 0
        var previous: UInt8 = UInt8(ascii: ".")
        for byte in text {
            if byte == UInt8(ascii: ".") {
                guard labelLength > 0, previous != UInt8(ascii: "-") else { return false }
                labels += 1
                labelLength = 0
            } else {
                let isAlphanumeric = byte &- UInt8(ascii: "0") < 10 || (byte | 0x20) &- UInt8(ascii: "a") < 26
                guard isAlphanumeric || (byte == UInt8(ascii: "-") && labelLength > 0) else { return false }
                labelLength += 1
                guard labelLength <= 63 else { return false }
            }
            previous = byte
        }
        return labelLength > 0 && previous != UInt8(ascii: "-") && labels >= 1
    }
}
