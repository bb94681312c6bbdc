import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One JSON object per line for log pipelines:
/// `{"ts":"2026-03-02T09:00:00.123Z","level":"info","logger":"vigil","msg":"…",<metadata>}`. Metadata is flattened into
/// the object (nested dictionaries as dotted keys, arrays as JSON arrays of strings); a metadata key that would shadow
/// `ts`, `level`, `logger`, `msg` (or `error`, when the event carries one) gets a leading `_`. Written by hand into one
/// byte buffer: no encoder, no Foundation formatter, one write per line.
struct JSONLogHandler: LogHandler {
    private static let reservedKeys: Set<String> = ["ts", "level", "logger", "msg"]

    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    private let write: @Sendable ([UInt8]) -> Void

    /// `write` receives each complete line, newline included.
    init(label: String, level: Logger.Level, write: @escaping @Sendable ([UInt8]) -> Void) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, call in call } }
        var out = JSONLine()
        out.field("ts") { $0.timestamp() }
        out.field("level", event.level.rawValue)
        out.field("logger", label)
        out.field("msg", event.message.description)
        if let error = event.error { out.field("error", "\(error)") }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            let shadows = Self.reservedKeys.contains(key) || (key == "error" && event.error != nil)
            out.metadata(shadows ? "_" + key : key, value)
        }
        out.finish()
        write(out.bytes)
    }
}

/// A JSON object under construction, one line long.
struct JSONLine {
    private(set) var bytes: [UInt8] = [UInt8(ascii: "{")]

    init() { bytes.reserveCapacity(256) }

    mutating func field(_ key: String, _ value: String) {
        field(key) { $0.string(value) }
    }

    mutating func field(_ key: String, value body: (inout JSONLine) -> Void) {
        if bytes.count > 1 { bytes.append(UInt8(ascii: ",")) }
        string(key)
        bytes.append(UInt8(ascii: ":"))
        body(&self)
    }

    mutating func metadata(_ key: String, _ value: Logger.Metadata.Value) {
        switch value {
        case .string(let text): field(key, text)
        case .stringConvertible(let convertible): field(key, convertible.description)
        case .dictionary(let nested):
            for (inner, innerValue) in nested.sorted(by: { $0.key < $1.key }) {
                metadata(key + "." + inner, innerValue)
            }
        case .array(let values):
            field(key) { line in
                line.bytes.append(UInt8(ascii: "["))
                for (index, element) in values.enumerated() {
                    if index > 0 { line.bytes.append(UInt8(ascii: ",")) }
                    line.string(element.description)
                }
                line.bytes.append(UInt8(ascii: "]"))
            }
        }
    }

    mutating func finish() {
        bytes.append(UInt8(ascii: "}"))
        bytes.append(UInt8(ascii: "\n"))
    }

    /// A JSON string: quote, backslash and every control character escaped (RFC 8259 §7), other UTF-8
    /// copied as is.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                bytes.append(contentsOf: Array("\\u00".utf8))
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// Now as RFC 3339 UTC with milliseconds, quoted.
    mutating func timestamp() {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        bytes.append(UInt8(ascii: "\""))
        digits(Int(parts.tm_year) + 1900, 4)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        bytes.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        bytes.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        bytes.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        bytes.append(UInt8(ascii: "."))
        digits(Int(now.tv_nsec) / 1_000_000, 3)
        bytes.append(contentsOf: [UInt8(ascii: "Z"), UInt8(ascii: "\"")])
    }

    private mutating func digits(_ value: Int, _ width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

/// Whole lines to file descriptor 2. The lock keeps concurrent lines from interleaving when a write
/// is split.
enum StandardError {
    private static let lock = Mutex(())

    @Sendable static func writeLine(_ line: [UInt8]) {
        lock.withLock { _ in
            line.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }
}
