import _VigilMachinery

/// One object of an identity provider's record, read field by field with the same limits as Vigil's
/// own contract (`FieldLimits`, `UserIdentity`, `EmailDomains`). Every failure names the format and the
/// field's path in the IdP's own terms (`missing_field:keycloak.userId`), so a dead letter says which
/// producer to fix and where.
struct RecordFields {
    let object: JSONObject
    let format: InputFormat
    /// The path of this object inside the record, with a trailing dot ("" at the top, "details.").
    let path: String

    /// The top-level object of a whole message: checks its size and encoding first, then parses it.
    static func document(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int?, limits: InputSettings, format: InputFormat
    ) throws(DecodeFailure) -> RecordFields {
        let size = max(bytes.count, originalLength ?? 0)
        guard size <= limits.maxEventBytes else {
            throw DecodeFailure(.tooLarge, detail: "message is \(size) bytes, the limit is \(limits.maxEventBytes)")
        }
        if let offset = UTF8Validation.firstInvalidOffset(bytes) {
            throw DecodeFailure(.invalidUTF8, detail: "invalid UTF-8 at byte offset \(offset)")
        }
        let value: JSONValue
        do {
            value = try JSONValue.parse(bytes, maxDepth: limits.maxNestingDepth, as: DecodeFailure.self)
        } catch {
            var failure = error
            if let field = failure.field { failure.field = "\(format.rawValue).\(field)" }
            throw failure
        }
        guard let object = value.object else {
            throw DecodeFailure(.notAnObject, detail: "a \(format.rawValue) record must be a JSON object")
        }
        return RecordFields(object: object, format: format, path: "")
    }

    /// `keycloak.details.email`: the field's name in dead letters.
    func fieldPath(_ name: String) -> String { "\(format.rawValue).\(path)\(name)" }

    func failure(_ kind: DecodeFailure.Kind, _ name: String, _ detail: String) -> DecodeFailure {
        DecodeFailure(kind, field: fieldPath(name), detail: detail)
    }

    /// The nested object `name`; nil when absent or null.
    func object(_ name: String) throws(DecodeFailure) -> RecordFields? {
        guard let value = object[name], !value.isNull else { return nil }
        guard let nested = value.object else {
            throw failure(.invalidType, name, "\(fieldPath(name)) must be an object")
        }
        return RecordFields(object: nested, format: format, path: "\(path)\(name).")
    }

    /// The string `name` within `lengths` Unicode scalars; nil when absent or null.
    func string(_ name: String, _ lengths: ClosedRange<Int>) throws(DecodeFailure) -> String? {
        guard let value = object[name], !value.isNull else { return nil }
        guard let text = value.string else {
            throw failure(.invalidType, name, "\(fieldPath(name)) must be a string")
        }
        let length = text.unicodeScalars.count
        guard lengths.contains(length) else {
            throw failure(
                .invalidValue, name,
                "\(fieldPath(name)) must be \(lengths.lowerBound)–\(lengths.upperBound) characters, got \(length)")
        }
        return text
    }

    /// `string` that must be present.
    func required(_ name: String, _ lengths: ClosedRange<Int>) throws(DecodeFailure) -> String {
        guard let text = try string(name, lengths) else {
            throw failure(.missingField, name, "required field \(fieldPath(name)) is missing or null")
        }
        return text
    }

    /// An account id: `string` with `UserIdentity`'s rules.
    func userID(_ name: String) throws(DecodeFailure) -> String? {
        guard let id = try string(name, FieldLimits.userID) else { return nil }
        if let problem = UserIdentity.problem(in: id) {
            throw failure(.invalidValue, name, "\(fieldPath(name)): \(problem)")
        }
        return id
    }

    /// An address; nil when absent or null.
    func ip(_ name: String) throws(DecodeFailure) -> IPAddress? {
        guard let text = try string(name, 1...64) else { return nil }
        guard let address = IPAddress(text) else {
            throw failure(.invalidIP, name, "\(fieldPath(name)) must be an IPv4 or IPv6 address")
        }
        return address
    }

    /// Milliseconds since 1970 as a JSON integer (or a string of digits, as some serialisers write longs),
    /// within the years the contract accepts (1970–9999).
    func epochMilliseconds(_ name: String) throws(DecodeFailure) -> Timestamp {
        guard let value = object[name], !value.isNull else {
            throw failure(.missingField, name, "required field \(fieldPath(name)) is missing or null")
        }
        let milliseconds: Int64?
        switch value {
        case .number: milliseconds = value.integer
        case .string(let digits):
            milliseconds = digits.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }) ? Int64(digits) : nil
        default: throw failure(.invalidType, name, "\(fieldPath(name)) must be milliseconds since 1970")
        }
        guard let milliseconds, (0...Self.lastMillisecond).contains(milliseconds) else {
            throw failure(
                .invalidTime, name, "\(fieldPath(name)) must be whole milliseconds since 1970, before year 10000")
        }
        return Timestamp(milliseconds: milliseconds)
    }

    /// 9999-12-31T23:59:59.999Z.
    static let lastMillisecond: Int64 = 253_402_300_799_999

    /// The lower-cased domain of an email address (the part after its last `@`), when `address` is one
    /// with a valid domain; nil otherwise (a user name that is not an email address says nothing).
    static func emailDomain(of address: String) -> String? {
        guard let at = address.lastIndex(of: "@") else { return nil }
        var domain = String(address[address.index(after: at)...])
        return domain.withUTF8 { EmailDomains.normalized(UnsafeRawBufferPointer($0)) }
    }
}

extension AuthEvent {
    /// Gives an adapter's event, built as a login, the kind its record turned out to be.
    mutating func recast(as type: EventType, outcome: Outcome? = nil, action: SensitiveAction? = nil) {
        self.type = type
        self.outcome = outcome
        self.action = action
    }
}

/// One identity provider's mapping of its records into the canonical event.
protocol RecordAdapter {
    /// Maps `record`, setting `eventID` as soon as it has read the record's id.
    static func mapRecord(_ record: RecordFields, eventID: inout String?) throws(DecodeFailure) -> DecodedRecord
}

extension RecordAdapter {
    /// `mapRecord`, whose failure carries the event id it read before failing, so the dead letter can be
    /// matched with the IdP's own logs.
    static func map(_ record: RecordFields) throws(DecodeFailure) -> DecodedRecord {
        var eventID: String?
        do {
            return try mapRecord(record, eventID: &eventID)
        } catch {
            var failure = error
            if failure.eventID == nil { failure.eventID = eventID }
            throw failure
        }
    }
}
