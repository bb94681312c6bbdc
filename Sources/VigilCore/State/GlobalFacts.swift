/// What the campaign stage tells every user stage about one autonomous system or tenant: the
/// credential-stuffing campaign and the reset wave last detected on it, keyed by the entity's keyed hash
/// (`EngineKeys.campaignKey`). The `campaign_active` signal fires for an event inside either interval.
///
/// Why that is exact when the table is updated synchronously (replay): the intervals are the campaign
/// state's own, published whenever one opens or is extended, and an event is compared with them by its
/// own time; the campaign records of a message are processed after its user record, so the user stage
/// reads them as of earlier events, as one engine running every stage does. An entity forgotten (idle
/// past `engine.campaigns.idle_ttl`, longer than any hold) leaves intervals that ended long before any
/// event still on time. On Kafka the table lags by the propagation delay instead.
public struct CampaignFact: Sendable, Equatable {
    /// The keyed hash of the autonomous system or tenant.
    public var key: UInt64
    /// The credential-stuffing campaign last detected, if any.
    public var stuffing: CampaignInterval?
    /// The reset wave last detected, if any.
    public var resetWave: CampaignInterval?

    /// A fact as given; one with neither interval withdraws the entity's (a tombstone).
    public init(key: UInt64, stuffing: CampaignInterval?, resetWave: CampaignInterval?) {
        self.key = key
        self.stuffing = stuffing
        self.resetWave = resetWave
    }
}

/// Where the user stage reads what the cross-user stages published: the replay's table, updated as they
/// publish, or the daemon's copies of the compacted source-risk and campaigns topics.
public protocol GlobalFactLookup {
    /// The newest fact published for the source with keyed hash `source`, if any.
    func sourceRisk(_ source: UInt64) -> SourceRiskFact?
    /// The newest fact published for the autonomous system or tenant with keyed hash `key`, if any.
    func campaign(_ key: UInt64) -> CampaignFact?
}

/// Facts by source and by campaign entity, newest wins: the in-process form of the compacted
/// source-risk and campaigns topics.
public struct GlobalFactTable: GlobalFactLookup, Sendable {
    private var sources: [UInt64: SourceRiskFact] = [:]
    private var campaigns: [UInt64: CampaignFact] = [:]

    /// An empty table.
    public init() {}

    /// Replaces the source's fact; a fact without times removes it (a compacted topic's tombstone).
    public mutating func apply(_ fact: SourceRiskFact) {
        sources[fact.source] = fact.failingUserTimes.isEmpty ? nil : fact
    }

    /// Replaces the entity's campaign fact; one without intervals removes it.
    public mutating func apply(_ fact: CampaignFact) {
        campaigns[fact.key] = fact.stuffing == nil && fact.resetWave == nil ? nil : fact
    }

    /// Forgets the source's fact (a tombstone on the source-risk topic).
    public mutating func removeFact(forSource source: UInt64) { sources[source] = nil }

    /// Forgets the entity's campaign fact (a tombstone on the campaigns topic).
    public mutating func removeCampaign(_ key: UInt64) { campaigns[key] = nil }

    /// Sources with a fact.
    public var sourceCount: Int { sources.count }

    /// Autonomous systems and tenants with a campaign fact.
    public var campaignCount: Int { campaigns.count }

    /// The newest fact for `source`.
    public func sourceRisk(_ source: UInt64) -> SourceRiskFact? { sources[source] }

    /// The newest campaign fact for `key`.
    public func campaign(_ key: UInt64) -> CampaignFact? { campaigns[key] }
}
