import Testing
import VigilCore
import VigilGeo
import VigilTestSupport
import VigilWorkload

/// The demo's traffic must enrich the way production traffic does with the databases it ships with.
@Suite struct DemoTrafficTests {
    @Test func vpnExitsAreAnonymousVPNAndCitiesAreNot() throws {
        var settings = GeoSettings()
        settings.cityDatabase = TestPaths.maxmind.appendingPathComponent("GeoIP2-City-Test.mmdb").path
        settings.anonymousDatabase = TestPaths.maxmind.appendingPathComponent("GeoIP2-Anonymous-IP-Test.mmdb").path
        let geo = try GeoDatabases(settings: settings)
        let pool = IPPool.maxMindTestCity
        #expect(!pool.vpnExits.isEmpty)
        for exit in pool.vpnExits {
            #expect(geo.lookup(exit).anonymity.contains(.vpn), "\(exit)")
        }
        for location in pool.locations {
            for address in location.addresses {
                let intelligence = geo.lookup(address)
                #expect(intelligence.location?.city == location.city, "\(address)")
                #expect(intelligence.anonymity.isEmpty, "\(address) is flagged \(intelligence.anonymity)")
            }
        }
    }
}
