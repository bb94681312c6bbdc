import Testing

@testable import VigilCore

@Suite struct CompactAnchorTests {
    @Test func shortEventIDRoundTripsInline() {
        let uuid = "0b5f8c1e-7d2a-4c3b-9e8f-1a2b3c4d5e6f"
        let id = CompactEventID(uuid)
        #expect(id.isInline)
        #expect(id.string == uuid)
        let forty = String(repeating: "x", count: CompactEventID.inlineCapacity)
        #expect(CompactEventID(forty).isInline)
        #expect(CompactEventID(forty).string == forty)
        #expect(CompactEventID("").string == "")
        #expect(CompactEventID("é✓").string == "é✓")
    }

    @Test func longEventIDRoundTripsOnTheHeap() {
        let long = "tenant-acme:" + String(repeating: "0123456789", count: 5)
        let id = CompactEventID(long)
        #expect(!id.isInline)
        #expect(id.string == long)
    }

    @Test func equalityComparesTheIdNotTheBufferTail() {
        #expect(CompactEventID("abc") == CompactEventID("abc"))
        #expect(CompactEventID("abc") != CompactEventID("abd"))
        #expect(CompactEventID("abc") != CompactEventID("abcd"))
    }

    @Test func anchorIsSmall() {
        #expect(MemoryLayout<CompactAnchor>.size <= 96)
        #expect(MemoryLayout<UserState>.stride <= 224)
    }

    @Test func anchorRoundTripsLocationNetworkAndEvidence() {
        var names = NameTable()
        let location = GeoLocation(
            countryCode: "GB", city: "London", latitude: 51.5142, longitude: -0.0931, accuracyRadiusKm: 10)
        let network = AutonomousSystem(number: 20712, organization: "Andrews & Arnold Ltd")
        let ip = IPAddress("81.2.69.142")!
        let eventID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
        let compact = CompactAnchor(
            time: Timestamp(seconds: 1000), eventID: eventID, ip: ip, location: location, network: network,
            anonymity: [.vpn], names: &names)
        let decoded = LoginAnchor(compact, names: names)
        #expect(decoded.location == location)
        #expect(decoded.network == network)
        #expect(decoded.eventID == eventID)
        #expect(decoded.ip == ip)
        #expect(decoded.time == Timestamp(seconds: 1000))
        #expect(decoded.anonymity == [.vpn])
    }

    @Test func anchorKeepsMissingPartsMissing() {
        var names = NameTable()
        let location = GeoLocation(countryCode: "XKX", latitude: -33.494)
        let compact = CompactAnchor(
            time: Timestamp(seconds: 1), eventID: "e1", ip: IPAddress("1.2.0.1")!, location: location,
            network: AutonomousSystem(number: 4837), anonymity: [], names: &names)
        #expect(compact.location(names: names) == location)
        #expect(compact.network(names: names) == AutonomousSystem(number: 4837))
        let bare = CompactAnchor(
            time: Timestamp(seconds: 1), eventID: "e2", ip: IPAddress("1.2.0.1")!, location: nil, network: nil,
            anonymity: [], names: &names)
        #expect(bare.location(names: names) == nil)
        #expect(bare.network(names: names) == nil)
    }

    @Test func cityFallsBackToUnknownWhenTheTableIsFull() {
        var names = NameTable(capacity: 1)
        _ = names.intern("Boxford")
        let compact = CompactAnchor(
            time: Timestamp(seconds: 1), eventID: "e1", ip: IPAddress("81.2.69.142")!,
            location: GeoLocation(countryCode: "GB", city: "London"), network: nil, anonymity: [], names: &names)
        #expect(compact.location(names: names) == GeoLocation(countryCode: "GB"))
    }
}
