#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Reads and writes state snapshot files (`RiskEngine.stateSnapshot`). Writing is atomic: the bytes go
/// to a temporary file in the same folder, which is flushed to disk and then renamed over the target
/// (and the folder flushed), so a crash leaves the old file or the new one, never a mix. `vigil replay`
/// uses it today; the daemon's local snapshots will.
enum SnapshotFile {
    enum FileError: Error, CustomStringConvertible {
        case read(path: String, errno: Int32)
        case write(path: String, step: String, errno: Int32)

        /// The system's reason alone, for a message that names the path already.
        var reason: String {
            switch self {
            case .read(_, let code): String(cString: strerror(code))
            case .write(_, let step, let code): "\(step): \(String(cString: strerror(code)))"
            }
        }

        var description: String {
            switch self {
            case .read(let path, let code): "cannot read \(path): \(String(cString: strerror(code)))"
            case .write(let path, let step, let code):
                "cannot write \(path) (\(step)): \(String(cString: strerror(code)))"
            }
        }
    }

    static func contents(of path: String) throws(FileError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .read(path: path, errno: errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .read(path: path, errno: errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    static func writeAtomically(_ bytes: [UInt8], to path: String) throws(FileError) {
        let temporary = path + ".tmp-\(getpid())"
        // A new file only: a leftover of a crashed run with this process id goes first (unlink removes a
        // link, never its target), and whatever appears in between makes the create fail rather than be
        // written through.
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard descriptor >= 0 else { throw .write(path: temporary, step: "create", errno: errno) }
        if let code = bytes.withUnsafeBytes({ writeFully($0, to: descriptor) }) {
            close(descriptor)
            unlink(temporary)
            throw .write(path: temporary, step: "write", errno: code)
        }
        if fsync(descriptor) != 0 {
            let code = errno
            close(descriptor)
            unlink(temporary)
            throw .write(path: temporary, step: "fsync", errno: code)
        }
        close(descriptor)
        if rename(temporary, path) != 0 {
            let code = errno
            unlink(temporary)
            throw .write(path: path, step: "rename", errno: code)
        }
        let folder = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let folderDescriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folderDescriptor >= 0 {
            fsync(folderDescriptor)
            close(folderDescriptor)
        }
    }
}
