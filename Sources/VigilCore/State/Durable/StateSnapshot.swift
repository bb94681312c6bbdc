import _VigilMachinery

/// A position in the input a snapshot matches: everything up to and including `offset` of `partition`
/// is reflected in it (for the changelog restore; replay writes none).
public struct SnapshotSourceOffset: Sendable, Equatable {
    /// The input partition.
    public var partition: Int32
    /// The last offset of `partition` the state reflects.
    public var offset: Int64

    /// The position after `offset` of `partition`.
    public init(partition: Int32, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }
}

/// What a snapshot says about itself, apart from the entries.
public struct StateSnapshotHeader: Sendable, Equatable {
    /// `EngineSettings.stateDigest` of the engine that wrote it, when it recorded one.
    public var settingsDigest: UInt64?
    /// Where in the input the snapshot was taken; empty for replay snapshots.
    public var sourceOffsets: [SnapshotSourceOffset]
    /// Entries that follow the header.
    public var entryCount: Int
    /// The input offset every entry reflects (`RiskEngine.stateSnapshot(appliedOffset:)`): a changelog
    /// restore on top of the snapshot skips input up to it. -1 when unknown, as in replay.
    public var stamp: Int64
}

/// Why a snapshot was refused. Nothing of it was applied: the state stays as it was.
public enum StateSnapshotError: Error, Equatable, CustomStringConvertible {
    /// Truncated, a checksum mismatch, or an entry that does not decode.
    case corrupt(String)
    /// Written by a Vigil with a newer (or unknown) snapshot format.
    case unknownVersion(UInt8)
    /// Written under another hashing secret: its hashes would never match this engine's.
    case foreignKey

    /// What is wrong and what the operator can do about it.
    public var description: String {
        switch self {
        case .corrupt(let reason):
            "the state snapshot is corrupt or not a snapshot (\(reason)): check the path, then start without it or "
                + "from an intact copy"
        case .unknownVersion(let version):
            "the state snapshot has format version \(version), this Vigil reads version "
                + "\(StateSnapshot.formatVersion); read it with the Vigil that wrote it, or start without it"
        case .foreignKey:
            "the state snapshot was written under another device hash key (the environment variable "
                + "security.device_hash_key_env names, VIGIL_DEVICE_HASH_KEY by default); use the key it was written "
                + "with, or start without it"
        }
    }
}

/// The bytes of a whole shard's state: what `vigil replay --state-out` writes and `--state-in` reads,
/// and the format of the daemon's local snapshots.
///
/// | bytes | field |
/// |---|---|
/// | 8 | magic `VIGILSNP` |
/// | 1 | format version (1) |
/// | 8 | key fingerprint (`EngineKeys.fingerprint`) |
/// | 1 (+8) | settings digest present, digest |
/// | 4 + 12·n | source offsets: count, then partition (`Int32`) and offset (`Int64`) each |
/// | 8 | entry count |
/// | … | entries: key (9 bytes, `StateEntryKey`), value length (`UInt32`), value (`StateEntryCodec`) |
/// | 8 | checksum: SipHash-2-4 under a fixed public key of every byte before it |
///
/// Integers little endian. The entries come shard, names, global buckets (by slot), users (in storage
/// order), sources, domains and campaign entities (by key), so the same state always gives the same bytes.
enum StateSnapshot {
    static let magic = Array("VIGILSNP".utf8)
    static let formatVersion: UInt8 = 1
    static let checksumKey = SipHashKey.publicDefault.derived(8)
    static let maxSourceOffsets = 1 << 16

    static func encode(
        _ state: ShardState, keys: EngineKeys, settingsDigest: UInt64?, sourceOffsets: [SnapshotSourceOffset],
        appliedOffset: Int64
    ) -> [UInt8] {
        let codec = StateEntryCodec(keys: keys)
        var out = StateWriter()
        out.bytes.reserveCapacity(64 + state.users.count * 128)
        out.bytes.append(contentsOf: magic)
        out.u8(formatVersion)
        out.u64(keys.fingerprint)
        out.bool(settingsDigest != nil)
        if let settingsDigest { out.u64(settingsDigest) }
        out.count(sourceOffsets.count)
        for source in sourceOffsets {
            out.i32(source.partition)
            out.i64(source.offset)
        }
        out.u64(UInt64(entryCount(state)))
        func entry(_ kind: StateEntryKind, _ hash: UInt64, _ value: [UInt8]) {
            out.bytes.append(contentsOf: StateEntryKey(kind: kind, hash: hash).bytes)
            out.count(value.count)
            out.bytes.append(contentsOf: value)
        }
        entry(.shard, 0, codec.encodeShard(state, appliedOffset: appliedOffset))
        entry(.names, 0, codec.encodeNames(state.names, appliedOffset: appliedOffset))
        for slot in state.global.occupiedSlots {
            entry(
                .globalBucket, UInt64(slot),
                codec.encodeBucket(state.global.bucket(atSlot: slot)!, appliedOffset: appliedOffset))
        }
        state.users.forEach { key, user in
            entry(.user, key, codec.encodeUser(user, names: state.names, appliedOffset: appliedOffset))
        }
        for key in state.sources.keys.sorted() {
            entry(.source, key, codec.encodeSource(state.sources[key]!, appliedOffset: appliedOffset))
        }
        for key in state.domains.keys.sorted() {
            entry(.domain, key, codec.encodeDomain(state.domains[key]!, appliedOffset: appliedOffset))
        }
        for key in state.campaigns.keys.sorted() {
            entry(.campaign, key, codec.encodeCampaign(state.campaigns[key]!, appliedOffset: appliedOffset))
        }
        out.u64(checksum(out.bytes[...]))
        return out.bytes
    }

    /// Rebuilds a shard's state from `bytes` on top of `empty` (a new state carrying the engine's
    /// configured lateness and window), or throws without returning any of it.
    static func decode(
        _ bytes: [UInt8], keys: EngineKeys, into empty: ShardState
    ) throws(StateSnapshotError) -> (ShardState, StateSnapshotHeader) {
        guard bytes.count >= magic.count + 1, bytes.starts(with: magic) else {
            throw .corrupt("not a Vigil state snapshot: the file does not start with \"VIGILSNP\"")
        }
        let version = bytes[magic.count]
        guard version == formatVersion else { throw .unknownVersion(version) }
        guard bytes.count >= magic.count + 1 + 8 + 8 else { throw .corrupt("truncated: \(bytes.count) bytes") }
        var trailer = StateReader(bytes, from: bytes.count - 8)
        let stored = try? trailer.u64("checksum")
        guard stored == checksum(bytes[..<(bytes.count - 8)]) else {
            throw .corrupt("checksum mismatch: truncated or changed after it was written")
        }
        var reader = StateReader(bytes, from: magic.count + 1, to: bytes.count - 8)
        let fingerprint: UInt64
        do throws(StateDecodingError) { fingerprint = try reader.u64("key fingerprint") } catch {
            throw .corrupt(error.description)
        }
        guard fingerprint == keys.fingerprint else { throw .foreignKey }
        do throws(StateDecodingError) {
            let digest = try reader.bool("settings digest presence") ? try reader.u64("settings digest") : nil
            let offsetCount = try reader.count("source offsets", limit: maxSourceOffsets)
            var offsets: [SnapshotSourceOffset] = []
            for _ in 0..<offsetCount {
                offsets.append(
                    SnapshotSourceOffset(
                        partition: try reader.i32("source partition"), offset: try reader.i64("source offset")))
            }
            let count = try reader.u64("entry count")
            guard count <= UInt64(reader.remaining / (StateEntryKey.byteCount + 4)) else {
                throw .tooMany(
                    field: "entries", count: Int(clamping: count),
                    limit: reader.remaining / (StateEntryKey.byteCount + 4))
            }
            let codec = StateEntryCodec(keys: keys)
            var state = empty
            var seenUser = false
            var stamp: Int64 = -1
            for index in 0..<Int(count) {
                let key = try StateEntryKey(reading: &reader)
                let length = try reader.count("entry length", limit: reader.remaining)
                let valueRange = try reader.take(length, "entry value")
                switch key.kind {
                case .user: seenUser = true
                case .names where seenUser, .shard where seenUser:
                    throw .misplaced(field: "entry \(index)", detail: "\(key.kind) entry after a user entry")
                default: break
                }
                let applied = try codec.apply(
                    key: key, reading: StateReader(bytes, from: valueRange.lowerBound, to: valueRange.upperBound),
                    to: &state)
                if key.kind == .shard { stamp = applied }
            }
            guard reader.remaining == 0 else { throw .trailingBytes(count: reader.remaining) }
            return (
                state,
                StateSnapshotHeader(
                    settingsDigest: digest, sourceOffsets: offsets, entryCount: Int(count), stamp: stamp)
            )
        } catch .foreignKeyFingerprint {
            throw .foreignKey
        } catch {
            throw .corrupt(error.description)
        }
    }

    /// The shard and names entries, then one per occupied global bucket, user, source, domain and campaign
    /// entity.
    static func entryCount(_ state: ShardState) -> Int {
        2 + state.global.occupiedSlots.count + state.users.count + state.sources.count + state.domains.count
            + state.campaigns.count
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        bytes.withUnsafeBytes { checksumKey.hash($0) }
    }
}
