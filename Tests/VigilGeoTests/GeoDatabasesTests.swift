import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilGeo

@Suite("Geo databases: combined lookup, hot swap, cache")
struct GeoDatabasesTests {
    private static let singapore = IPAddress("214.0.0.1")!  // in GeoIP2-City-Test, absent from GeoLite2-City-Test

    private static func settings(
        city: String? = nil, asn: String? = nil, anonymous: String? = nil, cache: Int = 0
    )
        -> GeoSettings
    {
        var settings = GeoSettings()
        settings.cityDatabase = city
        settings.asnDatabase = asn
        settings.anonymousDatabase = anonymous
        settings.cacheEntries = cache
        return settings
    }

    /// Copies `name` to `url` by writing a sibling and renaming it over, as database updaters do.
    private static func install(_ name: String, at url: URL) throws {
        let staging = url.deletingLastPathComponent().appendingPathComponent("staging-\(UUID().uuidString)")
        try FileManager.default.copyItem(atPath: TestPaths.maxmind(name).path, toPath: staging.path)
        #expect(rename(staging.path, url.path) == 0)
    }

    @Test func combinesAllThreeDatabases() throws {
        let geo = try GeoDatabases(
            settings: Self.settings(
                city: TestPaths.maxmind("GeoIP2-City-Test.mmdb").path,
                asn: TestPaths.maxmind("GeoLite2-ASN-Test.mmdb").path,
                anonymous: TestPaths.maxmind("GeoIP2-Anonymous-IP-Test.mmdb").path))
        let london = geo.lookup(IPAddress("81.2.69.160")!)
        #expect(london.location?.city == "London")
        #expect(london.anonymity.contains([.anonymous, .vpn, .torExit]))
        #expect(
            geo.lookup(IPAddress("1.0.0.1")!).network == AutonomousSystem(number: 15169, organization: "Google Inc."))
        #expect(geo.lookup(IPAddress("10.1.2.3")!) == .unknown)
        #expect(geo.lookupErrors == 0)
    }

    @Test func unconfiguredDatabasesContributeNothing() throws {
        let geo = try GeoDatabases(settings: Self.settings())
        #expect(geo.lookup(Self.singapore) == .unknown)
        #expect(geo.reloadIfChanged().isEmpty)
    }

    @Test func startupFailsOnABadPath() {
        let path = TestPaths.maxmind("missing.mmdb").path
        #expect(throws: GeoDatabaseError.fileMissing(path: path)) {
            try GeoDatabases(settings: Self.settings(asn: path))
        }
    }

    @Test func replacedFileIsSwappedIn() throws {
        let directory = try TestPaths.temporaryDirectory("geo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("city.mmdb")
        try Self.install("GeoIP2-City-Test.mmdb", at: file)
        let geo = try GeoDatabases(settings: Self.settings(city: file.path, cache: 64))
        #expect(geo.lookup(Self.singapore).location?.city == "Singapore")
        #expect(geo.reloadIfChanged().isEmpty)

        try Self.install("GeoLite2-City-Test.mmdb", at: file)
        let results = geo.reloadIfChanged()
        #expect(results.count == 1)
        #expect(results.first?.kind == .city)
        #expect(
            results.first?.outcome
                == .reloaded(
                    databaseType: "GeoLite2-City", buildEpoch: try #require(geo.database(.city)).buildEpoch))
        #expect(geo.lookup(Self.singapore).location == nil)
        #expect(geo.lookup(IPAddress("2.125.160.217")!).location?.city == "Boxford")
        #expect(geo.reloadIfChanged().isEmpty)
    }

    @Test func brokenReplacementKeepsTheOldDatabase() throws {
        let directory = try TestPaths.temporaryDirectory("geo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("city.mmdb")
        try Self.install("GeoIP2-City-Test.mmdb", at: file)
        let geo = try GeoDatabases(settings: Self.settings(city: file.path))

        for broken in ["GeoIP2-City-Test-Invalid-Node-Count.mmdb", "GeoLite2-ASN-Test.mmdb", "GeoIP2-City-Test.json"] {
            try Self.install(broken, at: file)
            let results = geo.reloadIfChanged()
            #expect(results.count == 1)
            guard case .failed(let error) = results.first?.outcome else {
                Issue.record("\(broken) was accepted: \(results)")
                continue
            }
            #expect(error.path == file.path)
            #expect(geo.lookup(Self.singapore).location?.city == "Singapore")
            #expect(geo.reloadIfChanged().isEmpty, "a failed file is reported once")
        }

        try FileManager.default.removeItem(at: file)
        #expect(geo.reloadIfChanged().map(\.outcome) == [.failed(.fileMissing(path: file.path))])
        #expect(geo.reloadIfChanged().isEmpty)
        #expect(geo.lookup(Self.singapore).location?.city == "Singapore")

        try Self.install("GeoIP2-City-Test.mmdb", at: file)
        #expect(geo.reloadIfChanged().count == 1)
    }

    @Test func lookupHoldingTheOldHandleSurvivesTheSwap() throws {
        let directory = try TestPaths.temporaryDirectory("geo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("city.mmdb")
        try Self.install("GeoIP2-City-Test.mmdb", at: file)
        let geo = try GeoDatabases(settings: Self.settings(city: file.path))

        let old = try #require(geo.database(.city))
        try Self.install("GeoLite2-City-Test.mmdb", at: file)
        #expect(geo.reloadIfChanged().count == 1)
        // The old file is unlinked, but its mapping lives as long as this reference.
        #expect(old.location(of: Self.singapore)?.city == "Singapore")
        #expect(geo.lookup(Self.singapore).location == nil)
    }

    /// Lookups on two tasks while a third swaps the two City test databases in turn (21 swaps).
    /// Every answer is one of the two databases' own, never a torn or failed one; the Singapore network
    /// (in GeoIP2-City-Test only, from its JSON source) is among the probes, so an answer that differs
    /// between the databases is checked; every swap is installed and taken, and the database in force
    /// at the end (not the one opened at the start) answers alone, its cache included.
    @Test func concurrentLookupsDuringSwaps() async throws {
        let directory = try TestPaths.temporaryDirectory("geo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("city.mmdb")
        try Self.install("GeoIP2-City-Test.mmdb", at: file)
        let geo = try GeoDatabases(settings: Self.settings(city: file.path, cache: 16))
        let networks = try TestData.networks("GeoIP2-City-Test.json")
        let addresses = try networks.flatMap { try Probe($0.network).addresses }
        let singaporeNetwork = try #require(
            networks.first {
                (($0.record["city"] as? [String: Any])?["names"] as? [String: Any])?["en"] as? String == "Singapore"
            })
        let singaporeProbes = try Probe(singaporeNetwork.network).addresses
        // What each database answers alone, per probe.
        let full = try GeoDatabases(settings: Self.settings(city: TestPaths.maxmind("GeoIP2-City-Test.mmdb").path))
        let lite = try GeoDatabases(settings: Self.settings(city: TestPaths.maxmind("GeoLite2-City-Test.mmdb").path))
        let answers = Dictionary(addresses.map { ($0, [full.lookup($0), lite.lookup($0)]) }) { first, _ in first }
        #expect(!singaporeProbes.isEmpty)
        #expect(singaporeProbes.allSatisfy { answers[$0]?[0] != answers[$0]?[1] }, "the probes tell the two apart")

        let swaps = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    for _ in 0..<20 {
                        for address in addresses {
                            let answer = geo.lookup(address)
                            #expect(answers[address]?.contains(answer) == true, "\(address): \(answer)")
                        }
                    }
                    return 0
                }
            }
            group.addTask {
                var swaps = 0
                for round in 0..<21 {
                    try Self.install(round % 2 == 0 ? "GeoLite2-City-Test.mmdb" : "GeoIP2-City-Test.mmdb", at: file)
                    swaps += geo.reloadIfChanged().count
                }
                return swaps
            }
            return try await group.reduce(0, +)
        }
        #expect(swaps == 21)
        #expect(geo.lookupErrors == 0)
        // The last swap installed GeoLite2-City-Test (the one not opened at the start): it alone answers now.
        let mismatched = addresses.filter { geo.lookup($0) != answers[$0]?[1] }
        #expect(mismatched.isEmpty, "\(mismatched.count) addresses still answered by the old database")
        #expect(singaporeProbes.allSatisfy { geo.lookup($0).location?.city == nil })
    }

    // MARK: - Cache

    @Test func cacheHitsMatchMisses() throws {
        let paths = (TestPaths.maxmind("GeoIP2-City-Test.mmdb").path, TestPaths.maxmind("GeoLite2-ASN-Test.mmdb").path)
        let cached = try GeoDatabases(settings: Self.settings(city: paths.0, asn: paths.1, cache: 4096))
        let uncached = try GeoDatabases(settings: Self.settings(city: paths.0, asn: paths.1, cache: 0))
        let addresses = try (TestData.networks("GeoIP2-City-Test.json") + TestData.networks("GeoLite2-ASN-Test.json"))
            .flatMap { try Probe($0.network).addresses }
        for _ in 0..<2 {
            for address in addresses { #expect(cached.lookup(address) == uncached.lookup(address)) }
        }
        let statistics = cached.cacheStatistics
        #expect(statistics.hits > 0)
        #expect(statistics.hits + statistics.misses == 2 * addresses.count)
        #expect(uncached.cacheStatistics == .init(hits: 0, misses: 0, entries: 0, capacity: 0))
    }

    @Test func cacheStaysWithinCapacity() throws {
        let geo = try GeoDatabases(
            settings: Self.settings(city: TestPaths.maxmind("GeoIP2-City-Test.mmdb").path, cache: 100))
        for value in UInt32(0)..<5000 { _ = geo.lookup(IPAddress(ipv4: 0xD600_0000 | value)) }
        let statistics = geo.cacheStatistics
        #expect(statistics.capacity == 64)
        #expect(statistics.entries <= 64 && statistics.entries > 32)
        _ = geo.lookup(IPAddress(ipv4: 0xD600_0000 | 4999))
        #expect(geo.cacheStatistics.hits == 1)
    }

    @Test func cacheIsClearedOnSwap() throws {
        let directory = try TestPaths.temporaryDirectory("geo")
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("city.mmdb")
        try Self.install("GeoIP2-City-Test.mmdb", at: file)
        let geo = try GeoDatabases(settings: Self.settings(city: file.path, cache: 1024))
        #expect(geo.lookup(Self.singapore).location?.city == "Singapore")
        #expect(geo.lookup(Self.singapore).location?.city == "Singapore")
        #expect(geo.cacheStatistics.hits == 1)
        try Self.install("GeoLite2-City-Test.mmdb", at: file)
        _ = geo.reloadIfChanged()
        #expect(geo.cacheStatistics.entries == 0)
        #expect(geo.lookup(Self.singapore).location == nil)
    }

    @Test(arguments: [(0, 0), (1, 0), (2, 2), (3, 2), (4, 4), (100, 64), (65_536, 65_536)])
    func cacheCapacityIsAPowerOfTwoNotAboveTheSetting(requested: Int, actual: Int) {
        #expect(LookupCache(capacity: requested).capacity == actual)
    }
}
