/// Everything the engine knows about a source address in one call: the databases behind `GeoLookup`
/// plus the operator's reputation table. Kept separate from `GeoLookup` so tests can pair a table-driven
/// lookup with real reputation data, and so a reputation reload needs no database reopen.
public struct Enricher: Sendable {
    /// Location, network and anonymity of an address.
    public let geo: any GeoLookup
    /// The operator's ASN and CIDR categories.
    public let reputation: ReputationTable

    /// Pairs a lookup with a reputation table (none by default).
    public init(geo: any GeoLookup, reputation: ReputationTable = .empty) {
        self.geo = geo
        self.reputation = reputation
    }

    /// The geo lookup with `reputation` filled from the looked-up ASN and the address itself.
    public func enrich(_ address: IPAddress) -> IPIntelligence {
        var intelligence = geo.lookup(address)
        intelligence.reputation = reputation.matches(address: address, asn: intelligence.network?.number)
        return intelligence
    }
}
