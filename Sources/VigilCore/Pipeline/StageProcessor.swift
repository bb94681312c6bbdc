import _VigilMachinery

/// One shard (partition) of a keyed stage: reads the stage's records, runs them through an engine
/// holding that stage's state only, and appends the decisions and alerts they produce. The engine is
/// exposed whole: its changelog (`takeChangelogFlush`, `applyChangelogRecord`, `recordsChanges`),
/// snapshots (`stateSnapshot`, `restoreState`), replay guard (`guardInput`, `isReplayGuarded`) and
/// figures work per stage shard exactly as they work for a `Pipeline`; scope a stage's changelog
/// records with `ChangelogScope(inputTopic:)` of the stage's topic.
public struct StageProcessor: Sendable {
    /// The stage this shard runs.
    public let stage: StageKind
    /// The shard's engine, running `stage` only.
    public var engine: RiskEngine
    private let enricher: SharedEnricher?
    private var outputs: VerdictOutput
    /// Decisions and alerts produced (the decode stage counts messages, events and dead letters).
    public private(set) var stats = PipelineStats()
    /// Sources whose facts the source stage withdrew since the last `takeRetiredSources()`
    /// (`RiskEngine.Verdict.retiredSources`).
    private var retiredSources: [UInt64] = []

    /// Autonomous systems and tenants whose campaign facts the campaign stage withdrew since the last
    /// `takeRetiredCampaigns()`.
    private var retiredCampaigns: [UInt64] = []

    /// The sources whose facts were withdrawn since the last call, in the order they were, for the
    /// source-risk topic's tombstones (or the replay's table).
    public mutating func takeRetiredSources() -> [UInt64] {
        defer { retiredSources.removeAll(keepingCapacity: true) }
        return retiredSources
    }

    /// The campaign entities whose facts were withdrawn since the last call, for the campaigns topic's
    /// tombstones (or the replay's table).
    public mutating func takeRetiredCampaigns() -> [UInt64] {
        defer { retiredCampaigns.removeAll(keepingCapacity: true) }
        return retiredCampaigns
    }

    /// A shard of `stage` with empty state. Every stage of a deployment needs the same `deviceKey`
    /// (the records carry keyed hashes) and enricher (alerts describe their source address).
    /// `dropsRepeats` false: every record comes from one decode stage, which already dropped the repeats
    /// (`RiskEngine.init(config:policyVersion:deviceKey:stage:dropsRepeats:)`).
    public init(
        stage: StageKind, config: VigilConfig, policyVersion: String, enricher: Enricher?, deviceKey: SipHashKey,
        dropsRepeats: Bool = true
    ) {
        self.stage = stage
        engine = RiskEngine(
            config: config, policyVersion: policyVersion, deviceKey: deviceKey, stage: stage, dropsRepeats: dropsRepeats
        )
        self.enricher = enricher.map(SharedEnricher.init)
        outputs = VerdictOutput(config: config)
    }

    /// Adopts a new configuration between two records (live reload).
    public mutating func reconfigure(_ config: VigilConfig, policyVersion: String) {
        engine.reconfigure(config, policyVersion: policyVersion)
        outputs = VerdictOutput(config: config)
    }

    /// Processes one record of this stage's topic and appends its decision and alerts to `output`.
    /// `offset` is the record's offset in the stage topic (the replay guard compares it after a
    /// restore); nil where records have none (replay). The user stage's `source_ip_spraying` and
    /// `campaign_active` signals read `globalFacts` (nil: no facts). Returns the source stage's new
    /// source-risk fact and the campaign stage's new campaign facts, to publish. Throws, changing nothing,
    /// for bytes that are not a record of this stage.
    @discardableResult
    public mutating func process(
        _ record: UnsafeRawBufferPointer, offset: Int64? = nil, globalFacts: (any GlobalFactLookup)?,
        into output: inout [OutputMessage]
    ) throws(StageRecordError) -> StagePublications {
        let context: EventContext
        let late: Bool
        let origin: InputPosition?
        var lane: UInt64 = 0
        switch stage {
        case .user:
            let record = try StageRecordCodec.decodeUser(record)
            context = EventContext(event: record.event, intel: intel(record.event.ip), keys: engine.keys)
            (late, origin) = (record.late, record.origin)
        case .source:
            let record = try StageRecordCodec.decodeSource(record)
            context = EventContext(
                event: record.event, intel: intel(record.event.ip), userKey: record.userKey, keys: engine.keys,
                scored: false)
            (late, origin) = (false, record.origin)
        case .domain:
            let record = try StageRecordCodec.decodeDomain(record)
            context = EventContext(
                event: record.event, intel: intel(record.event.ip), userKey: record.userKey, keys: engine.keys,
                scored: false)
            (late, origin) = (false, record.origin)
        case .campaign:
            let record = try StageRecordCodec.decodeCampaign(record)
            var campaignContext = EventContext(
                event: record.event, intel: intel(record.event.ip), userKey: record.userKey, keys: engine.keys,
                scored: false)
            campaignContext.campaignASN = record.asn
            campaignContext.countsForTenant = record.asn == nil
            context = campaignContext
            (late, origin) = (false, record.origin)
            if record.asn == nil { lane = Self.tenantLane }
        }
        var verdict = engine.process(
            stageEvent: context, late: late, globalFacts: stage == .user ? globalFacts : nil, offset: offset,
            origin: origin, lane: lane)
        outputs.append(&verdict, message: record, stats: &stats, into: &output)
        retiredSources += verdict.retiredSources
        retiredCampaigns += verdict.retiredCampaigns
        return StagePublications(sourceRisk: verdict.sourceRisk, campaigns: verdict.campaigns)
    }

    /// The lane of a campaign stage's tenant records. An event with an autonomous system makes two
    /// campaign records, its network's and its tenant's, with one event id and one input position; when
    /// both keys fall on one shard, the second would pass for a repeat of the first (a duplicate event, or
    /// input consumed again) and the tenant would not count it. In a lane of their own, the tenant's
    /// records have input marks and event ids of their own.
    static let tenantLane: UInt64 = 0x7465_6e61_6e74_6c6e

    /// `process` over an array's bytes.
    @discardableResult
    public mutating func process(
        _ record: [UInt8], offset: Int64? = nil, globalFacts: (any GlobalFactLookup)?,
        into output: inout [OutputMessage]
    ) throws(StageRecordError) -> StagePublications {
        // `withUnsafeBytes` rethrows untyped errors: the typed one travels in a `Result`.
        let result = record.withUnsafeBytes { bytes in
            Result { () throws(StageRecordError) in
                try process(bytes, offset: offset, globalFacts: globalFacts, into: &output)
            }
        }
        return try result.get()
    }

    /// The dead letter of a record this stage refused (`process` threw `error`): the record's bytes, up
    /// to `input.max_event_bytes`, with the reason `invalid_stage_record` and where it was read, so that
    /// nothing is lost silently. Counted in `stats`.
    public mutating func deadLetter(
        _ error: StageRecordError, record: UnsafeRawBufferPointer, origin: MessageOrigin
    ) -> OutputMessage {
        let failure = DecodeFailure(.invalidStageRecord, detail: "\(error)")
        stats.deadLetters[failure.reasonCode, default: 0] += 1
        return OutputMessage(
            stream: .deadLetters, key: nil,
            payload: DeadLetterEncoder.encode(
                payload: record, failure: failure, origin: origin, maxPayloadBytes: engine.config.input.maxEventBytes),
            label: failure.reasonCode)
    }

    private func intel(_ address: IPAddress?) -> IPIntelligence {
        guard let address else { return .unknown }
        return enricher?.enrich(address) ?? .unknown
    }
}

/// What one stage record made a cross-user stage publish for the global tables.
public struct StagePublications: Sendable, Equatable {
    /// The source stage's new source-risk fact, if any (`RiskEngine.Verdict.sourceRisk`).
    public var sourceRisk: SourceRiskFact?
    /// The campaign stage's new campaign facts (`RiskEngine.Verdict.campaigns`).
    public var campaigns: [CampaignFact] = []

    /// Publications as given; none by default.
    public init(sourceRisk: SourceRiskFact? = nil, campaigns: [CampaignFact] = []) {
        self.sourceRisk = sourceRisk
        self.campaigns = campaigns
    }

    /// Applies them to a replay's table, as the topics would reach every user stage.
    public func apply(to table: inout GlobalFactTable) {
        if let sourceRisk { table.apply(sourceRisk) }
        for fact in campaigns { table.apply(fact) }
    }
}
