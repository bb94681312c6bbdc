/// Why bytes of a state entry or snapshot were refused. Each case names the field, so an operator (or
/// a test) sees what is wrong rather than "invalid data".
public enum StateDecodingError: Error, Equatable, CustomStringConvertible {
    /// The bytes end inside `field`.
    case truncated(field: String)
    case unknownEntryVersion(UInt8)
    case unknownEntryKind(UInt8)
    /// Written under another hashing secret (the low 32 bits of its key fingerprint).
    case foreignKeyFingerprint(UInt32)
    /// A value no encoder writes: an unknown enum raw value or flag bit, a malformed string.
    case invalidValue(field: String, detail: String)
    /// A count above the cap the engine itself never exceeds.
    case tooMany(field: String, count: Int, limit: Int)
    /// Window entries that are not in time order, or a bucket outside its ring.
    case outOfOrder(field: String)
    /// Bytes left over after the last field.
    case trailingBytes(count: Int)
    /// An entry that contradicts another (a second shard entry, names after users).
    case misplaced(field: String, detail: String)

    /// What is wrong and in which field, for logs and the replay summary.
    public var description: String {
        switch self {
        case .truncated(let field): "truncated in \(field)"
        case .unknownEntryVersion(let version): "unknown entry format version \(version)"
        case .unknownEntryKind(let kind): "unknown entry kind \(kind)"
        case .foreignKeyFingerprint(let fingerprint): "written under another key (fingerprint \(fingerprint))"
        case .invalidValue(let field, let detail): "invalid \(field): \(detail)"
        case .tooMany(let field, let count, let limit): "\(field): \(count) entries, more than the cap of \(limit)"
        case .outOfOrder(let field): "\(field) out of order"
        case .trailingBytes(let count): "\(count) unexpected bytes after the last field"
        case .misplaced(let field, let detail): "\(field): \(detail)"
        }
    }
}

/// Appends little-endian integers, length-prefixed strings and raw bytes to a byte array. Each integer
/// is copied in as a whole (one append of its bytes, not one per byte): a flush writes every changed
/// entry with it.
struct StateWriter {
    var bytes: [UInt8] = []

    init() {}

    /// A writer whose first `capacity` bytes need no reallocation (an entry's expected size).
    init(reservingCapacity capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }
    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }
    mutating func u16(_ value: UInt16) { little(value) }
    mutating func u32(_ value: UInt32) { little(value) }
    mutating func u64(_ value: UInt64) { little(value) }

    private mutating func little<Integer: FixedWidthInteger>(_ value: Integer) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func i32(_ value: Int32) { u32(UInt32(bitPattern: value)) }
    mutating func i64(_ value: Int64) { u64(UInt64(bitPattern: value)) }
    mutating func time(_ value: Timestamp) { i64(value.microseconds) }

    /// A presence byte, then the time when present.
    mutating func optionalTime(_ value: Timestamp?) {
        bool(value != nil)
        if let value { time(value) }
    }

    /// A presence byte, then the value when present.
    mutating func optionalU64(_ value: UInt64?) {
        bool(value != nil)
        if let value { u64(value) }
    }

    /// A `UInt32` byte count, then the UTF-8.
    mutating func string(_ value: String) {
        u32(UInt32(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// An event id as `string` writes it, from its bytes as state holds them.
    mutating func eventID(_ value: CompactEventID) {
        value.withUTF8 { utf8 in
            u32(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func count(_ value: Int) { u32(UInt32(value)) }

    /// Overwrites four bytes at `offset` (a length written before what it measures was known).
    mutating func patchU32(_ value: UInt32, at offset: Int) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt32(8 * index)) }
    }
}

/// Reads what `StateWriter` wrote, checking every length against the bytes left; each read names its
/// field for the error.
struct StateReader {
    let bytes: [UInt8]
    private(set) var position: Int
    let end: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
    }

    var remaining: Int { end - position }

    mutating func take(_ count: Int, _ field: String) throws(StateDecodingError) -> Range<Int> {
        guard count >= 0, count <= remaining else { throw .truncated(field: field) }
        defer { position += count }
        return position..<position + count
    }

    mutating func u8(_ field: String) throws(StateDecodingError) -> UInt8 { bytes[try take(1, field).lowerBound] }

    mutating func bool(_ field: String) throws(StateDecodingError) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, detail: "flag byte \(other), expected 0 or 1")
        }
    }

    mutating func u16(_ field: String) throws(StateDecodingError) -> UInt16 {
        UInt16(truncatingIfNeeded: try little(2, field))
    }
    mutating func u32(_ field: String) throws(StateDecodingError) -> UInt32 {
        UInt32(truncatingIfNeeded: try little(4, field))
    }
    mutating func u64(_ field: String) throws(StateDecodingError) -> UInt64 { try little(8, field) }
    mutating func i32(_ field: String) throws(StateDecodingError) -> Int32 { Int32(bitPattern: try u32(field)) }
    mutating func i64(_ field: String) throws(StateDecodingError) -> Int64 { Int64(bitPattern: try u64(field)) }
    /// A time the engine can have stored: an event time (years 1970–9999, as the decoder accepts) or one
    /// derived from it (a sweep or hold up to a window ahead), so 400 days of slack on both sides. Anything
    /// else is forged: far-future times would make every later event late, and times near the ends of
    /// `Int64` would make window arithmetic trap.
    static let storableMicroseconds: ClosedRange<Int64> = -34_560_000_000_000...253_436_860_800_000_000

    mutating func time(_ field: String) throws(StateDecodingError) -> Timestamp {
        let microseconds = try i64(field)
        guard Self.storableMicroseconds.contains(microseconds) else {
            throw .invalidValue(field: field, detail: "time \(microseconds) µs is outside the years 1970–9999")
        }
        return Timestamp(microseconds: microseconds)
    }

    mutating func optionalTime(_ field: String) throws(StateDecodingError) -> Timestamp? {
        try bool(field) ? try time(field) : nil
    }

    /// A count, refused above `limit` before anything is allocated for it.
    mutating func count(_ field: String, limit: Int) throws(StateDecodingError) -> Int {
        let count = Int(try u32(field))
        guard count <= limit else { throw .tooMany(field: field, count: count, limit: limit) }
        return count
    }

    mutating func string(_ field: String) throws(StateDecodingError) -> String {
        let length = try count(field, limit: StateLimits.maxStringBytes)
        let range = try take(length, field)
        guard let text = String(validating: bytes[range], as: UTF8.self) else {
            throw .invalidValue(field: field, detail: "not UTF-8")
        }
        return text
    }

    private mutating func little(_ width: Int, _ field: String) throws(StateDecodingError) -> UInt64 {
        let range = try take(width, field)
        var value: UInt64 = 0
        for index in range.reversed() { value = value << 8 | UInt64(bytes[index]) }
        return value
    }
}

/// Caps the decoder holds counts to: each is at or above what the engine can hold, so a valid entry
/// always passes and a corrupt count cannot make the decoder allocate without bound.
enum StateLimits {
    /// Event ids and names; the decoder's own `input.max_event_bytes` is far below.
    static let maxStringBytes = 1 << 20
    /// The largest window capacity a threshold can ask for (thresholds are capped at 1,000,000).
    static let maxWindowEntries = 1_000_000
}
