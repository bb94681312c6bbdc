import _VigilMachinery

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// One partition's state as of a changelog checkpoint, kept in `state.dir` so a restart reads only the
/// changelog written after it.
///
/// `state` is the engine's own snapshot (`StateSnapshot` bytes, stamped `stamp`), which this type does not
/// decode: the file around it only says which partition and which changelog position it belongs to and
/// proves it arrived whole. The changelog remains the source of truth: a snapshot whose changelog offset
/// is no longer in the changelog, or that belongs to another changelog topic, is not used.
struct LocalSnapshot: Sendable, Equatable {
    /// The input topic whose partition this is the state of.
    var inputTopic: String
    /// The input partition, which is also the changelog partition.
    var inputPartition: Int32
    /// The changelog topic the state was written to.
    var changelogTopic: String
    /// The offset of the checkpoint record in the changelog partition that this state equals: a restore
    /// reads the changelog from the offset after it.
    var changelogOffset: Int64
    /// The input offset of the last event the state reflects (the checkpoint's stamp).
    var stamp: Int64
    /// The engine's `StateSnapshot` bytes.
    var state: [UInt8]
    /// When the snapshot was taken (wall clock, milliseconds since 1970): a restore refuses one older than
    /// `state.snapshot_max_age`, since compaction may have dropped tombstones of entries it still holds.
    var writtenAt = LocalSnapshot.wallClockMilliseconds()

    /// Milliseconds since 1970 now.
    static func wallClockMilliseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
    }

    /// Why this snapshot cannot seed a restore from `changelogTopic`, whose partition now holds
    /// `changelogOffsets` (low watermark up to the end offset), or nil when it can. A snapshot is usable
    /// only while the changelog still holds what follows its checkpoint: the next offset must lie within
    /// the partition (or be its end).
    func mismatch(changelogTopic: String, changelogOffsets: Range<Int64>) -> SnapshotDiscardReason? {
        if changelogTopic != self.changelogTopic {
            return .otherChangelogTopic(found: self.changelogTopic, expected: changelogTopic)
        }
        let next = changelogOffset + 1
        guard next >= changelogOffsets.lowerBound, next <= changelogOffsets.upperBound else {
            return .changelogOffsetOutOfRange(
                offset: changelogOffset, low: changelogOffsets.lowerBound, high: changelogOffsets.upperBound)
        }
        return nil
    }
}

/// What `StateDirectory.loadSnapshot` found for a partition.
enum LocalSnapshotLoad: Sendable, Equatable {
    /// No snapshot file: restore from the whole changelog.
    case absent
    /// A whole snapshot of the asked partition.
    case found(LocalSnapshot)
    /// A file that cannot be used: log the reason as a warning, remove the file and restore from the
    /// changelog.
    case discarded(SnapshotDiscardReason)
}

/// Why a local snapshot is not used. None of them is fatal: the changelog holds the same state.
enum SnapshotDiscardReason: Error, Equatable, CustomStringConvertible {
    /// The file exists but cannot be read.
    case unreadable(String)
    /// The file does not start with the snapshot magic: it is no Vigil snapshot.
    case notASnapshot
    /// Written by a newer Vigil, whose format this one does not know.
    case unknownVersion(UInt16)
    /// Shorter than its header says: the write was cut short or the file was cut.
    case truncated(size: Int, expected: Int)
    /// The checksum does not match the content (or bytes follow the content): the file was damaged.
    case corrupt
    /// The file holds another partition's state (a file copied or renamed by hand).
    case otherPartition(topic: String, partition: Int32)
    /// The state was written to another changelog topic than the one in use.
    case otherChangelogTopic(found: String, expected: String)
    /// The changelog no longer holds the records after the snapshot's checkpoint (or never held it: the
    /// topic was recreated).
    case changelogOffsetOutOfRange(offset: Int64, low: Int64, high: Int64)
    /// The engine refused the inner state (unknown inner version, foreign hashing key), as the caller found.
    case stateRefused(String)
    /// Older than `state.snapshot_max_age`: compaction may have dropped tombstones of entries it holds.
    case tooOld(ageSeconds: Int64, maxAgeSeconds: Int64)

    /// One line for the warning, ending in what happens instead.
    var description: String {
        let reason =
            switch self {
            case .unreadable(let detail): "it cannot be read: \(detail)"
            case .notASnapshot: "it is not a Vigil state snapshot"
            case .unknownVersion(let version): "its format version \(version) is unknown to this Vigil"
            case .truncated(let size, let expected): "it is truncated (\(size) of \(expected) bytes)"
            case .corrupt: "its checksum does not match: the file is damaged"
            case .otherPartition(let topic, let partition):
                "it holds the state of \(topic) partition \(partition)"
            case .otherChangelogTopic(let found, let expected):
                "it was written for changelog topic '\(found)', not '\(expected)'"
            case .changelogOffsetOutOfRange(let offset, let low, let high):
                "its changelog offset \(offset) is outside the changelog partition's offsets \(low)..<\(high)"
            case .stateRefused(let detail): "the engine refused its state: \(detail)"
            case .tooOld(let age, let maxAge):
                "it was written \(age) s ago, more than state.snapshot_max_age (\(maxAge) s)"
            }
        return "local snapshot discarded, \(reason); restoring from the changelog instead"
    }
}

/// The file format of a local snapshot. Little-endian throughout:
///
/// | bytes | field |
/// |---|---|
/// | 8 | magic `VIGILLSS` |
/// | 2 | format version (1) |
/// | 4 | input partition |
/// | 8 | changelog offset |
/// | 8 | stamp |
/// | 8 | written at: wall clock, milliseconds since 1970 |
/// | 2 + n | input topic: length, UTF-8 |
/// | 2 + n | changelog topic: length, UTF-8 |
/// | 8 + n | state: length, bytes |
/// | 8 | checksum: SipHash-2-4 with a fixed public key over every byte before it |
///
/// The checksum catches damage, not tampering: whoever can write `state.dir` can write the state anyway.
enum LocalSnapshotFormat {
    static let magic: [UInt8] = Array("VIGILLSS".utf8)
    static let version: UInt16 = 1
    private static let checksumKey = SipHashKey(k0: 0x7669_6769_6c2d_6c6f, k1: 0x6361_6c2d_736e_6170)
    /// Magic, version, partition, two offsets, the write time and the three lengths: the least a file can hold.
    private static let minimumSize = 8 + 2 + 4 + 8 + 8 + 8 + 2 + 2 + 8 + 8

    static func encode(_ snapshot: LocalSnapshot) -> [UInt8] {
        var bytes: [UInt8] = []
        let topic = Array(snapshot.inputTopic.utf8)
        let changelog = Array(snapshot.changelogTopic.utf8)
        bytes.reserveCapacity(minimumSize + topic.count + changelog.count + snapshot.state.count)
        bytes += magic
        append(version, to: &bytes)
        append(UInt32(bitPattern: snapshot.inputPartition), to: &bytes)
        append(UInt64(bitPattern: snapshot.changelogOffset), to: &bytes)
        append(UInt64(bitPattern: snapshot.stamp), to: &bytes)
        append(UInt64(bitPattern: snapshot.writtenAt), to: &bytes)
        append(UInt16(topic.count), to: &bytes)
        bytes += topic
        append(UInt16(changelog.count), to: &bytes)
        bytes += changelog
        append(UInt64(snapshot.state.count), to: &bytes)
        bytes += snapshot.state
        append(checksum(bytes[...]), to: &bytes)
        return bytes
    }

    /// The snapshot in `bytes`, or why it cannot be used. Does not check which partition it belongs to.
    static func decode(_ bytes: [UInt8]) -> Result<LocalSnapshot, SnapshotDiscardReason> {
        guard bytes.count >= magic.count, bytes.prefix(magic.count).elementsEqual(magic) else {
            return .failure(.notASnapshot)
        }
        var reader = Reader(bytes: bytes, position: magic.count)
        guard let version: UInt16 = reader.read() else { return .failure(truncated(bytes.count)) }
        guard version == Self.version else { return .failure(.unknownVersion(version)) }
        guard let partition: UInt32 = reader.read(), let changelogOffset: UInt64 = reader.read(),
            let stamp: UInt64 = reader.read(), let writtenAt: UInt64 = reader.read(),
            let inputTopic = reader.readText(),
            let changelogTopic = reader.readText(), let stateCount: UInt64 = reader.read()
        else { return .failure(truncated(bytes.count)) }
        guard stateCount <= UInt64(Int.max / 2) else { return .failure(.corrupt) }
        let expected = reader.position + Int(stateCount) + 8
        guard bytes.count >= expected else { return .failure(.truncated(size: bytes.count, expected: expected)) }
        guard bytes.count == expected else { return .failure(.corrupt) }
        let stateEnd = reader.position + Int(stateCount)
        var trailer = Reader(bytes: bytes, position: stateEnd)
        guard trailer.read() == checksum(bytes[..<stateEnd]) else { return .failure(.corrupt) }
        return .success(
            LocalSnapshot(
                inputTopic: inputTopic, inputPartition: Int32(bitPattern: partition), changelogTopic: changelogTopic,
                changelogOffset: Int64(bitPattern: changelogOffset), stamp: Int64(bitPattern: stamp),
                state: Array(bytes[reader.position..<stateEnd]), writtenAt: Int64(bitPattern: writtenAt)))
    }

    /// A short file: as many bytes as were there, and at least one more expected.
    private static func truncated(_ size: Int) -> SnapshotDiscardReason {
        .truncated(size: size, expected: max(size + 1, minimumSize))
    }

    private static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.withUnsafeBytes { checksumKey.hash($0) }
    }

    private static func append<Integer: FixedWidthInteger>(_ value: Integer, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private struct Reader {
        let bytes: [UInt8]
        var position: Int

        mutating func read<Integer: FixedWidthInteger>() -> Integer? {
            let size = Integer.bitWidth / 8
            guard bytes.count - position >= size else { return nil }
            var value = Integer.zero
            for index in 0..<size { value |= Integer(bytes[position + index]) << (index * 8) }
            position += size
            return value
        }

        mutating func readText() -> String? {
            guard let count: UInt16 = read(), bytes.count - position >= Int(count) else { return nil }
            let text = String(decoding: bytes[position..<position + Int(count)], as: UTF8.self)
            position += Int(count)
            return text
        }
    }
}
