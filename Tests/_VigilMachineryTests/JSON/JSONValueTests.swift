import Testing

@testable import _VigilMachinery

/// The tree parse the identity providers' records are read with: RFC 8259 within a depth limit, names
/// unique per object, numbers kept as written.
@Suite struct JSONValueTests {
    enum Failure: JSONValueFailure, Equatable {
        case syntax(String)
        case tooDeep(String)
        case duplicate(String)

        static func duplicateMember(_ name: String) -> Failure { .duplicate(name) }
    }

    func parse(_ text: String, maxDepth: Int = 8) -> Result<JSONValue, Failure> {
        Array(text.utf8).withUnsafeBytes { bytes in
            Result { () throws(Failure) in try JSONValue.parse(bytes, maxDepth: maxDepth, as: Failure.self) }
        }
    }

    @Test func aNestedDocumentKeepsOrderTypesAndDigits() throws {
        let value = try parse(#" {"a":[1,-2.5e3,"x\u00e9\n",true,false,null,{}],"b":{"c":12345678901234567890}} "#)
            .get()
        let object = try #require(value.object)
        #expect(object.members.map(\.name) == ["a", "b"])
        #expect(
            object["a"]
                == .array([
                    .number("1"), .number("-2.5e3"), .string("xé\n"), .bool(true), .bool(false), .null,
                    .object(JSONObject()),
                ]))
        // Beyond 64 bits: the text survives, the integer view does not pretend.
        #expect(object["b"]?.object?["c"] == .number("12345678901234567890"))
        #expect(object["b"]?.object?["c"]?.integer == nil)
        #expect(object["a"]?.array?.first?.integer == 1)
        #expect(object["missing"] == nil)
    }

    @Test func aRepeatedNameIsRefused() {
        #expect(parse(#"{"a":1,"b":{"c":1,"c":2}}"#) == .failure(.duplicate("c")))
        // The same name in different objects is fine.
        #expect((try? parse(#"{"c":1,"b":{"c":2}}"#).get()) != nil)
    }

    @Test func nestingBeyondTheLimitIsRefused() {
        #expect((try? parse("[[[]]]", maxDepth: 3).get()) == .array([.array([.array([])])]))
        guard case .failure(.tooDeep) = parse("[[[[]]]]", maxDepth: 3) else {
            Issue.record("four levels under a limit of three were accepted")
            return
        }
        guard case .failure(.tooDeep) = parse(#"{"a":{"b":{"c":{}}}}"#, maxDepth: 3) else {
            Issue.record("four object levels under a limit of three were accepted")
            return
        }
    }

    @Test(arguments: ["", "{", "[1,]", #"{"a" 1}"#, "01", "tru", #"{"a":1} x"#, "[1 2]", #""\x""#])
    func malformedDocumentsAreSyntaxErrors(text: String) {
        guard case .failure(.syntax) = parse(text) else {
            Issue.record("'\(text)' was accepted")
            return
        }
    }

    /// `elements` of `text` at `path`, as the texts they cover.
    func elements(_ text: String, at path: [String]) throws -> [String]? {
        let bytes = Array(text.utf8)
        let parsed = bytes.withUnsafeBytes { buffer in
            Result { () throws(Failure) -> (value: JSONValue, elements: [Range<Int>]?) in
                try JSONValue.parse(buffer, maxDepth: 8, elementsAt: path, as: Failure.self)
            }
        }
        let (value, ranges) = try parsed.get()
        #expect(value == (try parse(text).get()))
        return ranges?.map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    @Test func theElementsAtAPathAreGivenWithTheirBytes() throws {
        #expect(
            try elements(#"{"records": [ {"a":1} , [2,3],"x" ]}"#, at: ["records"]) == [#"{"a":1}"#, "[2,3]", #""x""#])
        #expect(
            try elements(#"{"v":1,"data":{"events":[{"b":[1]}],"n":2}}"#, at: ["data", "events"]) == [#"{"b":[1]}"#])
        #expect(try elements(#"{"records":[]}"#, at: ["records"]) == [])
        // No array at the path: none.
        #expect(try elements(#"{"records":{"a":[1]}}"#, at: ["records"]) == nil)
        #expect(try elements(#"{"data":[{"events":[1]}]}"#, at: ["data", "events"]) == nil)
        #expect(try elements(#"[{"records":[1]}]"#, at: ["records"]) == nil)
        #expect(try elements(#"{"other":{"records":[1]}}"#, at: ["records"]) == nil)
    }
}
