/// Appends JSON to a byte buffer in a fixed field order, so identical input gives identical bytes
/// (replay determinism) without the allocations and key sorting of a generic encoder.
///
/// The buffer is allocated once per message at a capacity that fits a typical message and written
/// through a pointer: each operation (a key, a string, a number) checks the capacity once and then
/// stores its bytes unchecked, instead of one checked `append` per byte. Non-copyable, so the buffer
/// has exactly one owner and needs no copy-on-write checks; `finish()` returns the bytes.
public struct JSONWriter: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var capacity: Int
    @usableFromInline var length: Int
    /// One bit per open container: set once it holds a member, so the next one needs a comma.
    /// A bit stack instead of an array keeps the writer allocation-free (depth ≤ 64).
    @usableFromInline var commaBits: UInt64
    @usableFromInline var depth: Int

    @inlinable public init(capacity: Int = 512) {
        self.capacity = max(capacity, 64)
        base = .allocate(capacity: self.capacity)
        length = 0
        commaBits = 0
        depth = 0
    }

    deinit { base.deallocate() }

    /// The bytes written so far (a copy).
    @inlinable public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: length)) }

    /// The bytes written; ends the writer.
    @inlinable public consuming func finish() -> [UInt8] { bytes }

    /// Pre-encoded members (`"a":1,"b":[]`, as `members(of:)` cuts them from a finished object) written
    /// into the open object in one copy.
    @inlinable public mutating func members(_ encoded: [UInt8]) {
        guard !encoded.isEmpty else { return }
        value(encoded: encoded)
    }

    /// The members of an encoded object (its bytes without the outer braces), for `members(_:)`.
    @inlinable public static func members(of object: [UInt8]) -> [UInt8] {
        Array(object.dropFirst().dropLast())
    }

    @inlinable public mutating func beginObject() { open(UInt8(ascii: "{")) }
    @inlinable public mutating func endObject() { close(UInt8(ascii: "}")) }
    @inlinable public mutating func beginArray() { open(UInt8(ascii: "[")) }
    @inlinable public mutating func endArray() { close(UInt8(ascii: "]")) }

    /// Writes `"name":`; the next value call completes the member.
    @inlinable public mutating func key(_ name: StaticString) {
        let comma = commaNeeded()
        let count = name.utf8CodeUnitCount
        let start = name.utf8Start
        // Written in line (no closure): keys are the writer's most frequent operation.
        if length &+ count &+ 4 > capacity { grow(to: length + count + 4) }
        let out = base + length
        let position = Self.comma(comma, out)
        out[position] = UInt8(ascii: "\"")
        Self.copy(start, to: out + position + 1, count: count)
        out[position + count + 1] = UInt8(ascii: "\"")
        out[position + count + 2] = UInt8(ascii: ":")
        length &+= position + count + 3
        clearComma()
    }

    /// Verbatim JSON that ends in a key (`"a":"x","b":`), written as `key` writes one key: after a
    /// comma when one is due, and the next value follows without one. Encoders write the constant
    /// text between two dynamic values with it in one copy.
    @inlinable public mutating func keyRun(_ text: StaticString) {
        keyRun(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inlinable public mutating func keyRun(_ utf8: UnsafeBufferPointer<UInt8>) {
        raw(comma: commaNeeded(), utf8)
        clearComma()
    }

    /// A value already encoded as JSON (`"push"`, `true`), after a comma when one is due.
    @inlinable public mutating func value(encoded: [UInt8]) {
        encoded.withUnsafeBufferPointer { value(encoded: $0) }
    }

    @inlinable public mutating func value(encoded: UnsafeBufferPointer<UInt8>) {
        raw(comma: commaNeeded(), encoded)
    }

    /// A key that is only known at run time (escaped like any string).
    @inlinable public mutating func dynamicKey(_ name: String) {
        string(name)
        write(reserving: 1) { out in
            out[0] = UInt8(ascii: ":")
            return 1
        }
        clearComma()
    }

    @inlinable public mutating func string(_ value: String) {
        // Contiguous storage is read in place; only other strings (bridged, never on Linux) are copied.
        if value.utf8.withContiguousStorageIfAvailable({ string(utf8: $0) }) == nil {
            var value = value
            value.withUTF8 { string(utf8: $0) }
        }
    }

    /// A string value from UTF-8 bytes (already valid UTF-8), escaped.
    @inlinable public mutating func string(utf8: UnsafeBufferPointer<UInt8>) {
        beginString()
        appendEscaped(utf8)
        endString()
    }

    /// Opens a string value whose text follows in pieces (`stringPart`), closed by `endString()`.
    /// Lets callers format text (reason details) straight into the message.
    @inlinable public mutating func beginString() {
        let comma = commaNeeded()
        write(reserving: 2) { out in
            let position = Self.comma(comma, out)
            out[position] = UInt8(ascii: "\"")
            return position + 1
        }
    }

    /// Appends escaped text inside a string opened by `beginString()`.
    @inlinable public mutating func stringPart(_ text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ appendEscaped($0) }) == nil {
            var text = text
            text.withUTF8 { appendEscaped($0) }
        }
    }

    /// Appends escaped text inside a string opened by `beginString()`.
    @inlinable public mutating func stringPart(_ text: StaticString) {
        appendEscaped(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Appends a decimal integer inside a string opened by `beginString()`.
    @inlinable public mutating func stringPart(_ value: Int) {
        write(reserving: Self.maxIntegerDigits) { Self.formatInteger(Int64(value), into: $0) }
    }

    @inlinable public mutating func endString() {
        write(reserving: 1) { out in
            out[0] = UInt8(ascii: "\"")
            return 1
        }
    }

    @inlinable public mutating func int<T: BinaryInteger>(_ value: T) {
        let comma = commaNeeded()
        if let value = Int64(exactly: value) {
            integer(comma: comma, value)
        } else {
            raw(comma: comma, String(value))
        }
    }

    /// Finite doubles only; written with enough digits to round-trip.
    @inlinable public mutating func double(_ value: Double) {
        let comma = commaNeeded()
        if value.isFinite {
            if value == value.rounded(), abs(value) < 1e15 {
                integer(comma: comma, Int64(value))
            } else {
                raw(comma: comma, value.description)
            }
        } else {
            raw(comma: comma, "null")
        }
    }

    @inlinable public mutating func bool(_ value: Bool) {
        raw(comma: commaNeeded(), value ? "true" : "false")
    }

    @inlinable public mutating func null() {
        raw(comma: commaNeeded(), "null")
    }

    /// Member helpers: `"name":value`, skipped when the value is nil.
    @inlinable public mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    @inlinable public mutating func field<T: BinaryInteger>(_ name: StaticString, _ value: T?) {
        guard let value else { return }
        key(name)
        int(value)
    }

    @inlinable public mutating func field(_ name: StaticString, _ value: Double?) {
        guard let value else { return }
        key(name)
        double(value)
    }

    @inlinable public mutating func field(_ name: StaticString, _ value: Bool?) {
        guard let value else { return }
        key(name)
        bool(value)
    }

    @inlinable public mutating func stringArray(_ name: StaticString, _ values: [String]) {
        key(name)
        beginArray()
        for value in values { string(value) }
        endArray()
    }

    /// A string value whose text `body` stores in place (at most `maxCount` bytes, none needing an
    /// escape) and counts: formatted values such as timestamps go straight into the buffer in one
    /// step, with no intermediate String.
    @inlinable public mutating func formattedString(maxCount: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        let comma = commaNeeded()
        write(reserving: maxCount + 3) { out in
            var position = Self.comma(comma, out)
            out[position] = UInt8(ascii: "\"")
            position += 1
            position += body(out + position)
            out[position] = UInt8(ascii: "\"")
            return position + 1
        }
    }

    // MARK: Buffer

    /// Makes room for `extra` bytes, then lets `body` store at most that many at the write position
    /// without further checks; `body` returns how many it stored.
    @inline(__always)
    @inlinable mutating func write(reserving extra: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        if length &+ extra > capacity { grow(to: length + extra) }
        let written = body(base + length)
        assert(written <= extra, "JSONWriter: wrote more than reserved")
        length &+= written
    }

    @inline(never)
    @usableFromInline mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.update(from: base, count: length)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inlinable mutating func raw(comma: Bool, _ text: StaticString) {
        raw(comma: comma, UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    @inlinable mutating func raw(comma: Bool, _ text: String) {
        var text = text
        text.withUTF8 { raw(comma: comma, $0) }
    }

    @inlinable mutating func integer(comma: Bool, _ value: Int64) {
        write(reserving: Self.maxIntegerDigits + 1) { out in
            let position = Self.comma(comma, out)
            return position + Self.formatInteger(value, into: out + position)
        }
    }

    /// Unescaped bytes (numbers, literals), after a comma when one is due.
    @inlinable mutating func raw(comma: Bool, _ utf8: UnsafeBufferPointer<UInt8>) {
        write(reserving: utf8.count + 1) { out in
            let position = Self.comma(comma, out)
            if let base = utf8.baseAddress { Self.copy(base, to: out + position, count: utf8.count) }
            return position + utf8.count
        }
    }

    @inlinable mutating func open(_ bracket: UInt8) {
        let comma = commaNeeded()
        write(reserving: 2) { out in
            let position = Self.comma(comma, out)
            out[position] = bracket
            return position + 1
        }
        depth += 1
        commaBits &= ~(1 << UInt64(min(depth, 63)))
    }

    @inlinable mutating func close(_ bracket: UInt8) {
        depth -= 1
        write(reserving: 1) { out in
            out[0] = bracket
            return 1
        }
    }

    @inlinable mutating func clearComma() {
        if depth > 0 { commaBits &= ~(1 << UInt64(min(depth, 63))) }
    }

    /// Whether the next value needs a comma before it; marks the container as non-empty.
    @inline(__always)
    @inlinable mutating func commaNeeded() -> Bool {
        guard depth > 0 else { return false }
        let bit: UInt64 = 1 << UInt64(min(depth, 63))
        if commaBits & bit != 0 { return true }
        commaBits |= bit
        return false
    }

    // MARK: Escaping and digits

    /// Copies runs of bytes that need no escaping in one copy each, finding the end of a run eight
    /// bytes at a time; only quotes, backslashes and control characters are written one by one. Clean
    /// text (the usual case) reserves its own length once; an escape reserves the worst case (6 bytes
    /// per byte) for the rest.
    @inlinable mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        let count = utf8.count
        guard let source = utf8.baseAddress, count > 0 else { return }
        var index = 0
        while index < count {
            let runStart = index
            index = Self.plainRunEnd(source, from: index, count: count)
            let remaining = count - index
            let runLength = index - runStart
            write(reserving: runLength + remaining * 6) { out in
                Self.copy(source + runStart, to: out, count: runLength)
                var position = runLength
                // Escapes, up to the next plain byte (the next loop turn copies the following run).
                while index < count, !Self.isPlain(source[index]) {
                    let byte = source[index]
                    out[position] = UInt8(ascii: "\\")
                    switch byte {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                        out[position + 1] = byte
                        position += 2
                    case 0x0A:
                        out[position + 1] = UInt8(ascii: "n")
                        position += 2
                    case 0x0D:
                        out[position + 1] = UInt8(ascii: "r")
                        position += 2
                    case 0x09:
                        out[position + 1] = UInt8(ascii: "t")
                        position += 2
                    default:
                        out[position + 1] = UInt8(ascii: "u")
                        out[position + 2] = 48
                        out[position + 3] = 48
                        out[position + 4] = Self.hexDigit(byte >> 4)
                        out[position + 5] = Self.hexDigit(byte & 0xF)
                        position += 6
                    }
                    index += 1
                }
                return position
            }
        }
    }

    /// The index of the first byte at or after `start` that needs escaping, or `count`. Tests eight
    /// bytes per step: a byte is flagged when below 0x20, a quote, a backslash or 0x7F. The lowest
    /// flagged byte is always a real one (false flags only occur above it), so its position is exact.
    @inline(__always)
    @inlinable static func plainRunEnd(_ bytes: UnsafePointer<UInt8>, from start: Int, count: Int) -> Int {
        var index = start
        while index + 8 <= count {
            let word = UnsafeRawPointer(bytes + index).loadUnaligned(as: UInt64.self)
            let special =
                (word &- lowBits &* 0x20) & ~word & highBits
                | zeroBytes(word ^ (lowBits &* 0x22)) | zeroBytes(word ^ (lowBits &* 0x5C))
                | zeroBytes(word ^ (lowBits &* 0x7F))
            if special != 0 { return index + special.littleEndian.trailingZeroBitCount >> 3 }
            index += 8
        }
        while index < count, isPlain(bytes[index]) { index += 1 }
        return index
    }

    @usableFromInline static let lowBits: UInt64 = 0x0101_0101_0101_0101
    @usableFromInline static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Flags (high bit) the zero bytes of `word`; bytes above a flagged one may be flagged falsely.
    @inline(__always)
    @inlinable static func zeroBytes(_ word: UInt64) -> UInt64 { (word &- lowBits) & ~word & highBits }

    /// Copies short runs (keys, ids, names: mostly 4–16 bytes) with at most two overlapping word
    /// stores instead of a call to `memcpy`; longer ones with `memcpy`.
    @inline(__always)
    @inlinable public static func copy(
        _ source: UnsafePointer<UInt8>, to target: UnsafeMutablePointer<UInt8>, count: Int
    ) {
        let from = UnsafeRawPointer(source)
        let to = UnsafeMutableRawPointer(target)
        switch count {
        case 8...16:
            to.storeBytes(of: from.loadUnaligned(as: UInt64.self), as: UInt64.self)
            (to + count - 8).storeBytes(of: (from + count - 8).loadUnaligned(as: UInt64.self), as: UInt64.self)
        case 4..<8:
            to.storeBytes(of: from.loadUnaligned(as: UInt32.self), as: UInt32.self)
            (to + count - 4).storeBytes(of: (from + count - 4).loadUnaligned(as: UInt32.self), as: UInt32.self)
        case 0..<4:
            for offset in 0..<count { target[offset] = source[offset] }
        default:
            target.update(from: source, count: count)
        }
    }

    /// Writes the comma when `needed`; returns how many bytes that took.
    @inline(__always)
    @inlinable static func comma(_ needed: Bool, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        guard needed else { return 0 }
        out[0] = UInt8(ascii: ",")
        return 1
    }

    @inline(__always)
    @inlinable static func isPlain(_ byte: UInt8) -> Bool {
        byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") && byte != 0x7F
    }

    @inlinable static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 48 + nibble : 87 + nibble
    }

    /// `-9223372036854775808` is 20 bytes.
    public static let maxIntegerDigits = 20

    /// Writes `value` in decimal (as `String(value)` would) and returns the number of bytes.
    @inlinable public static func formatInteger(_ value: Int64, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var magnitude = value.magnitude
        var position = 0
        if value < 0 {
            out[0] = UInt8(ascii: "-")
            position = 1
        }
        var digits = 1
        var rest = magnitude
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        var cursor = position + digits
        repeat {
            cursor -= 1
            out[cursor] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        return position + digits
    }
}
