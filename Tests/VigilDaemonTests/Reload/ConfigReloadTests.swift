import Foundation
import MetricsTestKit
import ServiceLifecycle
import Testing
import UnixSignals
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// Serialized: the SIGHUP test signals the whole process, which every running reload service would see.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ConfigReloadTests {
    /// A config that needs no files: no geo databases, so it loads anywhere.
    static func yaml(
        mediumFrom: Int = 31, bootstrap: String = "kafka:9092", listen: String = "127.0.0.1:9464"
    ) -> String {
        """
        geo: {city_db: null, asn_db: null, anonymous_db: null}
        policy:
          medium_from: \(mediumFrom)
        kafka:
          bootstrap_servers: "\(bootstrap)"
        http:
          listen: "\(listen)"

        """
    }

    struct Fixture {
        let path: String
        let mailbox = ConfigMailbox()
        let status = DaemonStatus()
        let recorded = TestMetrics()
        let capture = LogCapture()

        init() throws {
            path = try TestPaths.temporaryDirectory("reload").appendingPathComponent("vigil.yaml").path
            try write(ConfigReloadTests.yaml())
        }

        /// Atomic replace, as editors and config management do: a new inode every time.
        func write(_ text: String) throws {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }

        func reloader() throws -> ConfigReloader {
            ConfigReloader(
                initial: try ConfigLoader.load(path: path), path: path, mailbox: mailbox, status: status,
                metrics: DaemonMetrics(factory: recorded),
                logger: capture.logger())
        }

        /// `vigil_config_reloads_total` as recorded, by `result` ("ok" or "failed").
        func reloads(_ result: String) -> Int64 {
            recorded.counterTotal(label: "vigil_config_reloads_total", dimensions: [("result", result)])
        }

        /// A service starting from `initial`, by default the file as it is now.
        func service(checkInterval: Duration, initial: LoadedConfig? = nil) throws -> ConfigReloadService {
            ConfigReloadService(
                initial: try initial ?? ConfigLoader.load(path: path), path: path, mailbox: mailbox, status: status,
                metrics: DaemonMetrics(factory: recorded),
                checkInterval: checkInterval, logger: capture.logger())
        }

        /// Polls the mailbox (the run loop's side) until something arrives or the deadline passes.
        /// Generous bound: the blocking Kafka mock-cluster tests can hold both cooperative threads for
        /// tens of seconds on a 2-core CI machine, starving the service under test.
        func awaitPost(within seconds: Double = 120, while trigger: () -> Void = {}) async throws -> LoadedConfig? {
            let deadline = ContinuousClock.now + Duration.seconds(seconds)
            while ContinuousClock.now < deadline {
                trigger()
                if let config = mailbox.take() { return config }
                try await Task.sleep(for: .milliseconds(50))
            }
            return nil
        }
    }

    static func running(_ service: ConfigReloadService, _ body: () async throws -> Void) async throws {
        let group = ServiceGroup(services: [service], logger: testLogger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body()
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test func changedFileIsPostedByTheService() async throws {
        let fixture = try Fixture()
        let original = try ConfigLoader.load(path: fixture.path)
        try await Self.running(try fixture.service(checkInterval: .milliseconds(50))) {
            // Let the service start before the file changes, so the change is met while it runs (bounded
            // wait on its log line).
            let armed = ContinuousClock.now + Duration.seconds(120)
            while !fixture.capture.objects.contains(where: {
                ($0["msg"] as? String)?.hasPrefix("config reload armed") == true
            }),
                ContinuousClock.now < armed
            {
                try await Task.sleep(for: .milliseconds(20))
            }
            try fixture.write(Self.yaml(mediumFrom: 40))
            let posted = try #require(try await fixture.awaitPost())
            #expect(posted.config.policy.mediumFrom == 40)
            #expect(posted.policyVersion != original.policyVersion)
            #expect(fixture.reloads("ok") == 1)
        }
        let notice = try #require(fixture.capture.objects.first { $0["msg"] as? String == "config reloaded" })
        #expect(notice["old_policy_version"] as? String == original.policyVersion)
        #expect(notice["trigger"] as? String == "file changed")
    }

    /// The daemon loads its config well before the reload service starts: an edit in between must be
    /// seen by the first poll, not only by a SIGHUP.
    @Test func anEditBeforeTheServiceStartsIsSeenByTheFirstPoll() async throws {
        let fixture = try Fixture()
        let loadedAtStartup = try ConfigLoader.load(path: fixture.path)
        try fixture.write(Self.yaml(mediumFrom: 42))
        let service = try fixture.service(checkInterval: .milliseconds(50), initial: loadedAtStartup)
        try await Self.running(service) {
            let posted = try #require(try await fixture.awaitPost())
            #expect(posted.config.policy.mediumFrom == 42)
            #expect(posted.policyVersion != loadedAtStartup.policyVersion)
        }
        let notice = try #require(fixture.capture.objects.first { $0["msg"] as? String == "config reloaded" })
        #expect(notice["trigger"] as? String == "file changed")
    }

    /// A hot-swapped geo database posts the running config under a version naming the new data; a later
    /// reload of the file keeps that data's part of the version.
    @Test func replacedGeoDataGivesANewPolicyVersionThatReloadsKeep() throws {
        let fixture = try Fixture()
        let reloader = try fixture.reloader()
        let started = try ConfigLoader.load(path: fixture.path)
        #expect(reloader.geoDataReplaced(geoIdentity: started.geoIdentity) == .unchanged)
        #expect(fixture.mailbox.take() == nil)

        let newData = "city=GeoIP2-City@2000000000;asn=none;anonymous-ip=none"
        let outcome = reloader.geoDataReplaced(geoIdentity: newData)
        let posted = try #require(fixture.mailbox.take())
        #expect(outcome == .posted(policyVersion: posted.policyVersion))
        #expect(posted.policyVersion != started.policyVersion)
        #expect(posted.geoIdentity == newData && posted.config == started.config)

        try fixture.write(Self.yaml(mediumFrom: 40))
        #expect(reloader.reload(.poll) != .failed)
        let reloaded = try #require(fixture.mailbox.take())
        #expect(reloaded.geoIdentity == newData)
        var expected = started.config
        expected.policy.mediumFrom = 40
        let version = LoadedConfig(
            config: expected, sourcePath: "", reputationContent: started.reputationContent, geoIdentity: newData
        ).policyVersion
        #expect(reloaded.policyVersion == version)
    }

    @Test func invalidFileKeepsTheRunningConfig() throws {
        let fixture = try Fixture()
        let reloader = try fixture.reloader()
        try fixture.write(
            """
            policy:
              medium_from: lots
              nonsense: 1

            """)
        #expect(reloader.reload(.poll) == .failed)
        #expect(fixture.mailbox.take() == nil)
        #expect(fixture.reloads("failed") == 1)
        #expect(fixture.reloads("ok") == 0)
        let error = try #require(fixture.status.snapshot.lastReloadError)
        #expect(error.contains("policy.medium_from (line 2)"))
        #expect(error.contains("policy.nonsense (line 3)"))
        let problems = fixture.capture.objects.filter { $0["msg"] as? String == "config reload: invalid setting" }
        #expect(problems.compactMap { $0["setting"] as? String }.sorted() == ["policy.medium_from", "policy.nonsense"])
        #expect(problems.allSatisfy { $0["line"] != nil && $0["level"] as? String == "error" })

        // The same bad file is reported once, not on every check.
        #expect(reloader.reload(.poll) == .fileUnchanged)
        #expect(fixture.reloads("failed") == 1)

        // Fixing it compares against the config that kept running.
        try fixture.write(Self.yaml(mediumFrom: 50))
        guard case .posted = reloader.reload(.poll) else {
            Issue.record("expected a post")
            return
        }
        #expect(fixture.mailbox.take()?.config.policy.mediumFrom == 50)
        #expect(fixture.status.snapshot.lastReloadError == nil)
    }

    @Test func unchangedAndRestartOnlyChangesPostNothing() throws {
        let fixture = try Fixture()
        let reloader = try fixture.reloader()
        let original = try ConfigLoader.load(path: fixture.path)

        #expect(reloader.reload(.signal) == .unchanged, "SIGHUP rereads even an untouched file")
        #expect(fixture.mailbox.take() == nil)

        try fixture.write(Self.yaml(bootstrap: "other:9092", listen: "0.0.0.0:9464"))
        #expect(reloader.reload(.poll) == .unchanged)
        #expect(fixture.mailbox.take() == nil)
        let warning = try #require(fixture.capture.objects.first { $0["level"] as? String == "warning" })
        #expect(warning["settings"] as? String == "kafka.bootstrap_servers, http.listen")

        // A live change alongside restart-only ones: only the live part is posted.
        try fixture.write(Self.yaml(mediumFrom: 45, bootstrap: "other:9092", listen: "0.0.0.0:9464"))
        guard case .posted(let version) = reloader.reload(.poll) else {
            Issue.record("expected a post")
            return
        }
        let posted = try #require(fixture.mailbox.take())
        #expect(posted.policyVersion == version)
        #expect(posted.config.policy.mediumFrom == 45)
        #expect(posted.config.kafka == original.config.kafka)
        #expect(posted.config.http == original.config.http)
        #expect(fixture.reloads("ok") == 1)
    }

    /// SIGHUP in process: the test traps SIGHUP itself before anything sends it, so the signal can
    /// never take the default action (terminating the test runner) however the service's own
    /// registration races; it then signals until the service has reacted. The poll interval is an
    /// hour, so only the signal can trigger the reload.
    @Test func sighupReloads() async throws {
        let fixture = try Fixture()
        let guardSignals = await UnixSignalsSequence(trapping: .sighup)
        try await Self.running(try fixture.service(checkInterval: .seconds(3600))) {
            try await Task.sleep(for: .milliseconds(300))
            try fixture.write(Self.yaml(mediumFrom: 60))
            let posted = try await fixture.awaitPost { _ = kill(getpid(), SIGHUP) }
            #expect(posted?.config.policy.mediumFrom == 60)
        }
        withExtendedLifetime(guardSignals) {}
        let notice = try #require(fixture.capture.objects.first { $0["msg"] as? String == "config reloaded" })
        #expect(notice["trigger"] as? String == "SIGHUP")
    }
}
