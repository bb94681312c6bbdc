import Foundation
import VigilCore

/// The daemon's part of the `ssf` section (the engine's, which verdicts become tokens, is
/// `SharedSignalSettings`): the keys that sign the tokens, the receivers they are pushed to, how the
/// push transmitter retries, and the token that protects stream management. Secrets stay out of the file:
/// key files are paths, receiver credentials `${env:NAME}` references.
public struct SignalTransmitterSettings: Sendable, Equatable {
    /// PEM private keys in the order they were introduced; the last one signs, all are published in the
    /// JWKS so that tokens signed before a rotation still verify.
    public var signingKeys: [SigningKeyFile] = []
    /// Where tokens are pushed (RFC 8935); empty: tokens only go to the signals topic.
    public var receivers: [SignalReceiver] = []
    /// The push transmitter's consumer group on the signals topic; empty: `<kafka.group_id>-ssf-push`.
    public var deliveryGroupID = ""
    /// One push attempt's deadline (connect, send, answer).
    public var pushTimeout = EventDuration.seconds(10)
    /// The first retry's delay after a 5xx, a 429 or a network failure; doubled per attempt.
    public var retryInitialDelay = EventDuration.seconds(1)
    /// The longest delay between two attempts.
    public var retryMaxDelay = EventDuration.minutes(5)
    /// A token produced longer ago than this is not pushed any more (logged and counted as expired): a
    /// receiver back from a longer outage, or newly added, gets no stale revocations.
    public var giveUpAfter = EventDuration.hours(1)
    /// Environment variable holding the bearer token of the stream management endpoints; empty: those
    /// endpoints answer 404.
    public var managementTokenEnv = ""

    /// The documented defaults.
    public init() {}

    /// `delivery_group_id` resolved against the input's consumer group.
    func resolvedDeliveryGroupID(kafkaGroupID: String) -> String {
        deliveryGroupID.isEmpty ? kafkaGroupID + "-ssf-push" : deliveryGroupID
    }
}

/// One signing key: a PEM file and the JWS algorithm it signs with.
public struct SigningKeyFile: Sendable, Equatable {
    /// RS256 (RSA, 2048 bits or more; what Okta accepts) or ES256 (P-256).
    public enum Algorithm: String, Sendable, CaseIterable {
        case rs256 = "RS256"
        case es256 = "ES256"
    }
    /// The PEM file of the private key (PKCS#8 or the algorithm's own form).
    public var path: String
    /// How it signs.
    public var algorithm: Algorithm

    /// The key in `path`, signing with `algorithm`.
    public init(path: String, algorithm: Algorithm) {
        self.path = path
        self.algorithm = algorithm
    }
}

/// One push receiver (RFC 8935).
public struct SignalReceiver: Sendable, Equatable {
    /// The receiver's push endpoint (Okta: https://<org>.okta.com/security/api/v1/security-events).
    public var url: String
    /// The Authorization header's value as a `${env:NAME}` reference, or empty for none.
    public var authorization: String

    /// The URL as logs show it (`ConfigValues.redactedURL`).
    public var redactedURL: String { ConfigValues.redactedURL(url) }

    /// A receiver at `url` sent `authorization` (a reference, or empty).
    public init(url: String, authorization: String) {
        self.url = url
        self.authorization = authorization
    }
}
