import Testing
import VigilCore

@Suite("Enricher")
struct EnricherTests {
    private struct FixedLookup: GeoLookup {
        func lookup(_ address: IPAddress) -> IPIntelligence {
            IPIntelligence(network: AutonomousSystem(number: 64500), anonymity: .hosting)
        }
    }

    @Test func fillsReputationFromASNAndAddress() throws {
        let table = ReputationTable(asnCategories: [64500: "hosting"], networks: [(try CIDR("198.51.100.0/24"), "bad")])
        let enricher = Enricher(geo: FixedLookup(), reputation: table)
        let intelligence = enricher.enrich(IPAddress("198.51.100.9")!)
        #expect(
            intelligence.reputation == [
                .init(source: .asn, category: "hosting"), .init(source: .cidr, category: "bad"),
            ])
        #expect(intelligence.anonymity == .hosting)
        #expect(enricher.enrich(IPAddress("2001:db8::1")!).reputation == [.init(source: .asn, category: "hosting")])
        #expect(Enricher(geo: FixedLookup()).enrich(IPAddress("198.51.100.9")!).reputation == [])
    }
}
