import Testing

@testable import _VigilMachinery

@Suite struct JSONWriterTests {
    func text(_ build: (inout JSONWriter) -> Void, capacity: Int = 512) -> String {
        var writer = JSONWriter(capacity: capacity)
        build(&writer)
        return String(decoding: writer.finish(), as: UTF8.self)
    }

    @Test func objectsArraysAndCommas() {
        let json = text { w in
            w.beginObject()
            w.field("a", "x")
            w.field("b", 1)
            w.key("c")
            w.beginArray()
            w.int(-2)
            w.bool(true)
            w.null()
            w.beginObject()
            w.endObject()
            w.beginArray()
            w.endArray()
            w.endArray()
            w.field("d", 2.5)
            w.field("e", 3.0)
            w.field("f", Double.infinity)
            w.field("g", false)
            w.field("skipped", nil as String?)
            w.endObject()
        }
        #expect(json == #"{"a":"x","b":1,"c":[-2,true,null,{},[]],"d":2.5,"e":3,"f":null,"g":false}"#)
    }

    @Test func keyRunsAndEncodedValuesPlaceCommasLikeKeys() {
        let json = text { w in
            w.beginObject()
            w.keyRun(#""a":1,"b":"#)
            w.value(encoded: Array("true".utf8))
            Array(#""c":"#.utf8).withUnsafeBufferPointer { w.keyRun($0) }
            w.beginArray()
            w.value(encoded: Array(#""x""#.utf8))
            w.value(encoded: Array(#""y""#.utf8))
            w.endArray()
            w.key("d")
            w.int(2)
            w.keyRun(#""e":"#)
            w.null()
            w.endObject()
        }
        #expect(json == #"{"a":1,"b":true,"c":["x","y"],"d":2,"e":null}"#)
    }

    @Test(arguments: [Int64.min, Int64.min + 1, -10, -9, -1, 0, 1, 9, 10, 99, 100, 1_000_000_007, Int64.max])
    func integersMatchStringConversion(_ value: Int64) {
        #expect(text { $0.int(value) } == String(value))
        #expect(
            text { $0.double(Double(value)) } == (abs(Double(value)) < 1e15 ? String(value) : Double(value).description)
        )
    }

    @Test func integersBeyondInt64() {
        #expect(text { $0.int(UInt64.max) } == "18446744073709551615")
    }

    @Test func escaping() {
        let raw = "plain \"quoted\" back\\slash\nnew\rret\ttab\u{01}\u{1F}\u{7F} é → 𝄞 end"
        let expected = #""plain \"quoted\" back\\slash\nnew\rret\ttab\u0001\u001f\u007f é → 𝄞 end""#
        #expect(text { $0.string(raw) } == expected)
        // Only escapes, and an escape at both ends.
        #expect(text { $0.string("\"\n\"") } == #""\"\n\"""#)
        #expect(text { $0.string("") } == #""""#)
    }

    @Test func growsPastItsInitialCapacity() {
        let long = String(repeating: "abcdefghij", count: 100) + "\n" + String(repeating: "\u{01}", count: 200)
        let json = text(
            { w in
                w.beginArray()
                for _ in 0..<3 { w.string(long) }
                w.endArray()
            }, capacity: 16)
        let one =
            "\"" + String(repeating: "abcdefghij", count: 100) + "\\n" + String(repeating: "\\u0001", count: 200) + "\""
        #expect(json == "[" + [one, one, one].joined(separator: ",") + "]")
    }

    @Test func stringInPieces() {
        let json = text { w in
            w.beginArray()
            w.string("a")
            w.beginString()
            w.stringPart("x=")
            w.stringPart(-42)
            w.stringPart(" \"q\"" as StaticString)
            w.endString()
            w.endArray()
        }
        #expect(json == #"["a","x=-42 \"q\""]"#)
    }

    @Test func dynamicKeysAndBytesCopy() {
        var writer = JSONWriter()
        writer.beginObject()
        writer.dynamicKey("k\"1")
        writer.int(1)
        writer.dynamicKey("k2")
        writer.string("v")
        writer.endObject()
        let copy = writer.bytes
        #expect(String(decoding: copy, as: UTF8.self) == #"{"k\"1":1,"k2":"v"}"#)
        let finished = writer.finish()
        #expect(finished == copy)
    }
}

@Suite struct JSONWriterMembersTests {
    @Test func preEncodedMembersJoinTheOpenObject() {
        var inner = JSONWriter()
        inner.beginObject()
        inner.field("x", 1)
        inner.field("y", "z")
        inner.endObject()
        let members = JSONWriter.members(of: inner.finish())
        #expect(String(decoding: members, as: UTF8.self) == #""x":1,"y":"z""#)

        var first = JSONWriter()
        first.beginObject()
        first.members(members)
        first.field("after", true)
        first.endObject()
        let leading = String(decoding: first.finish(), as: UTF8.self)
        #expect(leading == #"{"x":1,"y":"z","after":true}"#)

        var middle = JSONWriter()
        middle.beginObject()
        middle.field("before", 0)
        middle.members(members)
        middle.endObject()
        let trailing = String(decoding: middle.finish(), as: UTF8.self)
        #expect(trailing == #"{"before":0,"x":1,"y":"z"}"#)

        var empty = JSONWriter()
        empty.beginObject()
        empty.members([])
        empty.field("only", 1)
        empty.endObject()
        let alone = String(decoding: empty.finish(), as: UTF8.self)
        #expect(alone == #"{"only":1}"#)
    }

    @Test func shortAndLongCopiesAreExact() {
        let source: [UInt8] = (0..<64).map { UInt8($0 + 1) }
        for count in 0...40 {
            var target = [UInt8](repeating: 0, count: 48)
            source.withUnsafeBufferPointer { from in
                target.withUnsafeMutableBufferPointer { to in
                    JSONWriter.copy(from.baseAddress!, to: to.baseAddress! + 3, count: count)
                }
            }
            #expect(Array(target[3..<3 + count]) == Array(source[0..<count]), "count \(count)")
            #expect(
                target[0..<3].allSatisfy { $0 == 0 } && target[(3 + count)...].allSatisfy { $0 == 0 }, "count \(count)")
        }
    }

    @Test func keysOfEveryLength() {
        var writer = JSONWriter(capacity: 8)
        writer.beginObject()
        writer.key("a")
        writer.int(1)
        writer.key("abcd")
        writer.int(2)
        writer.key("abcdefgh")
        writer.int(3)
        writer.key("abcdefghijklmnop")
        writer.int(4)
        writer.key("abcdefghijklmnopq")
        writer.int(5)
        writer.endObject()
        let json = String(decoding: writer.finish(), as: UTF8.self)
        #expect(json == #"{"a":1,"abcd":2,"abcdefgh":3,"abcdefghijklmnop":4,"abcdefghijklmnopq":5}"#)
    }

    /// Long clean runs, escapes at every position of an eight-byte word, and multi-byte text.
    @Test func escapingAtEveryWordOffset() {
        for offset in 0..<17 {
            for special in ["\"", "\\", "\n", "\u{7F}", "\u{00}"] {
                let raw = String(repeating: "a", count: offset) + special + "é" + String(repeating: "b", count: 9)
                var writer = JSONWriter(capacity: 8)
                writer.string(raw)
                let escaped = String(decoding: writer.finish(), as: UTF8.self)
                let expectedSpecial =
                    switch special {
                    case "\"": #"\""#
                    case "\\": #"\\"#
                    case "\n": #"\n"#
                    case "\u{7F}": #"\u007f"#
                    default: #"\u0000"#
                    }
                let prefix = String(repeating: "a", count: offset)
                #expect(escaped == "\"" + prefix + expectedSpecial + "é" + String(repeating: "b", count: 9) + "\"")
            }
        }
    }
}
