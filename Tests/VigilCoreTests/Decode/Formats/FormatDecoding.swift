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

    func failure(_ json: String) -> DecodeFailure? {
        if case .failure(let failure) = decoder.decode(Array(json.utf8)) { return failure }
        return nil
    }
}
