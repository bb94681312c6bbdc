import Testing

@testable import VigilCore

/// One format's `RecordDecoder` with the three questions its tests ask of a JSON text.
struct FormatDecoding {
    let decoder: RecordDecoder

    init(_ format: InputFormat) { decoder = RecordDecoder(format: format) }

    func mapped(_ json: String) throws -> DecodedRecord {
        try decoder.decode(Array(json.utf8)).get()
    }

    /// The event `json` maps to; records an issue and throws when it is skipped instead.
    func event(_ json: String) throws -> AuthEvent {
        guard case .event(let event) = try mapped(json) else {
            Issue.record("skipped: \(json)")
            throw DecodeFailure(.invalidValue, detail: "skipped")
        }
        return event
    }

    /// The events `json` maps to, one or several; records an issue and throws when it is skipped.
    func events(_ json: String) throws -> [AuthEvent] {
        switch try mapped(json) {
        case .event(let event): return [event]
        case .events(let events): return events
        case .skipped:
            Issue.record("skipped: \(json)")
            throw DecodeFailure(.invalidValue, detail: "skipped")
        }
    }

    /// The type `json` is skipped as; nil (and an issue) when it maps to events.
    func skippedType(_ json: String) throws -> String? {
        guard case .skipped(let type) = try mapped(json) else {
            Issue.record("mapped: \(json)")
            return nil
        }
        return type
    }

    /// A batch message of three records read as an event, a dead letter and an event, with the texts of
    /// the last two records; records an issue and returns nil when it reads otherwise.
    func eventFailureEvent(
        _ message: String
    ) throws -> (
        first: AuthEvent, failure: DecodeFailure, failed: String, last: AuthEvent, lastText: String
    )? {
        let bytes = Array(message.utf8)
        let records = try bytes.withUnsafeBytes { try decoder.decodeMessage($0) }
        #expect(records.map(\.batchIndex) == [0, 1, 2])
        guard records.count == 3, case .success(.event(let first)) = records[0].result,
            case .failure(let failure) = records[1].result, case .success(.event(let last)) = records[2].result
        else {
            Issue.record("\(records.map(\.result))")
            return nil
        }
        let text = { (index: Int) in String(decoding: bytes[records[index].bytes], as: UTF8.self) }
        return (first, failure, text(1), last, text(2))
    }

    func failure(_ json: String) -> DecodeFailure? {
        if case .failure(let failure) = decoder.decode(Array(json.utf8)) { return failure }
        return nil
    }
}
