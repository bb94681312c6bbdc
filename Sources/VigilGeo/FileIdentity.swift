#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a file is on disk right now. Updaters replace databases by writing a new file and renaming it
/// over the old one, which changes the inode; an in-place rewrite changes size or mtime. Comparing all
/// four catches both without reading the file. The daemon's config reload uses it too (`stat` follows
/// the symlink Kubernetes swaps for a mounted config).
public struct FileIdentity: Equatable, Sendable {
    let device: UInt64
    let inode: UInt64
    let size: Int64
    let modifiedSeconds: Int
    let modifiedNanoseconds: Int

    /// The identity of the file at `path` now (following symlinks); throws when it is missing or cannot be read.
    public init(path: String) throws(GeoDatabaseError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { throw .fileMissing(path: path) }
            throw .unreadable(path: path, reason: systemError())
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .unreadable(path: path, reason: "not a regular file") }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int64(info.st_size)
        #if canImport(Darwin)
        modifiedSeconds = Int(info.st_mtimespec.tv_sec)
        modifiedNanoseconds = Int(info.st_mtimespec.tv_nsec)
        #else
        modifiedSeconds = Int(info.st_mtim.tv_sec)
        modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        #endif
    }
}
