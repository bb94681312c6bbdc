import _VigilMachinery

/// RFC 3339 on the wire, integer microseconds inside (the calendar math is `RFC3339`'s).
extension Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hh:mm)`; see `RFC3339.microseconds(parsing:)` for
    /// what is accepted.
    public init?(rfc3339 bytes: UnsafeRawBufferPointer) {
        guard let microseconds = RFC3339.microseconds(parsing: bytes) else { return nil }
        self.init(microseconds: microseconds)
    }

    /// Parses RFC 3339 text; see `init?(rfc3339: UnsafeRawBufferPointer)`.
    public init?(rfc3339 text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Timestamp(rfc3339: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
    }

    /// UTC with exactly three fraction digits (`2024-05-01T12:00:00.250Z`): one fixed width for every
    /// output so logs and messages sort and diff cleanly. Sub-millisecond digits are truncated.
    public var rfc3339: String {
        String(unsafeUninitializedCapacity: Self.maxRFC3339Length) { writeRFC3339(into: $0.baseAddress!) }
    }

    /// Writes `rfc3339` straight into an output buffer (no String).
    public func appendRFC3339(to out: inout [UInt8]) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Self.maxRFC3339Length) { buffer in
            let count = writeRFC3339(into: buffer.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[..<count]))
        }
    }

    /// The longest `rfc3339` text.
    static var maxRFC3339Length: Int { RFC3339.maxLength }

    /// Writes `rfc3339` into `out`, which has room for `maxRFC3339Length` bytes; returns the number of
    /// bytes written.
    func writeRFC3339(into out: UnsafeMutablePointer<UInt8>) -> Int {
        RFC3339.write(milliseconds: milliseconds, into: out)
    }
}
