import _VigilMachinery

/// Writes a rejected message as one `vigil.dead_letter/1` JSON line (`schemas/dead-letter.schema.json`).
/// A dead letter must let an operator find, understand and replay the original, so it keeps the
/// payload itself: as text when it is valid UTF-8, else as base64, and cut to a bounded size so a
/// hostile 10 MB message cannot become a 10 MB (or 13 MB) dead letter.
public enum DeadLetterEncoder {
    /// The `schema` field of every dead letter; a format change gets a new version.
    public static let schema = "vigil.dead_letter/1"

    /// The encoded payload stays below this whatever `input.max_event_bytes` allows: escaping can grow
    /// text up to six times (`\u0001`), and a dead letter over librdkafka's default `message.max.bytes`
    /// (1,000,000) could not be produced at all, which would stop the daemon on every restart.
    public static let maxEncodedPayloadBytes = 512 * 1024

    /// Fields in fixed order, no trailing newline; identical input gives identical bytes.
    /// Payloads longer than `maxPayloadBytes` (and than a sixth of `maxEncodedPayloadBytes`) are cut to
    /// exactly that many bytes (`truncated: true`);
    /// the encoding is chosen on the kept bytes, so a cut through a multi-byte character gives base64.
    /// `originalSize` is the message's real length when the source already kept only its head.
    /// `batchIndex` is the record's index in its message's `records` array when the payload is one record
    /// of a batch (`origin.record`).
    public static func encode(
        payload: UnsafeRawBufferPointer, originalSize: Int? = nil, failure: DecodeFailure, origin: MessageOrigin,
        batchIndex: Int? = nil, maxPayloadBytes: Int
    ) -> [UInt8] {
        let size = max(originalSize ?? payload.count, payload.count)
        let keptCount = min(payload.count, max(maxPayloadBytes, 0), maxEncodedPayloadBytes / 6)
        let kept = UnsafeRawBufferPointer(rebasing: payload[0..<keptCount])
        let isText = UTF8Validation.firstInvalidOffset(kept) == nil

        var writer = JSONWriter(capacity: 256 + keptCount * (isText ? 1 : 2))
        writer.beginObject()
        writer.field("schema", schema)
        writer.field("reason", failure.reasonCode)
        writer.field("detail", failure.detail)
        writer.key("origin")
        writer.beginObject()
        switch origin {
        case .file(let path, let line):
            writer.field("file", path)
            writer.field("line", line)
        case .kafka(let topic, let partition, let offset):
            writer.field("topic", topic)
            writer.field("partition", partition)
            writer.field("offset", offset)
        }
        if let batchIndex { writer.field("record", batchIndex) }
        writer.endObject()
        writer.field("size", size)
        writer.field("truncated", keptCount < size)
        writer.field("payload_encoding", isText ? "utf8" : "base64")
        writer.key("payload")
        if isText {
            writer.string(utf8: kept.assumingMemoryBound(to: UInt8.self))
        } else {
            writer.string(Base64.encode(kept))
        }
        writer.field("event_id", failure.eventID)
        writer.endObject()
        return writer.finish()
    }

    /// `encode` over an array holding the whole message.
    public static func encode(
        payload: [UInt8], failure: DecodeFailure, origin: MessageOrigin, maxPayloadBytes: Int
    ) -> [UInt8] {
        payload.withUnsafeBytes {
            encode(payload: $0, failure: failure, origin: origin, maxPayloadBytes: maxPayloadBytes)
        }
    }
}
