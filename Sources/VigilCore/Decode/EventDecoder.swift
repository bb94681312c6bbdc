import _VigilMachinery

/// Turns one raw input message into an `AuthEvent`, or says precisely why it cannot. Every byte is
/// attacker-controlled, so the decoder is a single hand-written pass over the bytes with hard limits:
/// no Foundation JSON (too slow for the ~3 µs per-event budget, and too lenient), no recursion on
/// input depth, no allocation beyond the strings the event keeps.
///
/// The accepted language is exactly `schemas/event.schema.json` plus three rules a schema cannot state:
/// known field names must not repeat within their object (`duplicate_field`, so no other JSON parser
/// can read a different event from the same bytes), the size, UTF-8 and depth limits, and a `user.id`
/// free of control and invisible format characters and not blank (`UserIdentity`).
///
/// When a message has several problems, the reported one is chosen in this order:
/// 1. `too_large` (checked before reading anything), 2. `invalid_utf8` (whole buffer),
/// 3. `invalid_json` or `too_deep`, whichever comes first in the bytes (the whole message is always
/// scanned, so a syntax error anywhere beats any field problem), 4. `not_an_object`,
/// 5. the first of `duplicate_field`, `invalid_type`, `invalid_value`, `invalid_ip`, `invalid_time`
/// in document order, 6. `missing_field`, checked once the whole object has been read, in the order
/// event_id, type, time, user, user.id, ip, outcome, mfa, mfa.factor, mfa.result, action.
public struct EventDecoder: Sendable {
    /// Size and depth limits, checked before and while parsing.
    public var limits: InputSettings

    /// A decoder enforcing `limits` (the config's `input` section).
    public init(limits: InputSettings = InputSettings()) {
        self.limits = limits
    }

    /// The event, or the first failure in the order above; never traps on hostile input.
    public func decode(_ bytes: UnsafeRawBufferPointer) -> Result<AuthEvent, DecodeFailure> {
        Result { () throws(DecodeFailure) in try decodeEvent(bytes) }
    }

    /// `decode` as a throwing call: the pipeline's form, which hands the event over without the
    /// `Result` around it (destroying a `Result` of this size goes through its type's metadata).
    /// `originalLength` is the message's real size when the caller kept only its head.
    public func decodeEvent(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int? = nil
    ) throws(DecodeFailure)
        -> AuthEvent
    {
        let size = max(bytes.count, originalLength ?? 0)
        guard size <= limits.maxEventBytes else {
            throw DecodeFailure(.tooLarge, detail: "message is \(size) bytes, the limit is \(limits.maxEventBytes)")
        }
        if let offset = UTF8Validation.firstInvalidOffset(bytes) {
            throw DecodeFailure(.invalidUTF8, detail: "invalid UTF-8 at byte offset \(offset)")
        }
        var parser = EventParser(scanner: JSONScanner(bytes: bytes, maxDepth: limits.maxNestingDepth))
        do {
            return try parser.parseDocument()
        } catch {
            var failure = error
            if failure.eventID == nil { failure.eventID = parser.eventID }
            throw failure
        }
    }

    /// `decode` over an array's bytes; `InputText` spans in the event refer to this array.
    public func decode(_ bytes: [UInt8]) -> Result<AuthEvent, DecodeFailure> {
        bytes.withUnsafeBytes { decode($0) }
    }
}

/// Length bounds (in Unicode scalars, as JSON Schema counts) for every free-text field. They keep a
/// hostile message from parking megabytes in per-user state.
enum FieldLimits {
    static let eventID = 1...128
    static let userID = 1...256
    static let identifier = 1...256  // tenant, device.id, challenge_id, session_id, correlation_id
    static let action = 1...128
    static let freeText = 0...1024  // user_agent, failure_reason
    static let emailDomain = 1...253
}

/// What cannot be placed in the event under construction until the whole object has been read.
/// The event itself is a local of `parseDocument`, filled in place and returned as a move: a copy
/// would retain every string only to release it again. Its empty `eventID`/`user.id` mean "not
/// read", since valid values are never empty.
private struct EventDraft {
    var type: EventType?
    var time: Timestamp?
    var hasUser = false
    var hasMFA = false
    var factor: MFAFactor?
    var mfaResult: MFAResult?
    var challengeID: InputText?
}

/// The contract layer: walks the top-level object with a `JSONScanner`, reads known fields with their
/// types and bounds, and skips (but still validates) everything else.
private struct EventParser {
    var scanner: JSONScanner<DecodeFailure>
    /// The first field-level problem. Parsing continues after it, so a syntax error later in the
    /// message still wins (see the precedence on `EventDecoder`).
    var problem: DecodeFailure?
    /// A valid `event_id`, once read, for dead letters.
    var eventID: String?
    /// How many containers enclose the member being read: 1 at the top level, 2 inside `user` etc.
    private var depth = 1

    init(scanner: JSONScanner<DecodeFailure>) {
        self.scanner = scanner
    }

    mutating func parseDocument() throws(DecodeFailure) -> AuthEvent {
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else {
            if scanner.atEnd { throw scanner.syntaxError("empty message") }
            try scanner.skipValue(depth: 0)
            try scanner.expectEnd()
            throw DecodeFailure(.notAnObject, detail: "the message must be a JSON object")
        }
        var event = AuthEvent(eventID: "", type: .login, time: Timestamp(microseconds: 0), user: User(id: ""))
        var draft = EventDraft()
        try parseTopLevel(into: &event, &draft)
        try scanner.expectEnd()
        if let problem { throw problem }
        try finish(&event, draft)
        return event
    }

    // MARK: Objects

    private mutating func parseTopLevel(into event: inout AuthEvent, _ draft: inout EventDraft) throws(DecodeFailure) {
        var seen = FieldSet()
        var more = try scanner.beginObject(depth: 1)
        while more {
            let name = try scanner.memberName()
            guard let field = scanner.withUnescaped(name, TopField.init) else {
                try scanner.skipValue(depth: 1)
                more = try scanner.endMember()
                continue
            }
            let path = field.name
            if seen.insert(field.rawValue) { report(.duplicateField, path, "\(path) appears more than once") }
            switch field {
            case .eventID:
                if let id = try string(path, FieldLimits.eventID) {
                    event.eventID = id
                    eventID = id
                }
            case .type: draft.type = try enumeration(path, WireTables.eventType)
            case .time: draft.time = try time(path)
            case .tenant: event.tenant = try string(path, FieldLimits.identifier)
            case .user:
                if try objectStart(path) {
                    draft.hasUser = true
                    try parseUser(into: &event.user)
                }
            case .ip: event.ip = try ip(path)
            case .device:
                if try objectStart(path) { event.device = try parseDevice() }
            case .outcome: event.outcome = try enumeration(path, WireTables.outcome)
            case .failureReason: event.failureReason = try span(path, FieldLimits.freeText)
            case .failureKind: event.failureKind = try enumeration(path, WireTables.failureKind)
            case .mfa:
                if try objectStart(path) {
                    draft.hasMFA = true
                    try parseMFA(into: &draft)
                }
            case .action: event.action = try string(path, FieldLimits.action).map(SensitiveAction.init(wireName:))
            case .credential:
                if try objectStart(path) { event.credentialCompromised = try parseCredential() ?? false }
            case .sessionID: event.sessionID = try span(path, FieldLimits.identifier)
            case .correlationID: event.correlationID = try span(path, FieldLimits.identifier)
            case .idpRisk: event.idpRisk = try enumeration(path, WireTables.idpRisk)
            }
            more = try scanner.endMember()
        }
    }

    private mutating func parseUser(into user: inout User) throws(DecodeFailure) {
        depth = 2
        defer { depth = 1 }
        var seen = FieldSet()
        var more = try scanner.beginObject(depth: 2)
        while more {
            let name = try scanner.memberName()
            let field: (bit: Int, path: StaticString)? = scanner.withUnescaped(name) { key in
                if key.equals("id") { return (0, "user.id") }
                if key.equals("role") { return (1, "user.role") }
                if key.equals("email_domain") { return (2, "user.email_domain") }
                return nil
            }
            if let field {
                if seen.insert(field.bit) {
                    report(.duplicateField, field.path, "\(field.path) appears more than once")
                }
                switch field.bit {
                case 0:
                    let id = try string(field.path, FieldLimits.userID)
                    if let id, let problem = UserIdentity.problem(in: id) {
                        report(.invalidValue, field.path, problem)
                    } else {
                        user.id = id ?? ""
                    }
                case 1: user.role = try enumeration(field.path, WireTables.userRole) ?? .standard
                default: user.emailDomain = try emailDomain(field.path)
                }
            } else {
                try scanner.skipValue(depth: 2)
            }
            more = try scanner.endMember()
        }
    }

    private mutating func parseDevice() throws(DecodeFailure) -> Device {
        depth = 2
        defer { depth = 1 }
        var device = Device()
        var seen = FieldSet()
        var more = try scanner.beginObject(depth: 2)
        while more {
            let name = try scanner.memberName()
            let field: (bit: Int, path: StaticString)? = scanner.withUnescaped(name) { key in
                if key.equals("id") { return (0, "device.id") }
                if key.equals("managed") { return (1, "device.managed") }
                if key.equals("user_agent") { return (2, "device.user_agent") }
                return nil
            }
            if let field {
                if seen.insert(field.bit) {
                    report(.duplicateField, field.path, "\(field.path) appears more than once")
                }
                switch field.bit {
                case 0: device.id = try string(field.path, FieldLimits.identifier)
                case 1: device.managed = try bool(field.path)
                default: device.userAgent = try span(field.path, FieldLimits.freeText)
                }
            } else {
                try scanner.skipValue(depth: 2)
            }
            more = try scanner.endMember()
        }
        return device
    }

    private mutating func parseMFA(into draft: inout EventDraft) throws(DecodeFailure) {
        depth = 2
        defer { depth = 1 }
        var seen = FieldSet()
        var more = try scanner.beginObject(depth: 2)
        while more {
            let name = try scanner.memberName()
            let field: (bit: Int, path: StaticString)? = scanner.withUnescaped(name) { key in
                if key.equals("factor") { return (0, "mfa.factor") }
                if key.equals("result") { return (1, "mfa.result") }
                if key.equals("challenge_id") { return (2, "mfa.challenge_id") }
                return nil
            }
            if let field {
                if seen.insert(field.bit) {
                    report(.duplicateField, field.path, "\(field.path) appears more than once")
                }
                switch field.bit {
                case 0: draft.factor = try enumeration(field.path, WireTables.mfaFactor)
                case 1: draft.mfaResult = try enumeration(field.path, WireTables.mfaResult)
                default: draft.challengeID = try span(field.path, FieldLimits.identifier)
                }
            } else {
                try scanner.skipValue(depth: 2)
            }
            more = try scanner.endMember()
        }
    }

    private mutating func parseCredential() throws(DecodeFailure) -> Bool? {
        depth = 2
        defer { depth = 1 }
        var compromised: Bool?
        var seen = FieldSet()
        var more = try scanner.beginObject(depth: 2)
        while more {
            let name = try scanner.memberName()
            if scanner.withUnescaped(name, { $0.equals("compromised") }) {
                let path: StaticString = "credential.compromised"
                if seen.insert(0) { report(.duplicateField, path, "\(path) appears more than once") }
                compromised = try bool(path)
            } else {
                try scanner.skipValue(depth: 2)
            }
            more = try scanner.endMember()
        }
        return compromised
    }

    // MARK: Values

    /// True when an object starts here; null is absence; anything else is reported and skipped.
    private mutating func objectStart(_ path: StaticString) throws(DecodeFailure) -> Bool {
        switch scanner.peek {
        case UInt8(ascii: "{"): return true
        case UInt8(ascii: "n"): _ = try scanner.scanLiteral()
        default:
            report(.invalidType, path, "\(path) must be an object")
            try scanner.skipValue(depth: 1)
        }
        return false
    }

    /// A string member: nil for null, and for a wrong type (reported, value skipped).
    private mutating func stringToken(_ path: StaticString) throws(DecodeFailure) -> JSONStringToken? {
        switch scanner.peek {
        case UInt8(ascii: "\""): return try scanner.scanString()
        case UInt8(ascii: "n"): _ = try scanner.scanLiteral()
        default:
            report(.invalidType, path, "\(path) must be a string")
            try scanner.skipValue(depth: depth)
        }
        return nil
    }

    private mutating func string(_ path: StaticString, _ lengths: ClosedRange<Int>) throws(DecodeFailure) -> String? {
        guard let token = try boundedToken(path, lengths) else { return nil }
        return scanner.string(token)
    }

    /// A string the engine never reads: validated like `string`, kept as its place in the message.
    private mutating func span(_ path: StaticString, _ lengths: ClosedRange<Int>) throws(DecodeFailure) -> InputText? {
        try boundedToken(path, lengths).map { .span(start: $0.start, count: $0.end - $0.start, escaped: $0.hasEscapes) }
    }

    private mutating func boundedToken(
        _ path: StaticString, _ lengths: ClosedRange<Int>
    ) throws(DecodeFailure) -> JSONStringToken? {
        guard let token = try stringToken(path) else { return nil }
        guard lengths.contains(token.length) else {
            report(
                .invalidValue, path,
                "\(path) must be \(lengths.lowerBound)–\(lengths.upperBound) characters, got \(token.length)")
            return nil
        }
        return token
    }

    private mutating func enumeration<Value>(
        _ path: StaticString, _ names: WireNames<Value>
    ) throws(DecodeFailure) -> Value? {
        guard let token = try stringToken(path) else { return nil }
        let value = scanner.withUnescaped(token, names.match)
        if value == nil { report(.invalidValue, path, "\(path) must be one of: \(names.list)") }
        return value
    }

    private mutating func bool(_ path: StaticString) throws(DecodeFailure) -> Bool? {
        switch scanner.peek {
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"): return try scanner.scanLiteral()
        default:
            report(.invalidType, path, "\(path) must be a boolean")
            try scanner.skipValue(depth: depth)
            return nil
        }
    }

    private mutating func time(_ path: StaticString) throws(DecodeFailure) -> Timestamp? {
        guard let token = try stringToken(path) else { return nil }
        let time = scanner.withUnescaped(token) { Timestamp(rfc3339: $0) }
        if time == nil {
            report(
                .invalidTime, path,
                "\(path) must be RFC 3339 YYYY-MM-DDTHH:MM:SS[.fraction] with Z or ±hh:mm, a real date in 1970–9999")
        }
        return time
    }

    private mutating func ip(_ path: StaticString) throws(DecodeFailure) -> IPAddress? {
        guard let token = try stringToken(path) else { return nil }
        let address = scanner.withUnescaped(token) { IPAddress.parse($0) }
        if address == nil { report(.invalidIP, path, "\(path) must be an IPv4 or IPv6 address") }
        return address
    }

    /// An `EmailDomains` name, lower-cased.
    private mutating func emailDomain(_ path: StaticString) throws(DecodeFailure) -> String? {
        guard let token = try stringToken(path) else { return nil }
        let domain = scanner.withUnescaped(token, EmailDomains.normalized)
        if domain == nil {
            report(
                .invalidValue, path,
                "\(path) must be a domain name (ASCII labels separated by dots, at most 253 characters)")
        }
        return domain
    }

    private mutating func report(_ kind: DecodeFailure.Kind, _ path: StaticString, _ detail: @autoclosure () -> String)
    {
        if problem == nil { problem = DecodeFailure(kind, field: path.description, detail: detail()) }
    }

    // MARK: Required fields

    private func finish(_ event: inout AuthEvent, _ draft: EventDraft) throws(DecodeFailure) {
        func missing(_ path: StaticString) -> DecodeFailure {
            DecodeFailure(.missingField, field: path.description, detail: "required field \(path) is missing or null")
        }
        guard !event.eventID.isEmpty else { throw missing("event_id") }
        guard let type = draft.type else { throw missing("type") }
        guard let time = draft.time else { throw missing("time") }
        guard draft.hasUser else { throw missing("user") }
        guard !event.user.id.isEmpty else { throw missing("user.id") }
        if type != .sensitiveAction, event.ip == nil { throw missing("ip") }
        event.type = type
        event.time = time
        switch type {
        case .login:
            guard event.outcome != nil else { throw missing("outcome") }
        case .passwordResetComplete:
            event.outcome = event.outcome ?? .success
        case .mfaChallenge, .mfaResult:
            guard draft.hasMFA else { throw missing("mfa") }
            guard let factor = draft.factor else { throw missing("mfa.factor") }
            var result: MFAResult?
            if type == .mfaResult {
                guard let mfaResult = draft.mfaResult else { throw missing("mfa.result") }
                result = mfaResult
            }
            event.mfa = MFA(factor: factor, result: result, challengeID: draft.challengeID)
        case .sensitiveAction:
            guard event.action != nil else { throw missing("action") }
        case .passwordResetRequest:
            break
        }
        // Fields that only belong to other types are dropped (after validation, so the schema and
        // the decoder accept the same messages).
        if type != .login, type != .passwordResetComplete { event.outcome = nil }
        if type != .login || event.outcome != .failure { event.failureKind = nil }
        if type != .sensitiveAction { event.action = nil }
    }
}

/// The top-level members of the contract, in `schemas/event.schema.json` order.
private enum TopField: Int {
    case eventID, type, time, tenant, user, ip, device, outcome, failureReason, mfa, action, credential
    case sessionID, correlationID, idpRisk, failureKind

    /// Picks the only candidate by length and one distinguishing byte, then compares it in full.
    init?(_ name: UnsafeRawBufferPointer) {
        let match: TopField? =
            switch name.count {
            case 2: .ip
            case 3: .mfa
            case 4: name[1] == UInt8(ascii: "y") ? .type : name[1] == UInt8(ascii: "i") ? .time : .user
            case 6: name[0] == UInt8(ascii: "t") ? .tenant : name[0] == UInt8(ascii: "d") ? .device : .action
            case 7: .outcome
            case 8: name[0] == UInt8(ascii: "e") ? .eventID : .idpRisk
            case 10: name[0] == UInt8(ascii: "c") ? .credential : .sessionID
            case 12: .failureKind
            case 14: name[0] == UInt8(ascii: "f") ? .failureReason : .correlationID
            default: nil
            }
        guard let match, name.equals(match.name) else { return nil }
        self = match
    }

    var name: StaticString {
        switch self {
        case .eventID: "event_id"
        case .type: "type"
        case .time: "time"
        case .tenant: "tenant"
        case .user: "user"
        case .ip: "ip"
        case .device: "device"
        case .outcome: "outcome"
        case .failureReason: "failure_reason"
        case .mfa: "mfa"
        case .action: "action"
        case .credential: "credential"
        case .sessionID: "session_id"
        case .correlationID: "correlation_id"
        case .idpRisk: "idp_risk"
        case .failureKind: "failure_kind"
        }
    }
}

/// Known members already seen in one object, for `duplicate_field`.
private struct FieldSet {
    private var bits: UInt32 = 0

    /// Marks `bit` as seen; true when it already was.
    mutating func insert(_ bit: Int) -> Bool {
        let mask: UInt32 = 1 << UInt32(bit)
        defer { bits |= mask }
        return bits & mask != 0
    }
}
