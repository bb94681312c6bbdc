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
        let value = try parse(bytes, originalLength: originalLength, limit: limits.maxEventBytes, limits, format).value
        return try record(value, format: format)
    }

    /// The records of a batch message (the array at member path `path`: `{"records": [...]}`), each with its
    /// bytes' range in the message, or the message as one record when it has no such array. Each record is
    /// held to `input.max_event_bytes`, the message to `input.max_batch_bytes`; a record that is not an
    /// object or is too large fails alone.
    static func batch(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int?, limits: InputSettings, format: InputFormat,
        path: [String]
    ) throws(DecodeFailure) -> [(index: Int?, bytes: Range<Int>, record: Result<RecordFields, DecodeFailure>)] {
        let (value, elements) = try parse(
            bytes, originalLength: originalLength, limit: limits.maxBatchBytes, limits, format, elementsAt: path)
        var array: JSONValue? = value
        for name in path { array = array?.object?[name] }
        guard let elements, let values = array?.array else {
            let size = max(bytes.count, originalLength ?? 0)
            guard size <= limits.maxEventBytes else {
                throw DecodeFailure(
                    .tooLarge,
                    detail: "a single \(format.rawValue) record of \(size) bytes; the limit is \(limits.maxEventBytes)")
            }
            return [(nil, 0..<bytes.count, Result { () throws(DecodeFailure) in try record(value, format: format) })]
        }
        return zip(elements, values).enumerated().map { index, element in
            let (range, value) = element
            guard range.count <= limits.maxEventBytes else {
                let failure = DecodeFailure(
                    .tooLarge,
                    detail: "a record of \(range.count) bytes in a batch; the limit is \(limits.maxEventBytes)")
                return (index, range, .failure(failure))
            }
            return (index, range, Result { () throws(DecodeFailure) in try record(value, format: format) })
        }
    }

    /// Checks the message's size against `limit` and its encoding, then parses it.
    private static func parse(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int?, limit: Int, _ limits: InputSettings,
        _ format: InputFormat, elementsAt path: [String] = []
    ) throws(DecodeFailure) -> (value: JSONValue, elements: [Range<Int>]?) {
        let size = max(bytes.count, originalLength ?? 0)
        guard size <= limit else {
            throw DecodeFailure(.tooLarge, detail: "message is \(size) bytes, the limit is \(limit)")
        }
        if let offset = UTF8Validation.firstInvalidOffset(bytes) {
            throw DecodeFailure(.invalidUTF8, detail: "invalid UTF-8 at byte offset \(offset)")
        }
        do {
            return try JSONValue.parse(
                bytes, maxDepth: limits.maxNestingDepth, elementsAt: path, as: DecodeFailure.self)
        } catch {
            var failure = error
            failure.field =
                failure.field.map { "\(format.rawValue).\($0)" }
                ?? (failure.kind == .duplicateField ? format.rawValue : nil)
            throw failure
        }
    }

    /// `value` as a record's top-level object.
    private static func record(_ value: JSONValue, format: InputFormat) throws(DecodeFailure) -> RecordFields {
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

    /// The objects of the array `name`, each read with its index in its path (`target[0].`); empty when
    /// the array is absent or null.
    func objects(_ name: String) throws(DecodeFailure) -> [RecordFields] {
        guard let value = object[name], !value.isNull else { return [] }
        guard let elements = value.array else {
            throw failure(.invalidType, name, "\(fieldPath(name)) must be an array")
        }
        var objects: [RecordFields] = []
        objects.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard let nested = element.object else {
                throw failure(.invalidType, name, "\(fieldPath(name))[\(index)] must be an object")
            }
            objects.append(RecordFields(object: nested, format: format, path: "\(path)\(name)[\(index)]."))
        }
        return objects
    }

    /// The boolean `name`; nil when absent or null.
    func bool(_ name: String) throws(DecodeFailure) -> Bool? {
        guard let value = object[name], !value.isNull else { return nil }
        guard case .bool(let flag) = value else {
            throw failure(.invalidType, name, "\(fieldPath(name)) must be true or false")
        }
        return flag
    }

    /// The integer `name`, written as a JSON integer or as a string of one (Azure writes some numbers
    /// either way); nil when absent or null.
    func integer(_ name: String) throws(DecodeFailure) -> Int64? {
        guard let value = object[name], !value.isNull else { return nil }
        let number: Int64? =
            switch value {
            case .number: value.integer
            case .string(let text): Int64(text)
            default: nil
            }
        guard let number else {
            throw failure(.invalidType, name, "\(fieldPath(name)) must be an integer (a number or a string of one)")
        }
        return number
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
