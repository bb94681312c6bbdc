import Foundation

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// The files the command-line tools write (`vigil replay`, `vigil generate`): which spellings name one
/// file, and how a whole file is written without replacing what the path names.
public enum OutputPaths {
    /// Why a file could not be written.
    public struct WriteError: Error, CustomStringConvertible {
        /// The file, as the user gave it.
        public var path: String
        /// The system's reason.
        public var reason: String
        /// `cannot write <path>: <reason>`.
        public var description: String { "cannot write \(path): \(reason)" }
    }

    /// `path` with every symbolic link and `.`/`..` resolved: the file's own when it exists, else its
    /// folder's plus its name. Two spellings of one file give one string; nil when the folder does not
    /// exist.
    public static func canonical(_ path: String) -> String? {
        if let resolved = realPath(path) { return resolved }
        let url = URL(fileURLWithPath: path)
        guard let folder = realPath(url.deletingLastPathComponent().path) else { return nil }
        return joined(folder, url.lastPathComponent)
    }

    /// `path` with its longest existing prefix resolved as `canonical` does and the rest appended: one
    /// string for two spellings of a file in a folder still to be created.
    public static func resolved(_ path: String) -> String {
        if let resolved = realPath(path) { return resolved }
        let url = URL(fileURLWithPath: path).standardized
        let parent = url.deletingLastPathComponent().path
        guard parent != url.path else { return url.path }
        return joined(resolved(parent), url.lastPathComponent)
    }

    /// The descriptor `path` names when it is the process's standard output or error, else nil.
    public static func standardStream(_ path: String) -> Int32? {
        switch path {
        case "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1": 1
        case "/dev/stderr", "/dev/fd/2", "/proc/self/fd/2": 2
        default: nil
        }
    }

    /// The folder `path` is in.
    public static func folder(of path: String) -> String { URL(fileURLWithPath: path).deletingLastPathComponent().path }

    private static func joined(_ folder: String, _ name: String) -> String {
        folder == "/" ? "/" + name : folder + "/" + name
    }

    /// Writes `bytes` as the whole of `path`. A regular file (or a new one) is replaced atomically, through
    /// a temporary file beside it renamed over it (at a symbolic link's target, the link kept); a FIFO or
    /// a device (`/dev/stdout`) is written in place, as a stream: renaming over it would replace the node.
    public static func write(_ bytes: [UInt8], to path: String) throws(WriteError) {
        // The process's own standard output or error, as a shell may have redirected it (`>>` included):
        // written to the descriptor, which reopening the path (or renaming over what it resolves to) is not.
        if let descriptor = standardStream(path) {
            try writeAll(bytes, to: descriptor, path: path)
            return
        }
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            guard status.st_mode & S_IFMT != S_IFDIR else { throw WriteError(path: path, reason: "it is a directory") }
            let descriptor = open(path, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw WriteError(path: path, reason: String(cString: strerror(errno))) }
            defer { close(descriptor) }
            try writeAll(bytes, to: descriptor, path: path)
            return
        }
        let target = canonical(path) ?? path
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: target), options: .atomic)
        } catch {
            let code = ((error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError)?.code
            throw WriteError(
                path: path, reason: code.map { String(cString: strerror(Int32($0))) } ?? error.localizedDescription)
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(WriteError) {
        if let code = bytes.withUnsafeBytes({ writeFully($0, to: descriptor) }) {
            throw WriteError(path: path, reason: String(cString: strerror(code)))
        }
    }

    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }
}
