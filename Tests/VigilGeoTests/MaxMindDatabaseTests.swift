import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilGeo

@Suite("MaxMind database reader")
struct MaxMindDatabaseTests {
    /// Looks up the first and last address of every network in `jsonName` (both families) and compares
    /// with the record a later, overlapping network of the file would leave in force.
    private func checkEveryNetwork<Value: Equatable>(
        database databaseName: String, json jsonName: String, kind: MaxMindDatabase.Kind,
        expected: ([String: Any]) -> Value, actual: (MaxMindDatabase, IPAddress) -> Value
    ) throws {
        let database = try MaxMindDatabase(path: TestPaths.maxmind(databaseName).path, kind: kind)
        let networks = try TestData.networks(jsonName)
        let probes = try networks.map { try Probe($0.network) }
        var checked = 0
        for probe in probes {
            for address in probe.addresses {
                let tree = Probe.treeForm(address)
                let owner = try #require(probes.lastIndex { $0.treeNetwork.contains(tree) })
                #expect(
                    actual(database, address) == expected(networks[owner].record),
                    "\(address) in \(networks[owner].network)")
            }
            checked += 1
        }
        #expect(checked == networks.count)
        #expect(database.lookupErrors == 0)
    }

    @Test func cityMatchesSourceData() throws {
        try checkEveryNetwork(
            database: "GeoIP2-City-Test.mmdb", json: "GeoIP2-City-Test.json", kind: .city,
            expected: Self.expectedLocation, actual: { $0.location(of: $1) })
    }

    @Test func geoLiteCityMatchesSourceData() throws {
        try checkEveryNetwork(
            database: "GeoLite2-City-Test.mmdb", json: "GeoLite2-City-Test.json", kind: .city,
            expected: Self.expectedLocation, actual: { $0.location(of: $1) })
    }

    @Test func asnMatchesSourceData() throws {
        try checkEveryNetwork(
            database: "GeoLite2-ASN-Test.mmdb", json: "GeoLite2-ASN-Test.json", kind: .asn,
            expected: { record -> AutonomousSystem? in
                guard let number = record["autonomous_system_number"] as? Int else { return nil }
                return AutonomousSystem(
                    number: UInt32(number), organization: record["autonomous_system_organization"] as? String)
            },
            actual: { $0.autonomousSystem(of: $1) })
    }

    @Test func anonymousIPMatchesSourceData() throws {
        try checkEveryNetwork(
            database: "GeoIP2-Anonymous-IP-Test.mmdb", json: "GeoIP2-Anonymous-IP-Test.json", kind: .anonymousIP,
            expected: { record -> AnonymityFlags in
                var flags: AnonymityFlags = []
                let names: [(String, AnonymityFlags)] = [
                    ("is_anonymous", .anonymous), ("is_anonymous_vpn", .vpn), ("is_tor_exit_node", .torExit),
                    ("is_hosting_provider", .hosting), ("is_public_proxy", .publicProxy),
                    ("is_residential_proxy", .residentialProxy),
                ]
                for (name, flag) in names where record[name] as? Bool == true { flags.insert(flag) }
                return flags
            },
            actual: { $0.anonymity(of: $1) })
    }

    static func expectedLocation(_ record: [String: Any]) -> GeoLocation? {
        func field(_ path: String...) -> Any? {
            var node: Any? = record
            for key in path { node = (node as? [String: Any])?[key] }
            return node
        }
        let location = GeoLocation(
            countryCode: (field("country", "iso_code") ?? field("registered_country", "iso_code")) as? String,
            city: field("city", "names", "en") as? String,
            latitude: (field("location", "latitude") as? NSNumber)?.doubleValue,
            longitude: (field("location", "longitude") as? NSNumber)?.doubleValue,
            accuracyRadiusKm: field("location", "accuracy_radius") as? Int)
        return location == GeoLocation() ? nil : location
    }

    @Test func addressesOutsideTheDatabaseHaveNoData() throws {
        let city = try MaxMindDatabase(path: TestPaths.maxmind("GeoIP2-City-Test.mmdb").path, kind: .city)
        #expect(city.location(of: IPAddress("10.0.0.1")!) == nil)
        #expect(city.location(of: IPAddress("fd00::1")!) == nil)
        #expect(city.lookupErrors == 0)
        #expect(city.databaseType == "GeoIP2-City")
    }

    @Test func countryDatabaseServesAsCity() throws {
        let country = try MaxMindDatabase(path: TestPaths.maxmind("GeoIP2-Country-Test.mmdb").path, kind: .city)
        #expect(country.location(of: IPAddress("2001:218::1")!)?.countryCode == "JP")
    }

    // MARK: - Failures

    @Test func missingFileIsNamed() {
        let path = TestPaths.maxmind("no-such-file.mmdb").path
        #expect(throws: GeoDatabaseError.fileMissing(path: path)) { try MaxMindDatabase(path: path, kind: .city) }
        #expect(GeoDatabaseError.fileMissing(path: path).description.contains(path))
    }

    @Test func directoryIsNotADatabase() {
        #expect(throws: GeoDatabaseError.unreadable(path: TestPaths.maxmind.path, reason: "not a regular file")) {
            try MaxMindDatabase(path: TestPaths.maxmind.path, kind: .city)
        }
    }

    @Test func nonDatabaseFileIsCorrupt() throws {
        let path = TestPaths.maxmind("GeoIP2-City-Test.json").path
        let error = try #require(throws: GeoDatabaseError.self) { try MaxMindDatabase(path: path, kind: .city) }
        guard case .corrupt(path, let reason) = error else {
            Issue.record("expected corrupt, got \(error)")
            return
        }
        #expect(!reason.isEmpty)
        #expect(error.description.hasPrefix(path))
    }

    @Test func wrongDatabaseTypeIsRejected() {
        let path = TestPaths.maxmind("GeoLite2-ASN-Test.mmdb").path
        #expect(throws: GeoDatabaseError.wrongType(path: path, found: "GeoLite2-ASN", expected: .city)) {
            try MaxMindDatabase(path: path, kind: .city)
        }
        #expect(throws: GeoDatabaseError.self) {
            try MaxMindDatabase(path: TestPaths.maxmind("GeoIP2-City-Test.mmdb").path, kind: .anonymousIP)
        }
    }

    @Test(arguments: [
        "GeoIP2-City-Test-Broken-Double-Format.mmdb", "GeoIP2-City-Test-Invalid-Node-Count.mmdb",
        "MaxMind-DB-test-broken-pointers-24.mmdb", "MaxMind-DB-test-broken-search-tree-24.mmdb",
    ])
    func brokenDatabaseFailsCleanly(name: String) throws {
        let path = TestPaths.maxmind(name).path
        let database: MaxMindDatabase
        do {
            database = try MaxMindDatabase(path: path, expecting: nil)
        } catch {
            #expect(error.path == path)
            return
        }
        // Opened: every lookup must come back, and the damage must show in the error count.
        var addresses = try TestData.networks("GeoIP2-City-Test.json").flatMap { try Probe($0.network).addresses }
        // The broken search tree is broken on the path to 128.128.128.128 (other readers report it there).
        addresses.append(IPAddress("128.128.128.128")!)
        for last in UInt32(0)...255 {
            addresses.append(IPAddress(ipv4: 0x0101_0100 | last))
            addresses.append(IPAddress(high: 0, low: 0x0101_0100 | UInt64(last)))
        }
        for address in addresses {
            _ = database.location(of: address)
            _ = database.autonomousSystem(of: address)
            _ = database.anonymity(of: address)
        }
        #expect(database.lookupErrors > 0, "\(name) opened and answered every lookup without an error")
    }
}
