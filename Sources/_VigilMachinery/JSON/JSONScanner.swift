/// A string value as it sits in the message: the bytes between the quotes, already checked for
/// JSON validity, so unescaping it later cannot fail.
public struct JSONStringToken {
    /// First byte after the opening quote.
    public var start: Int
    /// Offset of the closing quote.
    public var end: Int
    public var hasEscapes: Bool
    /// Unicode scalars after unescaping: what JSON Schema's `minLength`/`maxLength` count.
    public var length: Int

    @inlinable public init(start: Int, end: Int, hasEscapes: Bool, length: Int) {
        self.start = start
        self.end = end
        self.hasEscapes = hasEscapes
        self.length = length
    }

    /// Calls `body` with the unescaped UTF-8 of this string in `bytes` (the message it was scanned
    /// from): the message's own bytes when there were no escapes (the common case, no copy), else a
    /// decoded copy.
    @inline(__always)
    @inlinable public func withUnescaped<R>(
        in bytes: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        let raw = UnsafeRawBufferPointer(start: bytes.baseAddress! + start, count: end - start)
        guard hasEscapes else { return body(raw) }
        return Self.unescape(raw).withUnsafeBytes(body)
    }

    /// The unescaped text of this string in `bytes`.
    @inlinable public func string(in bytes: UnsafeRawBufferPointer) -> String {
        withUnescaped(in: bytes) { String(decoding: $0.assumingMemoryBound(to: UInt8.self), as: UTF8.self) }
    }

    /// Decodes the escapes of a string the scanner already validated. Kept out of line: it is the
    /// rare path and would otherwise be copied into every caller.
    @inline(never)
    @usableFromInline static func unescape(_ raw: UnsafeRawBufferPointer) -> [UInt8] {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        var position = 0
        func hex4(at offset: Int) -> UInt32 {
            var unit: UInt32 = 0
            for byte in raw[offset..<offset + 4] { unit = unit << 4 | JSONHex.value(byte)! }
            return unit
        }
        while position < raw.count {
            let byte = raw[position]
            guard byte == UInt8(ascii: "\\") else {
                decoded.append(byte)
                position += 1
                continue
            }
            let escape = raw[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "b"): decoded.append(0x08)
            case UInt8(ascii: "f"): decoded.append(0x0C)
            case UInt8(ascii: "n"): decoded.append(0x0A)
            case UInt8(ascii: "r"): decoded.append(0x0D)
            case UInt8(ascii: "t"): decoded.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(at: position)
                position += 4
                if (0xD800...0xDBFF).contains(scalar) {
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex4(at: position + 2) - 0xDC00)
                    position += 6
                }
                decoded.append(contentsOf: UTF8.encode(Unicode.Scalar(scalar)!)!)
            default: decoded.append(escape)  // \" \\ \/
            }
        }
        return decoded
    }
}

/// How a scanner's user turns a syntax problem into its own typed error, so the scanner throws the
/// caller's error type directly and the decoder needs no conversion at each of its calls.
public protocol JSONScanFailure: Error {
    /// Malformed JSON; `detail` says what was found where.
    @inlinable static func syntax(_ detail: String) -> Self
    /// Containers nested deeper than the scanner's `maxDepth`.
    @inlinable static func tooDeep(_ detail: String) -> Self
}

/// Hex digits of `\u` escapes.
@usableFromInline enum JSONHex {
    @inlinable static func value(_ byte: UInt8) -> UInt32? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(byte - UInt8(ascii: "A") + 10)
        default: nil
        }
    }
}

/// An RFC 8259 tokenizer over bytes already known to be valid
/// UTF-8. It never builds a tree; the caller pulls exactly the values it wants and skips the rest.
/// Skipping is iterative, so nesting costs one bit per level, never stack frames.
public struct JSONScanner<Failure: JSONScanFailure> {
    public let bytes: UnsafeRawBufferPointer
    public let maxDepth: Int
    public var index: Int

    @inlinable public init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
        self.index = 0
    }

    @inlinable public var atEnd: Bool { index >= bytes.count }

    /// The next byte, or 0 at the end (0 is never valid where a token starts, so it reads as an error).
    @inline(__always)
    @inlinable public var peek: UInt8 { index < bytes.count ? bytes[index] : 0 }

    @inline(__always)
    @inlinable public mutating func skipWhitespace() {
        var cursor = index
        while cursor < bytes.count, bytes[cursor] <= 0x20,
            bytes[cursor] == 0x20 || bytes[cursor] == 0x0A || bytes[cursor] == 0x0D || bytes[cursor] == 0x09
        {
            cursor += 1
        }
        index = cursor
    }

    /// After the top-level value only whitespace may follow.
    @inlinable public mutating func expectEnd() throws(Failure) {
        skipWhitespace()
        guard atEnd else { throw unexpected("after the top-level value") }
    }

    // MARK: Objects

    /// Consumes `{` of a container at `depth` (the top-level object is depth 1). False when it is empty.
    @inline(__always)
    @inlinable public mutating func beginObject(depth: Int) throws(Failure) -> Bool {
        try checkDepth(depth)
        index += 1
        skipWhitespace()
        guard peek == UInt8(ascii: "}") else { return true }
        index += 1
        return false
    }

    /// Reads `"name" :` and leaves the scanner at the member's value.
    @inline(__always)
    @inlinable public mutating func memberName() throws(Failure) -> JSONStringToken {
        skipWhitespace()
        guard peek == UInt8(ascii: "\"") else { throw unexpected("where a member name was expected") }
        let name = try scanString()
        skipWhitespace()
        guard peek == UInt8(ascii: ":") else { throw unexpected("where ':' was expected") }
        index += 1
        skipWhitespace()
        return name
    }

    /// After a member value: true when another member follows, false once `}` is consumed.
    @inline(__always)
    @inlinable public mutating func endMember() throws(Failure) -> Bool {
        skipWhitespace()
        switch peek {
        case UInt8(ascii: ","):
            index += 1
            return true
        case UInt8(ascii: "}"):
            index += 1
            return false
        default: throw unexpected("where ',' or '}' was expected")
        }
    }

    // MARK: Scalars

    /// Scans a string starting at its opening quote, validating escapes and surrogate pairs.
    @inlinable public mutating func scanString() throws(Failure) -> JSONStringToken {
        // A local cursor: stores to `index` could alias the bytes as far as the compiler knows.
        var cursor = index + 1
        let start = cursor
        let end = bytes.count
        var hasEscapes = false
        var length = 0
        while cursor < end {
            // Skip plain ASCII eight bytes at a time up to the first quote, backslash, control or
            // non-ASCII byte. The lowest flagged byte is always a real one (false flags only occur
            // above it), so its position is exact.
            if cursor + 8 <= end {
                let word = bytes.loadUnaligned(fromByteOffset: cursor, as: UInt64.self)
                let special =
                    Self.hasByteBelow0x20(word) | Self.hasZeroByte(word ^ Self.quotes)
                    | Self.hasZeroByte(word ^ Self.backslashes) | (word & Self.highBits)
                let plain = special.littleEndian.trailingZeroBitCount >> 3
                cursor += plain
                length += plain
                if plain == 8 { continue }
            }
            let byte = bytes[cursor]
            if byte == UInt8(ascii: "\"") {
                index = cursor + 1
                return JSONStringToken(start: start, end: cursor, hasEscapes: hasEscapes, length: length)
            }
            if byte == UInt8(ascii: "\\") {
                hasEscapes = true
                index = cursor
                try scanEscape()
                cursor = index
                length += 1
                continue
            }
            guard byte >= 0x20 else {
                index = cursor
                throw unexpected("inside a string (control characters must be escaped)")
            }
            if byte & 0xC0 != 0x80 { length += 1 }
            cursor += 1
        }
        index = cursor
        throw unexpected("inside a string (unterminated)")
    }

    @inlinable static var lowBits: UInt64 { 0x0101_0101_0101_0101 }
    @inlinable static var highBits: UInt64 { 0x8080_8080_8080_8080 }
    @inlinable static var quotes: UInt64 { 0x2222_2222_2222_2222 }
    @inlinable static var backslashes: UInt64 { 0x5C5C_5C5C_5C5C_5C5C }

    /// Flags (high bit) the bytes of `word` that are zero; bytes above a flagged one may be flagged
    /// falsely.
    @inlinable static func hasZeroByte(_ word: UInt64) -> UInt64 {
        (word &- lowBits) & ~word & highBits
    }

    /// Flags the bytes of `word` below 0x20, with the same caveat as `hasZeroByte`.
    @inlinable static func hasByteBelow0x20(_ word: UInt64) -> UInt64 {
        (word &- lowBits &* 0x20) & ~word & highBits
    }

    @inlinable mutating func scanEscape() throws(Failure) {
        index += 1
        switch peek {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
            UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            index += 1
        case UInt8(ascii: "u"):
            let unit = try scanHex4()
            if (0xDC00...0xDFFF).contains(unit) {
                throw syntaxError("lone low surrogate escape before offset \(index)")
            }
            if (0xD800...0xDBFF).contains(unit) {
                guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw syntaxError("lone high surrogate escape before offset \(index)")
                }
                index += 1
                guard (0xDC00...0xDFFF).contains(try scanHex4()) else {
                    throw syntaxError("high surrogate escape not followed by a low one before offset \(index)")
                }
            }
        default:
            throw unexpected("in an escape sequence")
        }
    }

    /// At the `u` of `\uXXXX`: consumes it and returns the code unit.
    @inlinable mutating func scanHex4() throws(Failure) -> UInt32 {
        index += 1
        var unit: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = JSONHex.value(peek) else { throw unexpected("in a \\u escape") }
            unit = unit << 4 | digit
            index += 1
        }
        return unit
    }

    /// Consumes `true`, `false` or `null`, whichever starts here.
    @inlinable public mutating func scanLiteral() throws(Failure) -> Bool? {
        let (word, value): (StaticString, Bool?) =
            switch peek {
            case UInt8(ascii: "t"): ("true", true)
            case UInt8(ascii: "f"): ("false", false)
            default: ("null", nil)
            }
        let length = word.utf8CodeUnitCount
        guard index + length <= bytes.count,
            UnsafeRawBufferPointer(rebasing: bytes[index..<index + length]).equals(word)
        else { throw unexpected("where a value was expected") }
        index += length
        return value
    }

    /// Validates a number's grammar (no leading zeros, digits after `.` and `e`). Vigil's contract has
    /// no numeric fields, so the value itself is never needed and any magnitude is fine.
    @inlinable public mutating func scanNumber() throws(Failure) {
        if peek == UInt8(ascii: "-") { index += 1 }
        if peek == UInt8(ascii: "0") {
            index += 1
        } else {
            try scanDigits()
        }
        if peek == UInt8(ascii: ".") {
            index += 1
            try scanDigits()
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            try scanDigits()
        }
    }

    @inlinable mutating func scanDigits() throws(Failure) {
        guard Self.isDigit(peek) else { throw unexpected("in a number") }
        repeat { index += 1 } while Self.isDigit(peek)
    }

    @inlinable static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    // MARK: Skipping

    /// Validates and discards the value starting here, which sits inside `depth` containers.
    @inlinable public mutating func skipValue(depth: Int) throws(Failure) {
        var open = ContainerStack()
        while true {
            skipWhitespace()
            switch peek {
            case UInt8(ascii: "{"):
                if try beginObject(depth: depth + open.count + 1) {
                    open.push(isObject: true)
                    _ = try memberName()
                    continue
                }
            case UInt8(ascii: "["):
                try checkDepth(depth + open.count + 1)
                index += 1
                skipWhitespace()
                if peek == UInt8(ascii: "]") {
                    index += 1
                } else {
                    open.push(isObject: false)
                    continue
                }
            case UInt8(ascii: "\""): _ = try scanString()
            case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"): _ = try scanLiteral()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try scanNumber()
            default: throw unexpected("where a value was expected")
            }
            // A value is complete: close finished containers, stop at the next element.
            while let isObject = open.top {
                skipWhitespace()
                let byte = peek
                if byte == UInt8(ascii: ",") {
                    index += 1
                    if isObject { _ = try memberName() }
                    break
                }
                guard byte == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) else {
                    throw unexpected(isObject ? "where ',' or '}' was expected" : "where ',' or ']' was expected")
                }
                index += 1
                open.pop()
            }
            if open.count == 0 { return }
        }
    }

    @inlinable func checkDepth(_ depth: Int) throws(Failure) {
        guard depth <= maxDepth else {
            throw Failure.tooDeep("nesting deeper than \(maxDepth) levels at offset \(index)")
        }
    }

    // MARK: Reading values

    /// Calls `body` with the unescaped UTF-8 of a scanned string; see `JSONStringToken.withUnescaped`.
    @inline(__always)
    @inlinable public func withUnescaped<R>(_ token: JSONStringToken, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        token.withUnescaped(in: bytes, body)
    }

    @inlinable public func string(_ token: JSONStringToken) -> String {
        token.string(in: bytes)
    }

    // MARK: Errors

    @inlinable public func syntaxError(_ message: String) -> Failure {
        Failure.syntax(message)
    }

    @inlinable func unexpected(_ context: String) -> Failure {
        guard index < bytes.count else { return syntaxError("unexpected end of input \(context)") }
        let byte = bytes[index]
        let shown =
            (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return syntaxError("unexpected \(shown) at offset \(index) \(context)")
    }
}

/// Which open containers are objects: one bit per level, spilling to an array only past 64 levels
/// (reachable only when an operator configures such a depth).
@usableFromInline struct ContainerStack {
    @usableFromInline var bits: UInt64
    @usableFromInline var spill: [Bool]
    @usableFromInline var count: Int

    @inlinable init() {
        bits = 0
        spill = []
        count = 0
    }

    @inlinable var top: Bool? {
        if count == 0 { return nil }
        return count <= 64 ? (bits >> UInt64(count - 1)) & 1 == 1 : spill[count - 65]
    }

    @inlinable mutating func push(isObject: Bool) {
        if count < 64 {
            let bit: UInt64 = 1 << UInt64(count)
            bits = isObject ? bits | bit : bits & ~bit
        } else {
            spill.append(isObject)
        }
        count += 1
    }

    @inlinable mutating func pop() {
        count -= 1
        if count >= 64 { spill.removeLast() }
    }
}

extension UnsafeRawBufferPointer {
    /// Compares in at most two (overlapping) word loads for the short names and values the decoder
    /// matches, byte by byte only below four bytes.
    @inlinable public func equals(_ other: UnsafeRawBufferPointer) -> Bool {
        guard count == other.count else { return false }
        func word<Word: FixedWidthInteger>(_ buffer: UnsafeRawBufferPointer, _ offset: Int, _: Word.Type) -> Word {
            buffer.loadUnaligned(fromByteOffset: offset, as: Word.self)
        }
        switch count {
        case 0...3:
            for offset in 0..<count where self[offset] != other[offset] { return false }
            return true
        case 4...8:
            return word(self, 0, UInt32.self) == word(other, 0, UInt32.self)
                && word(self, count - 4, UInt32.self) == word(other, count - 4, UInt32.self)
        default:
            var offset = 0
            while offset < count - 8 {
                guard word(self, offset, UInt64.self) == word(other, offset, UInt64.self) else { return false }
                offset += 8
            }
            return word(self, count - 8, UInt64.self) == word(other, count - 8, UInt64.self)
        }
    }

    /// Byte-wise comparison with an ASCII literal, without building a String.
    @inlinable public func equals(_ literal: StaticString) -> Bool {
        equals(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}
