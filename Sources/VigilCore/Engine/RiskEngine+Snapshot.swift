import _VigilMachinery

extension RiskEngine {
    /// The shard's whole state as snapshot bytes (`StateSnapshot`), stamped with this engine's key
    /// fingerprint and `EngineSettings.stateDigest`. `appliedOffset` is the input offset of the last
    /// event applied (-1 when unknown, as in replay); `sourceOffsets` the input positions it matches.
    /// While `isReplayGuarded`, entries reflect different input, and a snapshot stamped with one offset
    /// would be wrong about some of them: take none then.
    public func stateSnapshot(sourceOffsets: [SnapshotSourceOffset] = [], appliedOffset: Int64 = -1) -> [UInt8] {
        StateSnapshot.encode(
            state, keys: keys, settingsDigest: config.engine.stateDigest, sourceOffsets: sourceOffsets,
            appliedOffset: appliedOffset)
    }

    /// How many entries `stateSnapshot()` holds now.
    public var stateEntryCount: Int { StateSnapshot.entryCount(state) }

    /// Replaces the shard's state with a snapshot's. On error nothing changes. The configured allowed
    /// lateness applies, and a configured global window of another length restarts the global figures,
    /// as a reload would. A snapshot stamped with an input offset (`StateSnapshotHeader.stamp`) guards
    /// the input up to it (`process(_:intel:offset:)`), as a changelog checkpoint would; changes
    /// recorded before are forgotten.
    @discardableResult
    public mutating func restoreState(snapshot: [UInt8]) throws(StateSnapshotError) -> StateSnapshotHeader {
        let empty = ShardState(allowedLateness: config.engine.allowedLateness, globalWindow: config.engine.globalWindow)
        var (restored, header) = try StateSnapshot.decode(snapshot, keys: keys, into: empty)
        restored.changes = recordsChanges ? StateChanges() : nil
        state = restored
        adoptConfiguredGlobalWindow()
        replayGuard = header.stamp >= 0 ? ReplayGuard(floor: header.stamp) : nil
        guardedThrough = replayGuard == nil ? .min : .max
        restoredCheckpoint = nil
        return header
    }

    /// Guards the input up to and including `stamp`, as a changelog checkpoint at `stamp` read by a
    /// restore would: the state already reflects every input through it, so an event at or below it
    /// changes nothing, and the guard drops once the input passes it (and whatever a guard still up
    /// protects beyond it). For a shard kept in memory across a rebalance instead of being restored:
    /// the group's committed offset may be behind what its state reflects (a revocation commit that
    /// failed), and that input comes again. A negative stamp guards nothing.
    public mutating func guardInput(through stamp: Int64) {
        guard stamp >= 0 else { return }
        var bookkeeping = replayGuard.take() ?? ReplayGuard()
        bookkeeping.noteCheckpoint(stamp: stamp)
        replayGuard = bookkeeping
        guardedThrough = .max
    }
}

extension EngineSettings {
    /// A digest of the settings that shape what state holds, so a snapshot restored under other values
    /// can be told apart: the allowed lateness, the idle TTL, the caps (users, sources, email domains,
    /// devices, countries and networks per user), the global window and every window length and
    /// threshold that sizes a per-user or per-source window. Scores, weights and the policy are not in
    /// it: they read state but do not shape it.
    public var stateDigest: UInt64 {
        var hasher = SipHashState(key: SipHashKey.publicDefault.derived(9))
        let durations = [
            allowedLateness, userIdleTTL, newDeviceAfter, postResetWindow, globalWindow, signals.failedAttemptsWindow,
            signals.sprayingWindow, signals.pushBurstWindow, alerts.pushBombingWindow, alerts.mfaFatigueWindow,
            alerts.resetAbuseWindow, alerts.stuffingWindow, alerts.serviceAccountHold,
        ]
        for duration in durations { hasher.append(UInt64(bitPattern: duration.microseconds)) }
        let counts = [
            maxUsers, maxSources, maxEmailDomains, maxDevicesPerUser, maxCountriesPerUser, maxASNsPerUser,
            signals.failedAttemptsThreshold, signals.sprayingDistinctUsers, signals.pushBurstThreshold,
            alerts.pushBombingFailures, alerts.pushBombingPushes, alerts.mfaFatigueFailures, alerts.resetAbuseAccount,
            alerts.resetAbuseSourceIP, alerts.resetAbuseEmailDomain, alerts.stuffingDistinctUsers,
            alerts.stuffingAttempts,
        ]
        for count in counts { hasher.append(UInt64(bitPattern: Int64(count))) }
        return hasher.finalize()
    }
}
