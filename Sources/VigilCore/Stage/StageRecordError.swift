/// Why the bytes of a stage record (or a source-risk fact) were refused. Vigil's own decode stage never
/// writes such bytes: one of these means another producer wrote to an internal topic, or a Vigil of
/// another format version did.
public enum StageRecordError: Error, Equatable, CustomStringConvertible {
    /// No bytes at all.
    case empty
    /// A format version this Vigil does not read (the first byte).
    case unknownVersion(UInt8)
    /// A record of another stage (the second byte), or a kind no stage has.
    case wrongStage(expected: StageKind, found: UInt8)
    /// The bytes end inside `field`.
    case truncated(field: String)
    /// A length prefix larger than the bytes left in the record.
    case lengthBeyondRecord(field: String, length: Int, remaining: Int)
    /// A value no encoder writes: an unknown enum index or flag, a time out of range, text that is not
    /// UTF-8.
    case invalidValue(field: String, detail: String)
    /// Bytes left over after the last field.
    case trailingBytes(count: Int)

    /// What is wrong, and what to do about it.
    public var description: String {
        let cause: String
        switch self {
        case .empty: cause = "the record is empty"
        case .unknownVersion(let version):
            cause = "format version \(version), this Vigil reads version \(StageRecordCodec.formatVersion)"
        case let .wrongStage(expected, found):
            cause = "record kind \(found), the \(expected) stage reads kind \(expected.rawValue)"
        case .truncated(let field): cause = "truncated in \(field)"
        case let .lengthBeyondRecord(field, length, remaining):
            cause = "\(field) claims \(length) bytes, \(remaining) are left"
        case let .invalidValue(field, detail): cause = "invalid \(field): \(detail)"
        case .trailingBytes(let count): cause = "\(count) unexpected bytes after the last field"
        }
        return "a stage record was refused (\(cause)); only Vigil's decode stage may produce to its internal "
            + "topics, and every instance of a deployment must run the same Vigil version"
    }
}

/// Reads a stage record's fields in order, checking every length against the bytes left.
struct StageRecordReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    mutating func u8(_ field: String) throws(StageRecordError) -> UInt8 {
        guard remaining >= 1 else { throw .truncated(field: field) }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u32(_ field: String) throws(StageRecordError) -> UInt32 {
        UInt32(truncatingIfNeeded: try little(4, field))
    }

    mutating func u64(_ field: String) throws(StageRecordError) -> UInt64 { try little(8, field) }

    private mutating func little(_ width: Int, _ field: String) throws(StageRecordError) -> UInt64 {
        guard remaining >= width else { throw .truncated(field: field) }
        var value: UInt64 = 0
        for index in (position..<position + width).reversed() { value = value << 8 | UInt64(bytes[index]) }
        position += width
        return value
    }

    /// A time the decoder can have accepted (years 1970–9999, with the slack state allows): anything
    /// else is forged, and times near the ends of `Int64` would make window arithmetic trap.
    mutating func time(_ field: String) throws(StageRecordError) -> Timestamp {
        let microseconds = Int64(bitPattern: try u64(field))
        guard StateReader.storableMicroseconds.contains(microseconds) else {
            throw .invalidValue(field: field, detail: "time \(microseconds) µs is outside the years 1970–9999")
        }
        return Timestamp(microseconds: microseconds)
    }

    mutating func flag(_ field: String) throws(StageRecordError) -> Bool {
        switch try u8(field) {
        case 0: return false
        case 1: return true
        case let other: throw .invalidValue(field: field, detail: "flag byte \(other), expected 0 or 1")
        }
    }

    mutating func string(_ field: String) throws(StageRecordError) -> String {
        let length = Int(try u32(field))
        guard length <= remaining else { throw .lengthBeyondRecord(field: field, length: length, remaining: remaining) }
        let text = UnsafeRawBufferPointer(rebasing: bytes[position..<position + length])
        guard let string = String(validating: text, as: UTF8.self) else {
            throw .invalidValue(field: field, detail: "not UTF-8")
        }
        position += length
        return string
    }

    mutating func optionalString(_ field: String) throws(StageRecordError) -> String? {
        try flag(field) ? try string(field) : nil
    }

    /// A case of `Cases` by its position, written as one byte.
    mutating func index<Cases: CaseIterable>(_ field: String, of _: Cases.Type) throws(StageRecordError) -> Cases
    where Cases.AllCases: RandomAccessCollection, Cases.AllCases.Index == Int {
        let raw = Int(try u8(field))
        guard raw < Cases.allCases.count else {
            throw .invalidValue(field: field, detail: "index \(raw), expected below \(Cases.allCases.count)")
        }
        return Cases.allCases[raw]
    }

    mutating func address(_ field: String) throws(StageRecordError) -> IPAddress {
        let high = try u64(field)
        return IPAddress(high: high, low: try u64(field))
    }

    func expectEnd() throws(StageRecordError) {
        guard remaining == 0 else { throw .trailingBytes(count: remaining) }
    }
}
