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
        try parse(bytes, maxDepth: maxDepth, elementsAt: [], as: Failure.self).value
    }

    /// `parse`, also giving where each element of the array at member path `path` lies in `bytes`: a batch
    /// envelope (`{"records": [...]}`, path `["records"]`; `{"data": {"events": [...]}}`, path `["data",
    /// "events"]`) whose one bad element is reported with its own bytes, not the whole batch's. `elements`
    /// is nil unless the document has an array at `path` (objects all the way down); then it holds one
    /// range per element, in order.
    public static func parse<Failure: JSONValueFailure>(
        _ bytes: UnsafeRawBufferPointer, maxDepth: Int, elementsAt path: [String], as: Failure.Type = Failure.self
    ) throws(Failure) -> (value: JSONValue, elements: [Range<Int>]?) {
        var scanner = JSONScanner<Failure>(bytes: bytes, maxDepth: maxDepth)
        scanner.skipWhitespace()
        var elements: [Range<Int>]?
        let value = try parseValue(&scanner, depth: 0, path: path[...], elements: &elements)
        try scanner.expectEnd()
        return (value, elements)
    }

    /// The value starting here, inside `depth` containers. When `path` is not empty and this is an
    /// object, its member `path.first` is followed: the array at the end of the path gives its elements'
    /// byte ranges to `elements`.
    private static func parseValue<Failure: JSONValueFailure>(
        _ scanner: inout JSONScanner<Failure>, depth: Int, path: ArraySlice<String>, elements: inout [Range<Int>]?
    ) throws(Failure) -> JSONValue {
        scanner.skipWhitespace()
        switch scanner.peek {
        case UInt8(ascii: "{"):
            var members: [(name: String, value: JSONValue)] = []
            guard try scanner.beginObject(depth: depth + 1) else { return .object(JSONObject()) }
            repeat {
                let name = scanner.string(try scanner.memberName())
                if members.contains(where: { $0.name == name }) { throw Failure.duplicateMember(name) }
                scanner.skipWhitespace()
                let followed = path.first == name
                if followed, path.count == 1, scanner.peek == UInt8(ascii: "[") {
                    var ranges: [Range<Int>] = []
                    members.append((name, try parseArray(&scanner, depth: depth + 1, ranges: &ranges)))
                    elements = ranges
                } else {
                    members.append(
                        (
                            name,
                            try parseValue(
                                &scanner, depth: depth + 1, path: followed ? path.dropFirst() : [], elements: &elements)
                        ))
                }
            } while try scanner.endMember()
            return .object(JSONObject(members))
        case UInt8(ascii: "["):
            var ranges: [Range<Int>] = []
            return try parseArray(&scanner, depth: depth, ranges: &ranges)
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

    /// The array starting here, inside `depth` containers; each element's byte range goes to `ranges`.
    private static func parseArray<Failure: JSONValueFailure>(
        _ scanner: inout JSONScanner<Failure>, depth: Int, ranges: inout [Range<Int>]
    ) throws(Failure) -> JSONValue {
        try scanner.checkDepth(depth + 1)
        scanner.index += 1
        scanner.skipWhitespace()
        var values: [JSONValue] = []
        if scanner.peek == UInt8(ascii: "]") {
            scanner.index += 1
            return .array(values)
        }
        var unused: [Range<Int>]?
        while true {
            scanner.skipWhitespace()
            let start = scanner.index
            values.append(try parseValue(&scanner, depth: depth + 1, path: [], elements: &unused))
            ranges.append(start..<scanner.index)
            scanner.skipWhitespace()
            switch scanner.peek {
            case UInt8(ascii: ","): scanner.index += 1
            case UInt8(ascii: "]"):
                scanner.index += 1
                return .array(values)
            default: throw scanner.syntaxError("expected ',' or ']' at offset \(scanner.index)")
            }
        }
    }
}
