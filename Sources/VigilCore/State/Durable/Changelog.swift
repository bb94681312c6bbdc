import _VigilMachinery

/// Which input topic a changelog record's shard reads. One changelog topic serves every input topic
/// of a deployment, partition p holding the state of input partition p; the tag in every record key
/// keeps the shards of two input topics that share a partition number apart, and a restore skips
/// records of other scopes.
public struct ChangelogScope: Sendable, Hashable {
    /// SipHash of the topic name under a fixed public key, truncated: the same on every deployment,
    /// so a changelog stays readable whatever the secret.
    public let tag: UInt32

    /// The scope of the shards reading `inputTopic`.
    public init(inputTopic: String) {
        tag = UInt32(truncatingIfNeeded: Self.tagKey.hash(inputTopic))
    }

    static let tagKey = SipHashKey.publicDefault.derived(10)
}

/// One changelog record as produced to (and read back from) the changelog topic.
public struct ChangelogRecord: Sendable, Equatable {
    /// `ChangelogKey.byteCount` bytes: the entry key and the scope tag.
    public var key: [UInt8]
    /// The entry value (`StateEntryCodec`); nil is a tombstone: the entry was evicted.
    public var value: [UInt8]?

    /// A record as given.
    public init(key: [UInt8], value: [UInt8]?) {
        self.key = key
        self.value = value
    }
}

/// The key of a changelog record: a `StateEntryKey` (kind byte and 8-byte keyed hash) followed by the
/// scope tag (`ChangelogScope.tag`, 4 bytes little endian).
struct ChangelogKey: Sendable, Hashable {
    /// Every key is this long.
    static let byteCount = StateEntryKey.byteCount + 4

    var entry: StateEntryKey
    var scope: UInt32

    init(entry: StateEntryKey, scope: UInt32) {
        self.entry = entry
        self.scope = scope
    }

    var bytes: [UInt8] {
        var writer = StateWriter()
        writer.bytes.reserveCapacity(Self.byteCount)
        writer.u8(entry.kind.rawValue)
        writer.u64(entry.hash)
        writer.u32(scope)
        return writer.bytes
    }

    init(bytes: [UInt8]) throws(StateDecodingError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidValue(
                field: "changelog record key", detail: "\(bytes.count) bytes, expected \(Self.byteCount)")
        }
        var reader = StateReader(bytes)
        entry = try StateEntryKey(reading: &reader)
        scope = try reader.u32("changelog scope tag")
    }
}

/// Why a changelog restore stopped. The shard's state must then be thrown away: it holds a part of the
/// changelog only.
public enum ChangelogRestoreError: Error, Equatable, CustomStringConvertible {
    /// A record of a format version this Vigil does not read (written by a newer one).
    case unknownVersion(UInt8)
    /// A record written under another hashing secret: its hashes would never match this engine's.
    case foreignKey
    /// A record that does not decode (truncated, an unknown kind, a field out of range).
    case corrupt(String)

    /// What is wrong and what the operator can do about it.
    public var description: String {
        switch self {
        case .unknownVersion(let version):
            "a state changelog record has format version \(version), this Vigil reads versions "
                + "\(StateEntryCodec.readableVersions.lowerBound) to \(StateEntryCodec.formatVersion): run the Vigil version that wrote the changelog, or delete "
                + "the changelog topic to start with empty state"
        case .foreignKey:
            "the state changelog was written under another device hash key (the environment variable "
                + "security.device_hash_key_env names, VIGIL_DEVICE_HASH_KEY by default): use the key it was written "
                + "with, or delete the changelog topic to start with empty state"
        case .corrupt(let reason):
            "a state changelog record is corrupt (\(reason)): delete the changelog topic (or point "
                + "state.changelog_topic at a new one) to start with empty state"
        }
    }

    init(_ error: StateDecodingError) {
        switch error {
        case .unknownEntryVersion(let version): self = .unknownVersion(version)
        case .foreignKeyFingerprint: self = .foreignKey
        default: self = .corrupt(error.description)
        }
    }
}

/// The last checkpoint a changelog restore applied: how far the restored state reaches, and the
/// settings that shaped it.
public struct ChangelogCheckpoint: Sendable, Equatable {
    /// The input offset the state reflects up to.
    public var stamp: Int64
    /// `EngineSettings.stateDigest` of the engine that wrote it.
    public var settingsDigest: UInt64
}
