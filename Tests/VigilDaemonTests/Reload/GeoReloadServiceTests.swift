import Foundation
import MetricsTestKit
import Synchronization
import Testing
import VigilCore
import VigilGeo
import VigilTestSupport

@testable import VigilDaemon

@Suite struct GeoReloadServiceTests {
    @Test func replacedDatabaseIsSwappedInAndLogged() throws {
        let directory = try TestPaths.temporaryDirectory("geo-reload")
        let path = directory.appendingPathComponent("asn.mmdb").path
        let source = TestPaths.maxmind.appendingPathComponent("GeoLite2-ASN-Test.mmdb").path
        try FileManager.default.copyItem(atPath: source, toPath: path)
        var settings = GeoSettings()
        settings.asnDatabase = path
        let databases = try GeoDatabases(settings: settings)
        let recorded = TestMetrics()
        let capture = LogCapture()
        let replacements = Mutex<[String]>([])
        let service = GeoReloadService(
            databases: databases, interval: .seconds(3600), metrics: DaemonMetrics(factory: recorded),
            onDataReplaced: { identity in replacements.withLock { $0.append(identity) } }, logger: capture.logger())

        service.check()
        #expect(capture.messages(at: "notice").isEmpty)

        // geoipupdate's way: a new file renamed over the old one.
        let staged = directory.appendingPathComponent("asn.mmdb.new").path
        try FileManager.default.copyItem(atPath: source, toPath: staged)
        _ = rename(staged, path)
        service.check()
        let reloaded = try #require(capture.objects.first { $0["msg"] as? String == "geo database reloaded" })
        #expect(reloaded["kind"] as? String == MaxMindDatabase.Kind.asn.rawValue)
        #expect(reloaded["path"] as? String == path)
        #expect(replacements.withLock { $0 } == [databases.dataIdentity], "the swap is reported with its identity")

        try Data("not a database".utf8).write(to: URL(fileURLWithPath: staged))
        _ = rename(staged, path)
        service.check()
        #expect(capture.messages(at: "error") == ["geo database reload failed; the open database stays in force"])
        #expect(replacements.withLock { $0.count } == 1, "a failed replacement changes no data")
        #expect(databases.database(.asn) != nil)
        #expect(Int(recorded.counterTotal(label: "vigil_geo_lookup_errors_total")) == databases.lookupErrors)
    }
}
