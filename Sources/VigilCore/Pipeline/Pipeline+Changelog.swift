/// The engine's changelog operations, forwarded so the Kafka loop drives one value per shard
/// (`RiskEngine+Changelog` holds the logic).
extension Pipeline {
    /// Whether the engine records changed entries for `takeChangelogFlush`; off by default, so replay
    /// pays nothing.
    public var recordsChanges: Bool {
        get { engine.recordsChanges }
        set { engine.recordsChanges = newValue }
    }

    /// True when something changed since the last flush.
    public var hasUnflushedChanges: Bool { engine.hasUnflushedChanges }

    /// The ordered records of one flush at `stamp`, the input offset of the last event processed
    /// (`RiskEngine.takeChangelogFlush(stamp:scope:)`).
    public mutating func takeChangelogFlush(stamp: Int64, scope: ChangelogScope) -> [ChangelogRecord] {
        engine.takeChangelogFlush(stamp: stamp, scope: scope)
    }

    /// Applies one changelog record during a restore; false: the record belongs to another scope and
    /// was skipped (`RiskEngine.applyChangelogRecord(key:value:scope:)`).
    @discardableResult
    public mutating func applyChangelogRecord(
        key: [UInt8], value: [UInt8]?, scope: ChangelogScope
    ) throws(ChangelogRestoreError) -> Bool {
        try engine.applyChangelogRecord(key: key, value: value, scope: scope)
    }

    /// True until the input passes what a restore restored: take no snapshot meanwhile
    /// (`RiskEngine.isReplayGuarded`).
    public var isReplayGuarded: Bool { engine.isReplayGuarded }

    /// The one input offset the whole restored state reflects, when it does
    /// (`RiskEngine.uniformlyRestoredStamp`): a snapshot may then be taken at it.
    public var uniformlyRestoredStamp: Int64? { engine.uniformlyRestoredStamp }

    /// The last checkpoint a changelog restore applied: the input offset the restored state reaches
    /// and the settings digest it was written under.
    public var restoredCheckpoint: ChangelogCheckpoint? { engine.restoredCheckpoint }

    /// The shard's whole state as snapshot bytes, every entry stamped `appliedOffset`
    /// (`RiskEngine.stateSnapshot(sourceOffsets:appliedOffset:)`).
    public func stateSnapshot(sourceOffsets: [SnapshotSourceOffset] = [], appliedOffset: Int64 = -1) -> [UInt8] {
        engine.stateSnapshot(sourceOffsets: sourceOffsets, appliedOffset: appliedOffset)
    }
}
