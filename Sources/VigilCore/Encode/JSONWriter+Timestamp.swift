import _VigilMachinery

extension JSONWriter {
    /// A timestamp as an RFC 3339 string, written in place in one step.
    mutating func timestamp(_ value: Timestamp) {
        formattedString(maxCount: Timestamp.maxRFC3339Length) { value.writeRFC3339(into: $0) }
    }

    mutating func field(_ name: StaticString, timestamp value: Timestamp) {
        key(name)
        timestamp(value)
    }
}
