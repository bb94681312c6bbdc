import Foundation
import Testing
import VigilCore
import VigilTestSupport

@testable import VigilDaemon

/// The transmitter's endpoints one request at a time: public metadata and keys, bearer-only stream
/// management with RFC 8935-style error bodies, status changes the push threads see, verification
/// requests queued per stream.
@Suite(.enabled(if: JOSEVerifier.isAvailable, "needs python3 with cryptography to make a key (see .ci/run)"))
struct SignalEndpointsTests {
    static let token = "management-token-0123456789"
    static let receiver = "https://acme.okta.test/security/api/v1/security-events"

    static func endpoints(
        issuer: String = "https://vigil.test/tenant-a", token: String? = token
    ) async throws -> (
        SignalEndpoints, SignalStreams
    ) {
        let directory = try TestPaths.temporaryDirectory("endpoints")
        let key = try JOSEVerifier.makeKey("ES256", in: directory, name: "k.pem")
        let signer = try await SecurityEventSigner(files: [SigningKeyFile(path: key.path, algorithm: .es256)])
        var config = DaemonConfig()
        config.core.ssf.issuer = issuer
        config.core.ssf.audience = ["https://acme.okta.test"]
        config.core.ssf.credentialChangeRequired = false
        let streams = SignalStreams(receivers: [SignalReceiver(url: receiver, authorization: "")])
        return (SignalEndpoints(config: config, signer: signer, streams: streams, managementToken: token), streams)
    }

    static func call(
        _ endpoints: SignalEndpoints, _ method: String, _ target: String, bearer: String? = token, body: String = ""
    ) -> (status: Int, json: [String: Any]?) {
        let path = target.prefix { $0 != "?" }
        let query = target.drop { $0 != "?" }.dropFirst()
        let response = endpoints.respond(
            method: method, path: path, query: query, authorization: bearer.map { "Bearer \($0)" },
            body: Array(body.utf8))
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body.utf8))) as? [String: Any]
        return (Int(response.status.code), json)
    }

    @Test func metadataAndKeysArePublicAndFollowTheIssuer() async throws {
        let (endpoints, _) = try await Self.endpoints()
        // The issuer has a path: the well-known URL ends with it (SSF 1.0 §7.2).
        let metadata = Self.call(endpoints, "GET", "/.well-known/ssf-configuration/tenant-a", bearer: nil)
        #expect(metadata.status == 200)
        #expect(metadata.json?["issuer"] as? String == "https://vigil.test/tenant-a")
        #expect(metadata.json?["jwks_uri"] as? String == "https://vigil.test/tenant-a/jwks.json")
        #expect(metadata.json?["spec_version"] as? String == "1_0")
        #expect(metadata.json?["delivery_methods_supported"] as? [String] == ["urn:ietf:rfc:8935"])
        #expect(Self.call(endpoints, "GET", "/.well-known/ssf-configuration/other", bearer: nil).status == 404)
        #expect(Self.call(endpoints, "POST", "/.well-known/ssf-configuration/tenant-a", bearer: nil).status == 405)
        let keys = Self.call(endpoints, "GET", "/jwks.json", bearer: nil)
        #expect(keys.status == 200 && (keys.json?["keys"] as? [[String: Any]])?.count == 1)
    }

    @Test func streamManagementNeedsTheBearerToken() async throws {
        let (endpoints, _) = try await Self.endpoints()
        for bearer in [nil, "wrong", Self.token + "x", String(Self.token.dropLast())] {
            let answer = Self.call(endpoints, "GET", "/ssf/status", bearer: bearer)
            #expect(answer.status == 401 && answer.json?["err"] as? String == "authentication_failed")
        }
        #expect(Self.call(endpoints, "GET", "/ssf/status").status == 200)
        // The scheme name is case-insensitive.
        let lower = endpoints.respond(
            method: "GET", path: "/ssf/status", query: "", authorization: "bearer \(Self.token)", body: [])
        #expect(lower.status == .ok)
        // Off without a configured token: the endpoints do not exist.
        let (closed, _) = try await Self.endpoints(token: nil)
        #expect(Self.call(closed, "GET", "/ssf/status").status == 404)
        #expect(Self.call(closed, "GET", "/jwks.json", bearer: nil).status == 200)
    }

    @Test func statusChangesReachTheStreamsAndBadRequestsSayWhy() async throws {
        let (endpoints, streams) = try await Self.endpoints()
        let id = SignalStreams.streamID(Self.receiver)
        let stream = Self.call(endpoints, "GET", "/ssf/stream?stream_id=\(id)")
        #expect(stream.status == 200)
        #expect((stream.json?["delivery"] as? [String: String])?["endpoint_url"] == Self.receiver)
        #expect((stream.json?["events_delivered"] as? [String])?.count == 3, "credential_change_required is off")
        #expect(Self.call(endpoints, "GET", "/ssf/status").json?["status"] as? String == "enabled")

        let paused = Self.call(
            endpoints, "POST", "/ssf/status", body: #"{"stream_id":"\#(id)","status":"paused","reason":"maintenance"}"#)
        #expect(paused.status == 200 && paused.json?["status"] as? String == "paused")
        #expect(streams.stream(id)?.status == .paused && streams.stream(id)?.reason == "maintenance")

        for (body, status, err) in [
            ("not json", 400, "invalid_request"), (#"{"status":"paused"}"#, 400, "invalid_request"),
            (#"{"stream_id":"\#(id)","status":"asleep"}"#, 400, "invalid_request"),
            (#"{"stream_id":"nope","status":"enabled"}"#, 404, "not_found"),
        ] {
            let answer = Self.call(endpoints, "POST", "/ssf/status", body: body)
            #expect(answer.status == status && answer.json?["err"] as? String == err, "\(body)")
        }
        #expect(streams.stream(id)?.status == .paused, "a refused request changes nothing")
        #expect(Self.call(endpoints, "GET", "/ssf/status?stream_id=nope").status == 404)
        #expect(Self.call(endpoints, "DELETE", "/ssf/status").status == 405)
    }

    @Test func verificationRequestsAreQueuedPerStream() async throws {
        let (endpoints, streams) = try await Self.endpoints()
        let id = SignalStreams.streamID(Self.receiver)
        #expect(Self.call(endpoints, "POST", "/ssf/verify", body: #"{"stream_id":"\#(id)","state":"a"}"#).status == 204)
        #expect(Self.call(endpoints, "POST", "/ssf/verify", body: #"{"stream_id":"\#(id)"}"#).status == 204)
        #expect(Self.call(endpoints, "POST", "/ssf/verify", body: #"{"stream_id":"other"}"#).status == 404)
        #expect(streams.takeVerifications(of: id) == ["a", nil])
        #expect(streams.takeVerifications(of: id).isEmpty)
    }

    @Test func pushAnswersAreClassifiedPerRFC8935() {
        #expect(PushOutcome.classify(status: 202, body: []) == .delivered)
        #expect(PushOutcome.classify(status: 200, body: []) == .delivered)
        #expect(
            PushOutcome.classify(status: 400, body: Array(#"{"err":"invalid_issuer"}"#.utf8))
                == .rejected(reason: "invalid_issuer"))
        #expect(PushOutcome.classify(status: 400, body: Array("<html>".utf8)) == .rejected(reason: "HTTP 400"))
        #expect(PushOutcome.classify(status: 413, body: []) == .rejected(reason: "HTTP 413"))
        // Redirects are not followed (the credential stays with its host): a moved receiver is retried
        // and logged until the config is fixed, never dropped.
        for status in [301, 308, 401, 403, 404, 408, 429, 500, 502, 503, 599] {
            #expect(PushOutcome.classify(status: status, body: []) == .retry(reason: "HTTP \(status)"))
        }
        #expect(
            SignalEndpoints.constantTimeEqual([1, 2], [1, 2]) && !SignalEndpoints.constantTimeEqual([1, 2], [1, 3]))
        #expect(!SignalEndpoints.constantTimeEqual([1], [1, 2]))
    }
}
