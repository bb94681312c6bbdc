import _VigilMachinery

/// Why a message was rejected. `reasonCode` is the stable, machine-readable code written to the
/// dead-letter output and used as a metric label; `detail` is for humans.
public struct DecodeFailure: Error, Sendable, Equatable {
    /// The failure class; its raw value starts the dead letter's `reason` and never changes meaning.
    public enum Kind: String, Sendable {
        case tooLarge = "too_large"
        case invalidUTF8 = "invalid_utf8"
        case invalidJSON = "invalid_json"
        case tooDeep = "too_deep"
        case notAnObject = "not_an_object"
        case duplicateField = "duplicate_field"
        case missingField = "missing_field"
        case invalidType = "invalid_type"
        case invalidValue = "invalid_value"
        case invalidIP = "invalid_ip"
        case invalidTime = "invalid_time"
        /// Well-formed, but stamped too far ahead of the time it was received.
        case futureTime = "future_time"
        /// A record on one of Vigil's repartition topics that its stage refuses: another producer wrote
        /// to an internal topic, or a Vigil of another record format did.
        case invalidStageRecord = "invalid_stage_record"
        /// A security event token's claims the daemon could not sign (its key failed): kept, with the
        /// claims, rather than lost.
        case signingFailed = "signing_failed"
    }

    /// Which rule the message broke.
    public var kind: Kind
    /// Dotted path of the offending field (`user.id`), when there is one.
    public var field: String?
    /// A sentence for the operator; may quote a bounded part of the input, never more.
    public var detail: String
    /// The message's `event_id` when a valid one was read before the failure, so a dead letter can
    /// be matched with the IdP's own logs.
    public var eventID: String?

    /// A failure of `kind`, at `field` when one field is to blame.
    public init(_ kind: Kind, field: String? = nil, detail: String, eventID: String? = nil) {
        self.kind = kind
        self.field = field
        self.detail = detail
        self.eventID = eventID
    }

    /// `missing_field:user.id`, `invalid_type:okta.target[].id`, `invalid_json`, ... The code goes into a
    /// Kafka header, a metric label and the replay summary, so it holds only what the code chose: array
    /// indexes are left out (`[]`), and a field that is not a plain path (`isPlainPath`) leaves the kind
    /// alone. A repeated member's name is the input's and never named here (`duplicateMember`).
    public var reasonCode: String {
        guard let field, kind != .invalidIP, kind != .invalidTime, kind != .futureTime else { return kind.rawValue }
        let path = Self.withoutIndexes(field)
        guard Self.isPlainPath(path) else { return kind.rawValue }
        return "\(kind.rawValue):\(path)"
    }

    /// At most 64 bytes of segments joined by `.`, each ASCII letters, digits and `_`, optionally ending
    /// in `[]` (`okta.target[].id`): the grammar of `schemas/dead-letter.schema.json`.
    static func isPlainPath(_ path: String) -> Bool {
        guard path.utf8.count <= 64 else { return false }
        return path.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { segment in
            let name = segment.hasSuffix("[]") ? segment.dropLast(2) : segment[...]
            return !name.isEmpty
                && name.utf8.allSatisfy { byte in
                    byte &- UInt8(ascii: "a") < 26 || byte &- UInt8(ascii: "A") < 26
                        || byte &- UInt8(ascii: "0") < 10 || byte == UInt8(ascii: "_")
                }
        }
    }

    /// `target[3].id` as `target[].id`: which element failed is the input's to choose.
    static func withoutIndexes(_ path: String) -> String {
        guard path.utf8.contains(UInt8(ascii: "[")) else { return path }
        var out = ""
        var inIndex = false
        for character in path {
            if inIndex {
                if character == "]" {
                    out.append("]")
                    inIndex = false
                }
            } else {
                out.append(character)
                if character == "[" { inIndex = true }
            }
        }
        return out
    }
}

/// The scanner reports malformed JSON and excess nesting as the decoder's own failures.
extension DecodeFailure: JSONScanFailure {
    /// Malformed JSON becomes `invalid_json`.
    public static func syntax(_ detail: String) -> DecodeFailure { DecodeFailure(.invalidJSON, detail: detail) }
    /// Nesting beyond `input.max_nesting_depth` becomes `too_deep`.
    public static func tooDeep(_ detail: String) -> DecodeFailure { DecodeFailure(.tooDeep, detail: detail) }
}

/// A tree parse (an identity provider's record) refuses a repeated member name as the contract does.
extension DecodeFailure: JSONValueFailure {
    /// `name` twice in one object becomes `duplicate_field`, the field its record's format alone (set by
    /// the format): the name is any the input chose, and only the detail quotes it.
    public static func duplicateMember(_ name: String) -> DecodeFailure {
        DecodeFailure(.duplicateField, detail: "\(name) appears more than once in one object")
    }
}
