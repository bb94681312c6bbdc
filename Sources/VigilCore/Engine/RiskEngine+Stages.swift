extension RiskEngine {
    /// Drops what this engine's stages do not hold, after restoring a snapshot of a shard that held every
    /// stage (`PartitionedPipeline` with one partition): the user stage keeps users, names, global
    /// windows and the counters; the source stage sources; the domain stage domains. Each keeps the
    /// watermark, which schedules its sweeps.
    mutating func keepOwnStageEntries() {
        if !stages.contains(.user) {
            state.users = UserTable()
            state.names = NameTable()
            state.global = GlobalWindows(window: state.global.window)
            state.counters = StateCounters()
        }
        if !stages.contains(.source) { state.sources = [:] }
        if !stages.contains(.domain) { state.domains = [:] }
        if !stages.contains(.campaign) { state.campaigns = [:] }
    }

    /// The source-risk facts this shard's sources stand for now: one per source whose failing-users
    /// window holds at least `signals.spraying_distinct_users` users, as the source stage last published
    /// it. A table restored with the state (a snapshot holds sources, not the table) starts from these.
    public var sourceRiskFacts: [SourceRiskFact] {
        let threshold = config.engine.signals.sprayingDistinctUsers
        return state.sources.compactMap { key, source in
            let entries = source.failingUsers.entries
            guard entries.count >= threshold else { return nil }
            return SourceRiskFact(source: key, failingUserTimes: entries.map(\.time))
        }.sorted { $0.source < $1.source }
    }

    /// The campaign facts this shard's autonomous systems and tenants stand for now, in key order: what a
    /// campaigns table restored with the state starts from.
    public var campaignFacts: [CampaignFact] {
        state.campaigns.compactMap { key, campaign in campaign.publishesFacts ? campaign.fact(key: key) : nil }
            .sorted { $0.key < $1.key }
    }

    /// The state of one shard holding every stage, put together from one shard of each: the user
    /// stage's state with the source and domain stages' entries and eviction counts added. What
    /// `keepOwnStageEntries` splits, this joins again.
    static func wholeState(user: RiskEngine, others: [RiskEngine]) -> ShardState {
        var whole = user.state
        for engine in others {
            whole.sources.merge(engine.state.sources) { own, _ in own }
            whole.domains.merge(engine.state.domains) { own, _ in own }
            whole.campaigns.merge(engine.state.campaigns) { own, _ in own }
            whole.counters.evictedSources += engine.state.counters.evictedSources
            whole.counters.droppedAtCapacity += engine.state.counters.droppedAtCapacity
        }
        return whole
    }
}
