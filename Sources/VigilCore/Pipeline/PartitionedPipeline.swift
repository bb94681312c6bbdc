import _VigilMachinery

/// The staged topology in one process, as `vigil replay --partitions N` runs it: for each message the
/// decode stage, then the user stage's shard, then the source stage's, the domain stage's and the
/// campaign stage's (the order a one-shard run produces its decision and alerts in), each shard chosen
/// with Kafka's default partitioner on the record's key among `partitionCount`. The source-risk and
/// campaign facts are applied as soon as a stage publishes them (no propagation delay), so the outputs
/// are byte-identical for every partition count, and equal to a whole `Pipeline`'s.
public struct PartitionedPipeline: Sendable {
    /// Partitions of each stage.
    public let partitionCount: Int
    private var decode: DecodeStage
    private var shards: [[StageProcessor]]
    private var globalFacts = GlobalFactTable()
    private var records: [StageRecord] = []

    /// A topology with empty state and `partitionCount` shards per keyed stage (at least 1), reading
    /// messages of `format`.
    public init(
        config: VigilConfig, policyVersion: String, enricher: Enricher?, deviceKey: SipHashKey,
        replayClock: Timestamp? = nil, partitionCount: Int = 1, format: InputFormat = .vigil
    ) {
        precondition(partitionCount >= 1, "a stage has at least one partition")
        self.partitionCount = partitionCount
        decode = DecodeStage(
            config: config, deviceKey: deviceKey, replayClock: replayClock, format: format, enricher: enricher)
        // The one decode stage sees the whole input and drops every repeat: the shards need no table.
        shards = StageKind.allCases.map { stage in
            (0..<partitionCount).map { _ in
                StageProcessor(
                    stage: stage, config: config, policyVersion: policyVersion, enricher: enricher,
                    deviceKey: deviceKey,
                    dropsRepeats: false)
            }
        }
    }

    /// Adopts a new configuration between two messages.
    public mutating func reconfigure(_ config: VigilConfig, policyVersion: String) {
        decode.reconfigure(config)
        for stage in shards.indices {
            for partition in shards[stage].indices {
                shards[stage][partition].reconfigure(config, policyVersion: policyVersion)
            }
        }
    }

    /// Processes one message through every stage it reaches and appends what it produced to `output`
    /// (dead letter; or decision, per-user alerts, source alert, domain alert). Never throws: a message
    /// that can't be used becomes a dead letter.
    public mutating func process(
        _ bytes: UnsafeRawBufferPointer, originalLength: Int? = nil, origin: MessageOrigin,
        receivedAt: Timestamp? = nil, into output: inout [OutputMessage]
    ) {
        records.removeAll(keepingCapacity: true)
        decode.process(
            bytes, originalLength: originalLength, origin: origin, receivedAt: receivedAt, into: &output,
            records: &records)
        for record in records {
            let stage = StageKind.allCases.firstIndex(of: record.stage)!
            let partition = record.partition(count: partitionCount)
            do {
                let published = try shards[stage][partition].process(
                    record.value, globalFacts: globalFacts, into: &output)
                // Withdrawals first, as the Kafka loop produces them.
                for source in shards[stage][partition].takeRetiredSources() {
                    globalFacts.removeFact(forSource: source)
                }
                for entity in shards[stage][partition].takeRetiredCampaigns() { globalFacts.removeCampaign(entity) }
                published.apply(to: &globalFacts)
            } catch {
                preconditionFailure("the decode stage wrote a record its stage refuses: \(error)")
            }
        }
    }

    /// `process` over an array's bytes.
    public mutating func process(
        _ bytes: [UInt8], originalLength: Int? = nil, origin: MessageOrigin, receivedAt: Timestamp? = nil,
        into output: inout [OutputMessage]
    ) {
        bytes.withUnsafeBytes {
            process($0, originalLength: originalLength, origin: origin, receivedAt: receivedAt, into: &output)
        }
    }

    /// Sources with a fact in the source-risk table: what every user stage of a deployment would hold.
    public var sourceRiskFacts: Int { globalFacts.sourceCount }

    /// Autonomous systems and tenants with a fact in the campaigns table.
    public var campaignFacts: Int { globalFacts.campaignCount }

    /// Counts over every stage and shard.
    public var stats: PipelineStats {
        var total = decode.stats
        for stage in shards { for shard in stage { total.add(shard.stats) } }
        return total
    }

    /// State figures summed over every shard. The global windows are the user shards' sum, all as of
    /// the newest event any shard saw.
    public var figures: StateFigures {
        let newest = shards.joined().compactMap(\.engine.newestEventTime).max()
        var total = StateFigures()
        for stage in shards { for shard in stage { total.add(shard.engine.figures(globalWindowsAsOf: newest)) } }
        return total
    }

    // MARK: snapshots

    /// Replaces the state with a snapshot's, in the format a one-shard `Pipeline` writes (so a snapshot
    /// of an earlier replay restores): each stage keeps its own entries, and the source-risk table is
    /// rebuilt from the sources (`RiskEngine.sourceRiskFacts`). On error nothing changes.
    /// Only with one partition: a snapshot keys its entries by keyed hashes, which cannot be routed to
    /// partitions again.
    @discardableResult
    public mutating func restoreState(snapshot: [UInt8]) throws(PartitionedStateError) -> StateSnapshotHeader {
        guard partitionCount == 1 else { throw .partitioned(count: partitionCount) }
        var restored = shards
        var header: StateSnapshotHeader?
        for stage in restored.indices {
            do { header = try restored[stage][0].engine.restoreState(snapshot: snapshot) } catch {
                throw .refused(error)
            }
            restored[stage][0].engine.keepOwnStageEntries()
        }
        shards = restored
        decode.resume(newestEventTime: shards[0][0].engine.state.watermark.maxEventTime)
        globalFacts = GlobalFactTable()
        for fact in shards[StageKind.allCases.firstIndex(of: .source)!][0].engine.sourceRiskFacts {
            globalFacts.apply(fact)
        }
        for fact in shards[StageKind.allCases.firstIndex(of: .campaign)!][0].engine.campaignFacts {
            globalFacts.apply(fact)
        }
        return header!
    }

    /// The whole state as one snapshot in a one-shard `Pipeline`'s format, and how many entries it
    /// holds. Only with one partition (see `restoreState`).
    public func stateSnapshot() throws(PartitionedStateError) -> (bytes: [UInt8], entries: Int) {
        guard partitionCount == 1 else { throw .partitioned(count: partitionCount) }
        var whole = shards[0][0].engine
        whole.state = RiskEngine.wholeState(user: whole, others: shards.dropFirst().map { $0[0].engine })
        return (whole.stateSnapshot(), whole.stateEntryCount)
    }
}

/// Why a partitioned pipeline could not take or restore a snapshot.
public enum PartitionedStateError: Error, Equatable, CustomStringConvertible {
    /// A snapshot holds one shard; this pipeline has `count` per stage.
    case partitioned(count: Int)
    /// The snapshot was refused (corrupt, unknown version, another key).
    case refused(StateSnapshotError)

    /// What is wrong and what to do.
    public var description: String {
        switch self {
        case .partitioned(let count):
            "a state snapshot holds one shard of each stage, keyed by keyed hashes that cannot be routed to "
                + "\(count) partitions: use --partitions 1 with --state-in and --state-out"
        case .refused(let error): "\(error)"
        }
    }
}
