#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Reads newline-delimited records from a file descriptor in large chunks. A line longer than
/// `keepBytes` is cut to its first `keepBytes + 1` bytes (enough for the decoder to reject it as
/// too large and for the dead letter to keep its head) while its full length is still counted, so a
/// 10 MB line never costs 10 MB of memory.
final class LineReader {
    struct Line {
        var number: Int
        /// The kept bytes, without the newline (and without a trailing `\r`).
        var bytes: UnsafeRawBufferPointer
        var fullLength: Int
    }

    enum ReadError: Error, CustomStringConvertible {
        case readFailed(errno: Int32)
        var description: String {
            switch self {
            case .readFailed(let code): "read failed: \(String(cString: strerror(code)))"
            }
        }
    }

    private let descriptor: Int32
    private let keepBytes: Int
    private var buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    private var eof = false
    private var lineNumber = 0
    /// Holds a line that spans chunk boundaries.
    private var carry: [UInt8] = []
    private var carryLength = 0

    init(descriptor: Int32, keepBytes: Int, chunkSize: Int = 1 << 20) {
        self.descriptor = descriptor
        self.keepBytes = keepBytes
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(chunkSize, 4096), alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// Calls `body` for each line until end of input. Blank lines are skipped but counted.
    func forEachLine(_ body: (Line) throws -> Void) throws {
        while true {
            if start == end {
                if eof { break }
                try fill()
                continue
            }
            let region = UnsafeRawBufferPointer(rebasing: buffer[start..<end])
            if let newline = region.firstIndex(of: UInt8(ascii: "\n")) {
                let piece = UnsafeRawBufferPointer(rebasing: region[..<newline])
                start += newline + 1
                lineNumber += 1
                if carryLength == 0 {
                    try emit(piece, fullLength: piece.count, body)
                } else {
                    append(piece)
                    try emitCarry(body)
                }
            } else {
                append(region)
                start = end
                if eof { break }
            }
        }
        if carryLength > 0 {
            lineNumber += 1
            try emitCarry(body)
        }
    }

    private func append(_ piece: UnsafeRawBufferPointer) {
        let room = keepBytes + 1 - carry.count
        if room > 0 { carry.append(contentsOf: piece.prefix(room)) }
        carryLength += piece.count
    }

    private func emitCarry(_ body: (Line) throws -> Void) throws {
        let length = carryLength
        let kept = carry
        carry.removeAll(keepingCapacity: true)
        carryLength = 0
        try kept.withUnsafeBytes { try emit($0, fullLength: length, body) }
    }

    private func emit(_ raw: UnsafeRawBufferPointer, fullLength: Int, _ body: (Line) throws -> Void) throws {
        var bytes = raw.count > keepBytes + 1 ? UnsafeRawBufferPointer(rebasing: raw[..<(keepBytes + 1)]) : raw
        var length = fullLength
        // A byte-order mark some editors and exports put first is no part of the first record.
        if lineNumber == 1, bytes.starts(with: Self.byteOrderMark) {
            bytes = UnsafeRawBufferPointer(rebasing: bytes[Self.byteOrderMark.count...])
            length -= Self.byteOrderMark.count
        }
        if bytes.count == length, bytes.last == UInt8(ascii: "\r") {
            bytes = UnsafeRawBufferPointer(rebasing: bytes.dropLast())
            length -= 1
        }
        if length == 0 || bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) && length == bytes.count {
            return
        }
        try body(Line(number: lineNumber, bytes: bytes, fullLength: length))
    }

    /// UTF-8's byte-order mark.
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    private func fill() throws {
        start = 0
        end = 0
        while true {
            let count = read(descriptor, buffer.baseAddress, buffer.count)
            if count > 0 {
                end = count
                return
            }
            if count == 0 {
                eof = true
                return
            }
            if errno == EINTR { continue }
            throw ReadError.readFailed(errno: errno)
        }
    }
}
