extension Timestamp {
    var rfc3339: String { String(microseconds) }
}
