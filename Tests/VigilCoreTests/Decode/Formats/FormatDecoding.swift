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

    func failure(_ json: String) -> DecodeFailure? {
        if case .failure(let failure) = decoder.decode(Array(json.utf8)) { return failure }
        return nil
    }
}
