import Foundation
import Testing
import VigilTestSupport

/// `vigil run` with a MaxMind database replaced under it by a new build: the decisions after the swap
/// carry a new `policy_version` (payload and header), the one the daemon logs, and `vigil_policy_info`
/// follows.
@Suite(.serialized, .timeLimit(.minutes(5)))
struct GeoDataPolicyVersionRunTests {
    @Test func aNewGeoBuildGivesLaterDecisionsANewPolicyVersion() async throws {
        let fixture = try KafkaFixture(name: "geo-version")
        // The ASN database becomes a copy the test can replace, checked every second.
        let asn = fixture.directory.appendingPathComponent("asn.mmdb")
        try FileManager.default.copyItem(at: TestPaths.maxmind("GeoLite2-ASN-Test.mmdb"), to: asn)
        let shared = TestPaths.maxmind("GeoLite2-ASN-Test.mmdb").path
        let config = try String(contentsOf: fixture.config, encoding: .utf8)
        #expect(config.contains("asn_db: \(shared)\n"))
        try config.replacingOccurrences(
            of: "asn_db: \(shared)\n", with: "asn_db: \(asn.path)\n  reload_check_interval: 1s\n"
        ).write(to: fixture.config, atomically: true, encoding: .utf8)

        let daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory)
        let before = try await Self.decide("geo-before", fixture: fixture, daemon: daemon)
        let oldVersion = try #require(before.first?.payload["policy_version"] as? String)

        var bytes = try [UInt8](Data(contentsOf: asn))
        try PolicyVersionTests.bumpBuildEpoch(&bytes)
        let staged = fixture.directory.appendingPathComponent("asn.mmdb.new")
        try Data(bytes).write(to: staged)
        #expect(rename(staged.path, asn.path) == 0)
        var newVersion: String?
        try await waitUntil("the swap's new policy version", timeout: .seconds(60)) {
            try daemon.requireRunning()
            newVersion = daemon.logged("geo data replaced: new policy version")?["new_policy_version"] as? String
            return newVersion != nil
        }
        #expect(newVersion != oldVersion)

        let after = try await Self.decide("geo-after", fixture: fixture, daemon: daemon)
        for record in after {
            #expect(record.payload["policy_version"] as? String == newVersion, "\(record.payload)")
            #expect(record.headers["vigil-policy-version"] == newVersion)
        }
        let metrics = try LoopbackHTTP(port: fixture.metricsPort).get("/metrics").body
        #expect(metrics.contains("vigil_policy_info{policy_version=\"\(newVersion ?? "")\"} 1"), "\(metrics)")
        daemon.signal(SIGTERM)
        #expect(try await daemon.waitForExit() == 0, "\(daemon.log)")
    }

    /// Produces logins with event ids `prefix-…` and returns their decisions once all are there.
    private static func decide(
        _ prefix: String, fixture: KafkaFixture, daemon: DaemonProcess
    ) async throws -> [Kcat.Record] {
        let lines = EventLines.keyedLogins(prefix: prefix, count: 8, users: 4)
        try await blocking { try Kcat.produce(fixture.brokers, topic: "auth.events", lines: lines) }
        var found: [Kcat.Record] = []
        try await waitUntil("the \(prefix) decisions", timeout: .seconds(90)) {
            try daemon.requireRunning()
            found = try fixture.decisions().filter { ($0.payload["event_id"] as? String)?.hasPrefix(prefix) == true }
            return found.count >= lines.count
        }
        return found
    }
}
