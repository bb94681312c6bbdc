#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Appends JSON lines to a file through a large buffer: one `write(2)` per megabyte, not per line.
final class FileSink {
    enum SinkError: Error, CustomStringConvertible {
        case open(path: String, errno: Int32)
        case write(path: String, errno: Int32)

        var description: String {
            switch self {
            case .open(let path, let code): "cannot create \(path): \(String(cString: strerror(code)))"
            case .write(let path, let code): "cannot write \(path): \(String(cString: strerror(code)))"
            }
        }
    }

    let path: String
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    private(set) var lines = 0
    private static let flushThreshold = 1 << 20

    init(path: String) throws {
        self.path = path
        // Owner-only (decisions and alerts name users and addresses), and never through a symbolic link:
        // one planted in a shared output folder would have the replay overwrite its target.
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if descriptor < 0 { throw SinkError.open(path: path, errno: errno) }
        // An existing file keeps its mode through O_CREAT: narrowed here too.
        fchmod(descriptor, 0o600)
        buffer.reserveCapacity(Self.flushThreshold + 65_536)
    }

    deinit { close(descriptor) }

    func writeLine(_ bytes: [UInt8]) throws {
        buffer.append(contentsOf: bytes)
        buffer.append(UInt8(ascii: "\n"))
        lines += 1
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    func flush() throws {
        if let code = buffer.withUnsafeBytes({ writeFully($0, to: descriptor) }) {
            throw SinkError.write(path: path, errno: code)
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
