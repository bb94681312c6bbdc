import Foundation
import Testing
import VigilTestSupport

@testable import VigilDaemon

/// `vigil run` on the mock cluster with Shared Signals on and a loopback receiver (scripts/ssf-test-receiver.py)
/// that answers from a plan: tokens reach the signals topic signed and verify against the daemon's
/// `/jwks.json` (joserfc); the receiver gets each token with the configured authorization, a 503 is retried,
/// a 400 is not, and a token still failing when the daemon stops is delivered after its restart, while the
/// tokens delivered before it are not pushed again. The stream management endpoints ask for a verification
/// event, which the receiver gets signed.
@Suite(.enabled(if: JOSEVerifier.isAvailable, "needs python3 with joserfc and cryptography (see .ci/run)"))
struct SignalDeliveryRunTests {
    static let issuer = "https://vigil.test"
    static let managementToken = "management-token-0123456789"
    static let environment = ["RECEIVER_AUTH": "Bearer receiver-secret", "SSF_TOKEN": managementToken]

    /// The scenario's push bombing then accepted push, for `user`, with ids of its own.
    static func pushBombing(user: String, prefix: String) throws -> [String] {
        try String(contentsOf: TestPaths.scenarios.appendingPathComponent("push-bombing.jsonl"), encoding: .utf8)
            .split(separator: "\n").map {
                $0.replacingOccurrences(of: #""id": "carol""#, with: #""id": "\#(user)""#)
                    .replacingOccurrences(of: #""event_id": "pb-"#, with: #""event_id": "\#(prefix)-"#)
            }
    }

    struct Receiver {
        let process: ChildProcess
        let plan: URL
        let log: URL
        let port: Int

        init(directory: URL) throws {
            plan = directory.appendingPathComponent("plan.json")
            log = directory.appendingPathComponent("received.jsonl")
            try Data().write(to: log)
            try Self.writePlan(plan, script: [503, 503, 400], default: 202)
            let process = try ChildProcess(
                try ChildProcess.executable(named: "python3"),
                [
                    TestPaths.packageRoot.appendingPathComponent("scripts/ssf-test-receiver.py").path, plan.path,
                    log.path,
                ],
                directory: directory)
            self.process = process
            var port: Int?
            try waitUntil("the receiver's port", timeout: .seconds(20)) {
                port = process.stdout.split(separator: "\n").first.flatMap { Int($0) }
                return port != nil
            }
            self.port = port!
        }

        static func writePlan(_ plan: URL, script: [Int], default status: Int) throws {
            try Data(#"{"script": \#(script), "default": \#(status)}"#.utf8).write(to: plan)
        }

        func setPlan(script: [Int], default status: Int) throws {
            try Self.writePlan(plan, script: script, default: status)
        }

        var requests: [[String: Any]] { (try? readJSONLines(log)) ?? [] }
    }

    @Test func tokensAreSignedPushedRetriedRefusedAndNotLostAcrossARestart() async throws {
        let directory = try TestPaths.temporaryDirectory("ssf-push")
        let key = try JOSEVerifier.makeKey("RS256", in: directory, name: "signing.pem")
        let receiver = try Receiver(directory: directory)
        defer { receiver.process.signal(SIGTERM) }
        let fixture = try KafkaFixture(
            name: "ssf-push", partitions: 1,
            extra: """
                ssf:
                  enabled: true
                  issuer: "\(Self.issuer)"
                  audience: ["https://acme.okta.test"]
                  signing_keys: [{path: "\(key.path)", algorithm: RS256}]
                  receivers: [{url: "http://127.0.0.1:\(receiver.port)/events", authorization: "${env:RECEIVER_AUTH}"}]
                  delivery: {retry_initial_delay: 50ms, retry_max_delay: 1s}
                  management_token_env: SSF_TOKEN
                """)
        var daemon = try DaemonProcess(
            config: fixture.config, directory: fixture.directory, environment: Self.environment)
        try await blocking {
            try Kcat.produce(
                fixture.brokers, topic: "auth.events", lines: try Self.pushBombing(user: "carol", prefix: "c"))
        }
        // Push bombing raises carol's risk; the accepted push revokes her session: two tokens.
        try await waitUntil("carol's two tokens delivered", timeout: .seconds(60)) {
            try daemon.requireRunning()
            return receiver.requests.contains { $0["status"] as? Int == 202 }
        }
        let first = try fixture.signals()
        #expect(first.count == 2)
        #expect(first.allSatisfy { $0.key == "carol" && $0.headers["content-type"] == "application/secevent+jwt" })
        let tokens = first.map(\.text)
        let requests = receiver.requests
        #expect(requests.map { $0["status"] as? Int } == [503, 503, 400, 202])
        #expect(requests.map { $0["body"] as? String } == [tokens[0], tokens[0], tokens[0], tokens[1]])
        #expect(requests.allSatisfy { $0["authorization"] as? String == "Bearer receiver-secret" })
        #expect(requests.allSatisfy { $0["content_type"] as? String == "application/secevent+jwt" })

        // A receiver's view: the metadata, the keys, and tokens that verify against them.
        let http = LoopbackHTTP(port: fixture.metricsPort)
        let metadata = try http.get("/.well-known/ssf-configuration")
        #expect(metadata.status == 200)
        let configuration = try #require(
            try JSONSerialization.jsonObject(with: Data(metadata.body.utf8)) as? [String: Any])
        #expect(configuration["issuer"] as? String == Self.issuer)
        #expect(configuration["jwks_uri"] as? String == Self.issuer + "/jwks.json")
        let jwks = try http.get("/jwks.json")
        #expect(jwks.status == 200 && jwks.headers["content-type"] == "application/jwk-set+json")
        let verified = try JOSEVerifier.verify(
            tokens: tokens.map { Array($0.utf8) }, jwks: Array(jwks.body.utf8), issuer: Self.issuer)
        let types = verified.map { ($0.claims["events"] as? [String: Any])?.keys.first ?? "" }
        #expect(
            types.map { $0.split(separator: "/").last.map(String.init) } == ["risk-level-change", "session-revoked"])

        // Stream management: bearer only; a verification event reaches the receiver, signed.
        #expect(try http.get("/ssf/status").status == 401)
        let authorized = "authorization: Bearer \(Self.managementToken)\r\n"
        let status = try http.exchange(
            "GET /ssf/status HTTP/1.1\r\nhost: localhost\r\n\(authorized)connection: close\r\n\r\n")
        #expect(status.status == 200 && status.body.contains(#""status":"enabled""#))
        let streamID = SignalStreams.streamID("http://127.0.0.1:\(receiver.port)/events")
        let body = #"{"stream_id":"\#(streamID)","state":"check-42"}"#
        let verify = try http.exchange(
            "POST /ssf/verify HTTP/1.1\r\nhost: localhost\r\n\(authorized)content-type: application/json\r\n"
                + "content-length: \(body.utf8.count)\r\nconnection: close\r\n\r\n\(body)")
        #expect(verify.status == 204)
        try await waitUntil("the verification event", timeout: .seconds(30)) { receiver.requests.count >= 5 }
        let verification = try #require(receiver.requests.last?["body"] as? String)
        let checked = try JOSEVerifier.verify(
            tokens: [Array(verification.utf8)], jwks: Array(jwks.body.utf8), issuer: Self.issuer)
        let event = (checked.first?.claims["events"] as? [String: Any])?[SignalEndpoints.verificationEventURI]
        #expect((event as? [String: Any])?["state"] as? String == "check-42")

        // The receiver fails; dan's tokens are being retried when the daemon stops; after the restart they
        // are delivered, and carol's are not pushed again.
        try receiver.setPlan(script: [], default: 503)
        try await blocking {
            try Kcat.produce(
                fixture.brokers, topic: "auth.events", lines: try Self.pushBombing(user: "dan", prefix: "d"))
        }
        try await waitUntil("dan's first token refused", timeout: .seconds(60)) {
            try daemon.requireRunning()
            return receiver.requests.contains {
                $0["status"] as? Int == 503 && !tokens.contains($0["body"] as? String ?? "")
                    && $0["body"] as? String != verification
            }
        }
        #expect(try daemon.stop() == 0, "\(daemon.log)")
        try receiver.setPlan(script: [], default: 202)
        daemon = try DaemonProcess(config: fixture.config, directory: fixture.directory, environment: Self.environment)
        let dans = try fixture.signals().filter { $0.key == "dan" }.map(\.text)
        #expect(dans.count == 2)
        try await waitUntil("dan's tokens delivered after the restart", timeout: .seconds(60)) {
            try daemon.requireRunning()
            let delivered = Set(
                receiver.requests.filter { $0["status"] as? Int == 202 }.compactMap { $0["body"] as? String })
            return dans.allSatisfy(delivered.contains)
        }
        let bodies = receiver.requests.compactMap { $0["body"] as? String }
        #expect(bodies.filter { $0 == tokens[1] }.count == 1, "a delivered token is not pushed again")
        #expect(bodies.filter { $0 == tokens[0] }.count == 3, "a refused token is not pushed again")
        #expect(try daemon.stop() == 0, "\(daemon.log)")
    }
}
