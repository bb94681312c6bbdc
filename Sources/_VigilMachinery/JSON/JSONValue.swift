/// A parsed JSON document, for input formats read field by field from a tree (the identity providers'
/// records) rather than pulled in one pass like Vigil's own contract. Built by `JSONScanner`, so it
/// accepts exactly RFC 8259 within the scanner's depth limit; a member name repeated within one object
/// is refused (`JSONValueFailure.duplicateMember`), so no other parser can read a different record from
/// the same bytes.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number's text as written: integers beyond a `Double`'s 53 bits keep every digit.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The string, when this is one.
    public var string: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The object, when this is one.
    public var object: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }

    /// The elements, when this is an array.
    public var array: [JSONValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// The number as an integer, when it is one written without fraction or exponent and fits 64 bits.
    public var integer: Int64? {
        if case .number(let text) = self { return Int64(text) }
        return nil
    }

    /// True for `null`.
    public var isNull: Bool { self == .null }
}

/// A JSON object's members in document order, names unique.
public struct JSONObject: Sendable, Equatable {
    /// The members in document order.
    public private(set) var members: [(name: String, value: JSONValue)]

    /// An object of `members`, whose names the caller keeps unique.
    public init(_ members: [(name: String, value: JSONValue)] = []) { self.members = members }

    /// The member named `name`, if any.
    public subscript(name: String) -> JSONValue? {
        members.first { $0.name == name }?.value
    }

    /// Same members, in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// What a tree parse can refuse beyond the scanner's own failures.
public protocol JSONValueFailure: JSONScanFailure {
    /// `name` appears twice in one object.
    static func duplicateMember(_ name: String) -> Self
}

extension JSONValue {
    /// Parses a whole document of valid UTF-8 `bytes` (the caller checks the encoding and size first).
    /// Nesting is bounded by `maxDepth` (the top-level container is depth 1), so the recursion is too.
    public static func parse<Failure: JSONValueFailure>(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int, as: Failure.Type = Failure.self
    ) throws(Failure) -> JSONValue {
        var scanner = JSONScanner<Failure>(bytes: bytes, maxDepth: maxDepth)
        scanner.skipWhitespace()
        let value = try parseValue(&scanner, depth: 0)
        try scanner.expectEnd()
        return value
    }

    /// The value starting here, inside `depth` containers.
    private static func parseValue<Failure: JSONValueFailure>(
        _ scanner: inout JSONScanner<Failure>, depth: Int
    ) throws(Failure) -> JSONValue {
        scanner.skipWhitespace()
        switch scanner.peek {
        case UInt8(ascii: "{"):
            var members: [(name: String, value: JSONValue)] = []
            guard try scanner.beginObject(depth: depth + 1) else { return .object(JSONObject()) }
            repeat {
                let name = scanner.string(try scanner.memberName())
                if members.contains(where: { $0.name == name }) { throw Failure.duplicateMember(name) }
                members.append((name, try parseValue(&scanner, depth: depth + 1)))
            } while try scanner.endMember()
            return .object(JSONObject(members))
        case UInt8(ascii: "["):
            return try parseArray(&scanner, depth: depth).0
        case UInt8(ascii: "\""):
            return .string(scanner.string(try scanner.scanString()))
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            return try scanner.scanLiteral().map(JSONValue.bool) ?? .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            let start = scanner.index
            try scanner.scanNumber()
            return .number(
                String(decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[start..<scanner.index]), as: UTF8.self))
        default:
            throw scanner.syntaxError("expected a value at offset \(scanner.index)")
        }
    }
}

extension JSONValue {
    /// `parse`, also giving where each element of the top-level object's array member `member` lies in
    /// `bytes`: a batch envelope (`{"records": [...]}`) whose one bad element is reported with its own
    /// bytes, not the whole batch's. `elements` is nil unless the document is an object whose `member` is
    /// an array; then it holds one range per element, in order.
    public static func parse<Failure: JSONValueFailure>(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int, elementsOf member: String, as: Failure.Type = Failure.self
    ) throws(Failure) -> (value: JSONValue, elements: [Range<Int>]?) {
        var scanner = JSONScanner<Failure>(bytes: bytes, maxDepth: maxDepth)
        scanner.skipWhitespace()
        guard scanner.peek == UInt8(ascii: "{") else {
            let value = try parseValue(&scanner, depth: 0)
            try scanner.expectEnd()
            return (value, nil)
        }
        var members: [(name: String, value: JSONValue)] = []
        var elements: [Range<Int>]?
        if try scanner.beginObject(depth: 1) {
            repeat {
                let name = scanner.string(try scanner.memberName())
                if members.contains(where: { $0.name == name }) { throw Failure.duplicateMember(name) }
                scanner.skipWhitespace()
                if name == member, scanner.peek == UInt8(ascii: "[") {
                    let (array, ranges) = try parseArray(&scanner, depth: 1)
                    members.append((name, array))
                    elements = ranges
                } else {
                    members.append((name, try parseValue(&scanner, depth: 1)))
                }
            } while try scanner.endMember()
        }
        try scanner.expectEnd()
        return (.object(JSONObject(members)), elements)
    }

    /// The array starting here, inside `depth` containers, and each element's byte range.
    private static func parseArray<Failure: JSONValueFailure>(
        _ scanner: inout JSONScanner<Failure>, depth: Int
    ) throws(Failure) -> (JSONValue, [Range<Int>]) {
        try scanner.checkDepth(depth + 1)
        scanner.index += 1
        scanner.skipWhitespace()
        var elements: [JSONValue] = []
        var ranges: [Range<Int>] = []
        if scanner.peek == UInt8(ascii: "]") {
            scanner.index += 1
            return (.array(elements), ranges)
        }
        while true {
            scanner.skipWhitespace()
            let start = scanner.index
            elements.append(try parseValue(&scanner, depth: depth + 1))
            ranges.append(start..<scanner.index)
            scanner.skipWhitespace()
            switch scanner.peek {
            case UInt8(ascii: ","): scanner.index += 1
            case UInt8(ascii: "]"):
                scanner.index += 1
                return (.array(elements), ranges)
            default: throw scanner.syntaxError("expected ',' or ']' at offset \(scanner.index)")
            }
        }
    }
}
