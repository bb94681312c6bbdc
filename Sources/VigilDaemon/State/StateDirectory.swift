import VigilCore

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// `state.dir`: the local snapshot files, one per input partition (`<topic>-<partition>.snapshot`), owned
/// by one instance at a time.
///
/// Two instances writing one directory would overwrite each other's snapshots with state the other never
/// had, so the directory is locked for the object's lifetime: `flock` on `<dir>/.lock`, which holds the
/// owner's pid for the error the next one gets. The kernel drops the lock when the process ends, however
/// it ends, so a crash leaves no stale lock behind.
///
/// Sendable and safe to use from several threads (the snapshot writer's and the loop's): its methods
/// touch only the file of the partition they are given, and each partition's file is written by one
/// writer.
final class StateDirectory: Sendable {
    /// The directory, as configured.
    let path: String
    /// The oldest snapshot `loadSnapshot` returns (`state.snapshot_max_age`), in milliseconds; nil: any age.
    private let maxSnapshotAgeMilliseconds: Int64?
    private let lockDescriptor: Int32

    /// Creates `path` (mode 0700, parents too) when missing, then takes its lock; fails naming the
    /// directory and the reason, or the pid of the instance that holds it. Snapshots older than
    /// `maxSnapshotAge` are discarded when loaded.
    init(path: String, maxSnapshotAge: EventDuration? = nil) throws(StateDirectoryError) {
        self.path = path
        maxSnapshotAgeMilliseconds = maxSnapshotAge.map { $0.microseconds / 1000 }
        try Self.createDirectory(path)
        let lockPath = path + "/.lock"
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw .cannotLock(path: lockPath, errno: errno) }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            let holder = Self.holderPID(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK { throw .inUse(path: path, holderPID: holder) }
            throw .cannotLock(path: lockPath, errno: code)
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(descriptor, 0) == 0,
            pid.withUnsafeBytes({ pwrite(descriptor, $0.baseAddress, $0.count, 0) }) == pid.count
        else {
            let code = errno
            close(descriptor)
            throw .cannotLock(path: lockPath, errno: code)
        }
        lockDescriptor = descriptor
        removeUnfinishedWrites()
    }

    deinit {
        close(lockDescriptor)
    }

    /// The snapshot file of one input partition. Topic names are limited to `[A-Za-z0-9._-]` and are
    /// never `.` or `..`, so the name is a plain file name.
    func snapshotPath(inputTopic: String, partition: Int32) -> String {
        "\(path)/\(inputTopic)-\(partition).snapshot"
    }

    /// The partition's snapshot, `.absent` when there is none, or `.discarded` with the reason when the
    /// file cannot be used (unreadable, damaged, of an unknown version, another partition's).
    func loadSnapshot(inputTopic: String, partition: Int32) -> LocalSnapshotLoad {
        let file = snapshotPath(inputTopic: inputTopic, partition: partition)
        let bytes: [UInt8]
        do throws(SnapshotFile.FileError) {
            bytes = try SnapshotFile.contents(of: file)
        } catch {
            if case .read(_, let code) = error, code == ENOENT { return .absent }
            return .discarded(.unreadable(error.description))
        }
        switch LocalSnapshotFormat.decode(bytes) {
        case .failure(let reason):
            return .discarded(reason)
        case .success(let snapshot):
            guard snapshot.inputTopic == inputTopic, snapshot.inputPartition == partition else {
                return .discarded(.otherPartition(topic: snapshot.inputTopic, partition: snapshot.inputPartition))
            }
            let age = LocalSnapshot.wallClockMilliseconds() - snapshot.writtenAt
            if let limit = maxSnapshotAgeMilliseconds, age > limit {
                return .discarded(.tooOld(ageSeconds: age / 1000, maxAgeSeconds: limit / 1000))
            }
            return .found(snapshot)
        }
    }

    /// Replaces the partition's snapshot atomically: a crash leaves the previous file or this one whole.
    func writeSnapshot(_ snapshot: LocalSnapshot) throws(SnapshotFile.FileError) {
        try SnapshotFile.writeAtomically(
            LocalSnapshotFormat.encode(snapshot),
            to: snapshotPath(inputTopic: snapshot.inputTopic, partition: snapshot.inputPartition))
    }

    /// Deletes the partition's snapshot (after it was discarded, so the warning is not repeated at every
    /// start); a missing file is not an error.
    func removeSnapshot(inputTopic: String, partition: Int32) throws(StateDirectoryError) {
        let file = snapshotPath(inputTopic: inputTopic, partition: partition)
        guard unlink(file) == 0 || errno == ENOENT else { throw .cannotRemove(path: file, errno: errno) }
    }

    /// Deletes the temporary files of snapshot writes a crash cut short (`SnapshotFile.writeAtomically`
    /// names them `<file>.tmp-<pid>`): with the lock held, no other process is writing here. Best effort:
    /// a file that stays only takes space.
    private func removeUnfinishedWrites() {
        guard let folder = opendir(path) else { return }
        defer { closedir(folder) }
        while let entry = readdir(folder) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name.contains(".snapshot.tmp-"), !name.hasSuffix(".snapshot") else { continue }
            unlink(path + "/" + name)
        }
    }

    /// `mkdir -p` with mode 0700 for what it creates: snapshots hold keyed hashes, not identifiers, but
    /// nobody else needs to read them. Existing directories keep their mode.
    private static func createDirectory(_ path: String) throws(StateDirectoryError) {
        guard !path.isEmpty else { throw .cannotCreate(path: path, failing: path, errno: ENOENT) }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + component
            if mkdir(prefix, 0o700) == 0 { continue }
            let code = errno
            var status = stat()
            guard code == EEXIST, stat(prefix, &status) == 0 else {
                throw .cannotCreate(path: path, failing: prefix, errno: code)
            }
            guard status.st_mode & S_IFMT == S_IFDIR else { throw .notADirectory(path: path, failing: prefix) }
        }
    }

    /// The pid the lock's holder wrote, when it can be read.
    private static func holderPID(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).filter(\.isNumber))
    }
}

/// Why `state.dir` cannot be used; each stops the start (the local snapshots and the lock that keeps two
/// instances apart depend on it). Messages name the directory and what to do.
enum StateDirectoryError: Error, Equatable, CustomStringConvertible {
    /// Creating the directory (or the parent `failing`) failed.
    case cannotCreate(path: String, failing: String, errno: Int32)
    /// `failing`, the directory or one of its parents, exists and is not a directory.
    case notADirectory(path: String, failing: String)
    /// The lock file could not be opened, locked or written.
    case cannotLock(path: String, errno: Int32)
    /// Another process holds the directory's lock.
    case inUse(path: String, holderPID: Int32?)
    /// A discarded snapshot could not be deleted.
    case cannotRemove(path: String, errno: Int32)

    /// One line naming the directory, the cause and what to do.
    var description: String {
        switch self {
        case .cannotCreate(let path, let failing, let code):
            "cannot create state directory \(path) (\(failing): \(Self.text(code))): create it for Vigil's user or "
                + "set state.dir to a writable directory"
        case .notADirectory(let path, let failing):
            "cannot use state directory \(path): \(failing) exists and is not a directory; set state.dir elsewhere"
        case .cannotLock(let path, let code):
            "cannot lock \(path) (\(Self.text(code))): give Vigil's user write access to the directory or set "
                + "state.dir elsewhere"
        case .inUse(let path, let holder):
            "state directory \(path) is in use by another Vigil instance (\(holder.map { "pid \($0)" } ?? "pid unknown")): "
                + "each instance needs its own state.dir"
        case .cannotRemove(let path, let code):
            "cannot remove discarded snapshot \(path) (\(Self.text(code))): delete it by hand"
        }
    }

    private static func text(_ code: Int32) -> String { String(cString: strerror(code)) }
}
