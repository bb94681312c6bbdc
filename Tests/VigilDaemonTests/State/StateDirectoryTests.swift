import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// `state.dir`: created when missing, refused clearly when it cannot be, locked against a second instance,
/// and the per-partition snapshot files it holds, with every reason a file is discarded.
@Suite struct StateDirectoryTests {
    /// One write time for every snapshot of a test, so two built alike compare equal.
    private let writtenAt = LocalSnapshot.wallClockMilliseconds()

    private func snapshot(
        topic: String = "auth.events", partition: Int32 = 3, state: [UInt8] = Array(0..<200), age: Int64 = 0
    ) -> LocalSnapshot {
        LocalSnapshot(
            inputTopic: topic, inputPartition: partition, changelogTopic: "vigil-state-changelog",
            changelogOffset: 41, stamp: 9_000, state: state, writtenAt: writtenAt - age)
    }

    /// Compaction may drop a tombstone after delete.retention.ms: a snapshot older than the limit could
    /// still hold the entry it deleted, so it is not used.
    @Test func snapshotsOlderThanTheMaxAgeAreDiscarded() throws {
        let path = try TestPaths.temporaryDirectory("state-dir").path
        let directory = try StateDirectory(path: path, maxSnapshotAge: .hours(1))
        let recent = snapshot(age: 59 * 60 * 1000)
        try directory.writeSnapshot(recent)
        #expect(directory.loadSnapshot(inputTopic: "auth.events", partition: 3) == .found(recent))
        try directory.writeSnapshot(snapshot(age: 2 * 3600 * 1000 + 500))
        let load = directory.loadSnapshot(inputTopic: "auth.events", partition: 3)
        guard case .discarded(.tooOld(let age, let limit)) = load else {
            Issue.record("expected a snapshot too old, got \(load)")
            return
        }
        #expect((7200...7210).contains(age))
        #expect(limit == 3600)
        #expect(
            SnapshotDiscardReason.tooOld(ageSeconds: 7200, maxAgeSeconds: 3600).description.contains(
                "it was written 7200 s ago, more than state.snapshot_max_age (3600 s)"))
    }

    @Test func missingDirectoryIsCreatedPrivate() throws {
        let root = try TestPaths.temporaryDirectory("state-dir")
        let path = root.appendingPathComponent("nested/state").path
        let directory = try StateDirectory(path: path)
        var status = stat()
        #expect(stat(path, &status) == 0)
        #expect(status.st_mode & 0o777 == 0o700)
        #expect(try String(contentsOfFile: path + "/.lock", encoding: .utf8) == "\(getpid())\n")
        withExtendedLifetime(directory) {}
    }

    @Test func uncreatableDirectoryNamesThePathAndTheReason() throws {
        let root = try TestPaths.temporaryDirectory("state-dir")
        // A name longer than any file system allows: refused even to root, which tests may run as.
        let tooLong = root.appendingPathComponent(String(repeating: "x", count: 300)).path
        let path = tooLong + "/state"
        let refused = StateDirectoryError.cannotCreate(path: path, failing: tooLong, errno: ENAMETOOLONG)
        #expect(throws: refused) { try StateDirectory(path: path) }
        #expect(refused.description.hasPrefix("cannot create state directory \(path) (\(tooLong): File name too long)"))
        #expect(refused.description.hasSuffix("set state.dir to a writable directory"))

        let file = root.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: file)
        let below = file.path + "/state"
        #expect(throws: StateDirectoryError.notADirectory(path: below, failing: file.path)) {
            try StateDirectory(path: below)
        }
        #expect(throws: StateDirectoryError.notADirectory(path: file.path, failing: file.path)) {
            try StateDirectory(path: file.path)
        }
    }

    @Test func aSecondInstanceIsRefusedNamingTheHolder() throws {
        let path = try TestPaths.temporaryDirectory("state-dir").path
        var first: StateDirectory? = try StateDirectory(path: path)
        let pid = getpid()
        #expect(throws: StateDirectoryError.inUse(path: path, holderPID: pid)) { try StateDirectory(path: path) }
        #expect(
            StateDirectoryError.inUse(path: path, holderPID: pid).description
                == "state directory \(path) is in use by another Vigil instance (pid \(pid)): each instance needs its "
                + "own state.dir")
        withExtendedLifetime(first) {}
        first = nil
        // Released with its owner: the next instance takes the directory over.
        let second = try StateDirectory(path: path)
        withExtendedLifetime(second) {}
    }

    @Test func snapshotsRoundTripPerPartition() throws {
        let directory = try StateDirectory(path: try TestPaths.temporaryDirectory("state-dir").path)
        #expect(directory.loadSnapshot(inputTopic: "auth.events", partition: 3) == .absent)
        let written = snapshot()
        try directory.writeSnapshot(written)
        try directory.writeSnapshot(snapshot(partition: 4, state: []))
        #expect(directory.snapshotPath(inputTopic: "auth.events", partition: 3).hasSuffix("/auth.events-3.snapshot"))
        #expect(directory.loadSnapshot(inputTopic: "auth.events", partition: 3) == .found(written))
        #expect(
            directory.loadSnapshot(inputTopic: "auth.events", partition: 4) == .found(snapshot(partition: 4, state: []))
        )
        #expect(directory.loadSnapshot(inputTopic: "other.events", partition: 3) == .absent)

        try directory.removeSnapshot(inputTopic: "auth.events", partition: 3)
        #expect(directory.loadSnapshot(inputTopic: "auth.events", partition: 3) == .absent)
        try directory.removeSnapshot(inputTopic: "auth.events", partition: 3)
    }

    @Test func unfinishedWritesOfACrashAreRemovedWhenLocked() throws {
        let path = try TestPaths.temporaryDirectory("state-dir").path
        var first: StateDirectory? = try StateDirectory(path: path)
        try first?.writeSnapshot(snapshot())
        first = nil
        let unfinished = path + "/auth.events-3.snapshot.tmp-4242"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: unfinished))
        let directory = try StateDirectory(path: path)
        #expect(!FileManager.default.fileExists(atPath: unfinished))
        #expect(directory.loadSnapshot(inputTopic: "auth.events", partition: 3) == .found(snapshot()))
    }

    @Test func damagedFilesAreDiscardedWithTheirReason() throws {
        let directory = try StateDirectory(path: try TestPaths.temporaryDirectory("state-dir").path)
        let file = directory.snapshotPath(inputTopic: "auth.events", partition: 3)
        let whole = LocalSnapshotFormat.encode(snapshot())
        func load(_ bytes: [UInt8]) throws -> LocalSnapshotLoad {
            try Data(bytes).write(to: URL(fileURLWithPath: file))
            return directory.loadSnapshot(inputTopic: "auth.events", partition: 3)
        }

        #expect(try load(Array("not a snapshot at all".utf8)) == .discarded(.notASnapshot))
        #expect(try load([]) == .discarded(.notASnapshot))
        var newer = whole
        newer[8] = 2
        #expect(try load(newer) == .discarded(.unknownVersion(2)))
        #expect(try load(Array(whole.prefix(20))) == .discarded(.truncated(size: 20, expected: 58)))
        #expect(
            try load(Array(whole.dropLast(100)))
                == .discarded(.truncated(size: whole.count - 100, expected: whole.count)))
        var flipped = whole
        flipped[whole.count - 50] ^= 0x01
        #expect(try load(flipped) == .discarded(.corrupt))
        #expect(try load(whole + [0]) == .discarded(.corrupt))
        #expect(
            try load(LocalSnapshotFormat.encode(snapshot(partition: 5)))
                == .discarded(.otherPartition(topic: "auth.events", partition: 5)))
        #expect(
            try load(LocalSnapshotFormat.encode(snapshot(topic: "other.events")))
                == .discarded(.otherPartition(topic: "other.events", partition: 3)))
        #expect(try load(whole) == .found(snapshot()))

        chmod(file, 0)
        defer { chmod(file, 0o600) }
        // Root reads the file anyway; anyone else gets the error.
        if getuid() != 0 {
            guard
                case .discarded(.unreadable(let detail)) = directory.loadSnapshot(
                    inputTopic: "auth.events", partition: 3)
            else {
                Issue.record("an unreadable file should be discarded")
                return
            }
            #expect(detail.contains("Permission denied"))
        }
    }

    @Test func discardReasonsSayWhatHappensInstead() {
        #expect(
            SnapshotDiscardReason.corrupt.description
                == "local snapshot discarded, its checksum does not match: the file is damaged; restoring from the "
                + "changelog instead")
        #expect(
            SnapshotDiscardReason.truncated(size: 20, expected: 50).description.contains("truncated (20 of 50 bytes)"))
    }

    @Test func aSnapshotMatchesOnlyItsChangelogWhileItStillHoldsTheTail() {
        let local = snapshot()  // checkpoint at changelog offset 41: the restore reads from 42
        #expect(local.mismatch(changelogTopic: "vigil-state-changelog", changelogOffsets: 0..<42) == nil)
        #expect(local.mismatch(changelogTopic: "vigil-state-changelog", changelogOffsets: 42..<100) == nil)
        #expect(
            local.mismatch(changelogTopic: "vigil-state-changelog", changelogOffsets: 43..<100)
                == .changelogOffsetOutOfRange(offset: 41, low: 43, high: 100))
        // A recreated, emptier topic: the checkpoint is past its end.
        #expect(
            local.mismatch(changelogTopic: "vigil-state-changelog", changelogOffsets: 0..<10)
                == .changelogOffsetOutOfRange(offset: 41, low: 0, high: 10))
        #expect(
            local.mismatch(changelogTopic: "renamed-changelog", changelogOffsets: 0..<100)
                == .otherChangelogTopic(found: "vigil-state-changelog", expected: "renamed-changelog"))
    }
}
