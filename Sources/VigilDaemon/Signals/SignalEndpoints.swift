import Crypto
import Foundation
import VigilCore

/// The transmitter's HTTP side (SSF 1.0 §7 and §8, the minimum the CAEP interoperability profile asks
/// for), served on the admin listener:
///
/// - `GET /.well-known/ssf-configuration` (also under the issuer's path): the transmitter metadata.
/// - `GET /jwks.json`: the public keys the tokens verify with.
/// - `GET /ssf/stream[?stream_id=]`: the streams' configuration (one per receiver of `ssf.receivers`).
/// - `GET /ssf/status?stream_id=` and `POST /ssf/status` (`{"stream_id", "status", "reason"}`).
/// - `POST /ssf/verify` (`{"stream_id", "state"}`): a verification event is pushed to that receiver.
///
/// The metadata and the keys are public; the stream endpoints need `Authorization: Bearer <token>` with
/// the token from `ssf.management_token_env`, and answer 404 when none is configured. The listener is
/// loopback by default: receivers reach these through the operator's TLS-terminating proxy, at the
/// issuer URL.
public struct SignalEndpoints: Sendable {
    let signer: SecurityEventSigner
    let streams: SignalStreams
    let issuer: String
    let audience: [String]
    let eventsDelivered: [String]
    /// SHA-256 of the management token; nil: stream management is off.
    private let tokenDigest: [UInt8]?

    /// Endpoints for `config`'s issuer and events, signing keys from `signer`; `managementToken` is the
    /// resolved bearer token (nil: stream management off).
    public init(config: DaemonConfig, signer: SecurityEventSigner, streams: SignalStreams, managementToken: String?) {
        self.signer = signer
        self.streams = streams
        issuer = config.core.ssf.issuer
        audience = config.core.ssf.audience
        let ssf = config.core.ssf
        eventsDelivered = SecurityEventType.allCases.filter { type in
            switch type {
            case .sessionRevoked: ssf.sessionRevoked
            case .riskLevelChange: ssf.riskLevelChange
            case .credentialCompromise: ssf.credentialCompromise
            case .accountCredentialChangeRequired: ssf.credentialChangeRequired
            }
        }.map(\.uri)
        tokenDigest = managementToken.map { Array(SHA256.hash(data: Array($0.utf8))) }
    }

    /// The largest request body accepted (a status change or a verification request).
    static let maxBodyBytes = 4096

    /// The verification event's type URI (SSF 1.0 §8.1.4).
    static let verificationEventURI = "https://schemas.openid.net/secevent/ssf/event-type/verification"
    /// RFC 8935 push delivery.
    static let pushDeliveryMethod = "urn:ietf:rfc:8935"

    /// Whether `path` is one of these endpoints, so the listener routes it here.
    func handles(_ path: Substring) -> Bool {
        path == "/jwks.json" || path.hasPrefix("/.well-known/ssf-configuration") || path.hasPrefix("/ssf/")
    }

    /// Whether a request to `path` with `method` may carry a body.
    static func acceptsBody(method: String, path: Substring) -> Bool {
        method == "POST" && (path == "/ssf/status" || path == "/ssf/verify")
    }

    /// The answer to one request.
    func respond(
        method: String, path: Substring, query: Substring, authorization: String?, body: [UInt8]
    ) -> AdminHTTPHandler.Response {
        if path.hasPrefix("/.well-known/ssf-configuration") || path == "/jwks.json" {
            guard method == "GET" || method == "HEAD" else { return Self.methodNotAllowed("GET, HEAD") }
            guard path == "/jwks.json" || path == "/.well-known/ssf-configuration" + issuerPath else {
                return Self.notFound
            }
            return path == "/jwks.json"
                ? Self.json(.ok, String(decoding: signer.jwks, as: UTF8.self), contentType: "application/jwk-set+json")
                : Self.json(.ok, configuration)
        }
        guard let tokenDigest else { return Self.notFound }
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        guard let authorization, authorization.prefix(7).lowercased() == "bearer ",
            Self.constantTimeEqual(Array(SHA256.hash(data: Array(authorization.dropFirst(7).utf8))), tokenDigest)
        else {
            var response = Self.error(.unauthorized, "authentication_failed", "a valid bearer token is required")
            response.headers.append(("www-authenticate", "Bearer"))
            return response
        }
        let streamID = Self.queryValue("stream_id", in: query)
        switch (method, path) {
        case ("GET", "/ssf/stream"):
            if let streamID {
                guard let stream = streams.stream(streamID) else { return Self.unknownStream }
                return Self.json(.ok, Self.encode(configuration(of: stream)))
            }
            return Self.json(.ok, Self.encode(streams.streams.map(configuration(of:))))
        case ("GET", "/ssf/status"):
            guard let stream = streamID.flatMap(streams.stream) ?? soleStream(when: streamID == nil) else {
                return Self.unknownStream
            }
            return Self.json(.ok, Self.encode(statusObject(stream)))
        case ("POST", "/ssf/status"):
            guard let request = Self.object(body) else { return Self.invalidRequest("the body must be a JSON object") }
            guard let id = request["stream_id"] as? String else { return Self.invalidRequest("stream_id is required") }
            guard let name = request["status"] as? String, let status = SignalStreams.Status(rawValue: name) else {
                return Self.invalidRequest("status must be enabled, paused or disabled")
            }
            let reason = request["reason"] as? String
            guard let stream = streams.setStatus(status, reason: reason.map { String($0.prefix(256)) }, of: id) else {
                return Self.unknownStream
            }
            return Self.json(.ok, Self.encode(statusObject(stream)))
        case ("POST", "/ssf/verify"):
            guard let request = Self.object(body) else { return Self.invalidRequest("the body must be a JSON object") }
            guard let id = request["stream_id"] as? String else { return Self.invalidRequest("stream_id is required") }
            let state = (request["state"] as? String).map { String($0.prefix(256)) }
            guard streams.requestVerification(of: id, state: state) else { return Self.unknownStream }
            return AdminHTTPHandler.Response(status: .noContent, body: "")
        case (_, "/ssf/stream"), (_, "/ssf/status"), (_, "/ssf/verify"):
            return Self.methodNotAllowed(path == "/ssf/verify" ? "POST" : path == "/ssf/stream" ? "GET" : "GET, POST")
        default:
            return Self.notFound
        }
    }

    /// The issuer URL's path ("" for a bare host): the metadata's well-known path ends with it.
    private var issuerPath: String {
        guard let path = URLComponents(string: issuer)?.path, path != "/" else { return "" }
        return path
    }

    /// The transmitter configuration metadata (SSF 1.0 §7.1).
    var configuration: String {
        let object: [String: Any] = [
            "spec_version": "1_0",
            "issuer": issuer,
            "jwks_uri": issuer + "/jwks.json",
            "delivery_methods_supported": [Self.pushDeliveryMethod],
            "configuration_endpoint": issuer + "/ssf/stream",
            "status_endpoint": issuer + "/ssf/status",
            "verification_endpoint": issuer + "/ssf/verify",
            "authorization_schemes": [["spec_urn": "urn:ietf:rfc:6750"]],
            "default_subjects": "ALL",
        ]
        return Self.encode(object)
    }

    private func configuration(of stream: SignalStreams.Stream) -> [String: Any] {
        var object: [String: Any] = [
            "stream_id": stream.id,
            "iss": issuer,
            "delivery": ["method": Self.pushDeliveryMethod, "endpoint_url": stream.receiver.url],
            "events_supported": SecurityEventType.allCases.map(\.uri) + [Self.verificationEventURI],
            "events_requested": eventsDelivered,
            "events_delivered": eventsDelivered,
            "description": "Vigil login-risk verdicts",
        ]
        object["aud"] = Self.audienceClaim(audience)
        return object
    }

    private func statusObject(_ stream: SignalStreams.Stream) -> [String: Any] {
        var object: [String: Any] = ["stream_id": stream.id, "status": stream.status.rawValue]
        if let reason = stream.reason { object["reason"] = reason }
        return object
    }

    private func soleStream(when unnamed: Bool) -> SignalStreams.Stream? {
        let all = streams.streams
        return unnamed && all.count == 1 ? all[0] : nil
    }

    private static func queryValue(_ name: String, in query: Substring) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, parts[0] == name { return String(parts[1]).removingPercentEncoding }
        }
        return nil
    }

    private static func object(_ body: [UInt8]) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
    }

    private static func encode(_ value: Any) -> String {
        let data =
            (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes]))
        return data.map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    private static func json(
        _ status: AdminHTTPHandler.Status, _ body: String, contentType: String = "application/json"
    ) -> AdminHTTPHandler.Response {
        AdminHTTPHandler.Response(status: status, body: body + "\n", contentType: contentType)
    }

    /// An error body as RFC 8935 and SSF write them: `{"err": ..., "description": ...}`.
    private static func error(
        _ status: AdminHTTPHandler.Status, _ code: String, _ description: String
    ) -> AdminHTTPHandler.Response {
        json(status, encode(["err": code, "description": description]))
    }

    private static func invalidRequest(_ description: String) -> AdminHTTPHandler.Response {
        error(.badRequest, "invalid_request", description)
    }

    private static let unknownStream = error(.notFound, "not_found", "no such stream_id")
    private static let notFound = AdminHTTPHandler.Response(status: .notFound, body: "not found\n")

    private static func methodNotAllowed(_ allow: String) -> AdminHTTPHandler.Response {
        AdminHTTPHandler.Response(status: .methodNotAllowed, body: "method not allowed\n", headers: [("allow", allow)])
    }

    /// `aud` as the tokens write it (`SecurityEventEncoder`): one string, a list, or nil (left out).
    static func audienceClaim(_ audience: [String]) -> Any? {
        switch audience.count {
        case 0: nil
        case 1: audience[0]
        default: audience
        }
    }

    /// Equal without returning early: the time taken says nothing about how much of a guess was right.
    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
        return difference == 0
    }
}
