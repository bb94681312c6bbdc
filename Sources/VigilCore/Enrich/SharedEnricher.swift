/// An `Enricher` behind one reference, for a holder that reads it for every event (the pipeline).
/// `Enricher` is a struct of an existential and arrays, so reading an optional one out of its holder
/// copies it and retains each field; reading through this class costs a single retain.
final class SharedEnricher: Sendable {
    let enricher: Enricher

    init(_ enricher: Enricher) { self.enricher = enricher }

    func enrich(_ address: IPAddress) -> IPIntelligence { enricher.enrich(address) }
}
