import _VigilMachinery

/// The decode stage's durable part: the newest event time its watermark trails, so that after a restart
/// an event as late as before is still late (a stage shard's watermark cannot stand in: it sees only
/// its own keys). One record per flush, in the input partition's changelog partition, scoped by the
/// input topic; the stage shards' records are scoped by their stage topics and never collide with it.
extension DecodeStage {
    /// The record to produce with a flush at `stamp` (the input offset of the last message decoded).
    /// Value: the state format version, the stamp, then the newest event time (a presence byte and the
    /// time in microseconds).
    public func changelogRecord(stamp: Int64, scope: ChangelogScope) -> ChangelogRecord {
        var value = StateWriter(reservingCapacity: 18)
        value.u8(StateEntryCodec.firstVersion)
        value.i64(stamp)
        value.optionalTime(newestEventTime)
        return ChangelogRecord(
            key: ChangelogKey(entry: StateEntryKey(kind: .decodeWatermark, hash: 0), scope: scope.tag).bytes,
            value: value.bytes)
    }

    /// Applies one changelog record read back during a restore: a decode watermark record of `scope`
    /// resumes the stage from its newest event time (`resume(newestEventTime:)`; the last one read
    /// wins, as the changelog holds them in order). Returns false, changing nothing, for any other
    /// record. On error the restore must be abandoned.
    @discardableResult
    public mutating func applyChangelogRecord(
        key keyBytes: [UInt8], value: [UInt8]?, scope: ChangelogScope
    ) throws(ChangelogRestoreError) -> Bool {
        do throws(StateDecodingError) {
            let key = try ChangelogKey(bytes: keyBytes)
            guard key.scope == scope.tag, key.entry.kind == .decodeWatermark else { return false }
            guard let value else {
                throw .misplaced(field: "decode watermark tombstone", detail: "only evicted entries have tombstones")
            }
            var reader = StateReader(value)
            let version = try reader.u8("decode watermark format version")
            guard StateEntryCodec.readableVersions.contains(version) else { throw .unknownEntryVersion(version) }
            _ = try reader.i64("decode watermark stamp")
            let newest = try reader.optionalTime("newest event time")
            guard reader.remaining == 0 else { throw .trailingBytes(count: reader.remaining) }
            resume(newestEventTime: newest)
            return true
        } catch {
            throw ChangelogRestoreError(error)
        }
    }
}
