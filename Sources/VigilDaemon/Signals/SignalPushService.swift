import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import VigilCore
import VigilKafka

/// The push transmitter (RFC 8935): reads the signed tokens back from `kafka.signals_topic` and POSTs each
/// one to every receiver of `ssf.receivers`. Each receiver has a consumer group of its own
/// (`<ssf.delivery.group_id>-<stream id>`), whose committed offset is what that receiver has been given:
/// a restart, a crash or a receiver outage loses nothing (delivery is at least once; receivers drop a
/// repeated `jti`), one receiver's outage never holds up another, and the input pipeline never waits on
/// HTTP. A receiver's tokens go out one at a time in partition order.
///
/// Answers: 2xx is delivered; 400 (with RFC 8935's `{"err": ...}`) and other 4xx but 401, 403, 404, 408
/// and 429 are permanent (logged with the receiver's reason, counted, not retried); 3xx (redirects are not
/// followed: the credential stays with the configured host), 401, 403, 404, 408, 429, 5xx, timeouts and
/// connection failures are retried with doubling delays from `ssf.delivery.retry_initial_delay` up to
/// `retry_max_delay`. A token older than `give_up_after` (by its Kafka timestamp: when it was produced) is
/// not pushed any more, logged and counted as expired: a receiver back from a long outage, or added
/// (its group starts at the topic's beginning), gets no stale revocations. A paused stream keeps its tokens;
/// a disabled one skips them. The consumers may wait up to a day between polls (a pause, a retry) without
/// leaving their group.
public struct SignalPushService: Service {
    private let settings: SignalTransmitterSettings
    private let consumerBase: KafkaConfiguration
    private let topic: String
    private let groupBase: String
    private let streams: SignalStreams
    private let signer: SecurityEventSigner
    private let issuer: String
    private let audience: [String]
    private let environment: [String: String]
    private let metrics: SignalPushMetrics
    private let logger: Logger

    /// `connection` holds the Kafka connection properties (secrets resolved); receivers' authorization
    /// references are resolved from `environment` when the service starts.
    public init(
        config: DaemonConfig, connection: KafkaConfiguration, streams: SignalStreams, signer: SecurityEventSigner,
        environment: [String: String], metrics: any MetricsFactory, logger: Logger
    ) {
        settings = config.signals
        consumerBase = connection.only(for: .consumer)
        topic = config.kafka.signalsTopic
        groupBase = config.signals.resolvedDeliveryGroupID(kafkaGroupID: config.kafka.groupID)
        self.streams = streams
        self.signer = signer
        issuer = config.core.ssf.issuer
        audience = config.core.ssf.audience
        self.environment = environment
        self.metrics = SignalPushMetrics(factory: metrics)
        self.logger = logger
    }

    /// Pushes until shut down gracefully or cancelled; a receiver whose authorization cannot be resolved
    /// stops the start (the config names an environment variable that is not set).
    public func run() async throws {
        let receivers = streams.streams
        guard !receivers.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        var authorizations: [String: String?] = [:]
        for stream in receivers {
            let reference = stream.receiver.authorization
            guard !reference.isEmpty else {
                authorizations[stream.id] = .some(nil)
                continue
            }
            guard let name = ConfigValues.environmentReference(reference), let value = environment[name] else {
                throw SignalPushError.missingAuthorization(url: stream.receiver.redactedURL, reference: reference)
            }
            authorizations[stream.id] = value
        }
        var configuration = HTTPClient.Configuration()
        // A receiver that redirects would get the credential sent on to wherever it points: refused.
        configuration.redirectConfiguration = .disallow
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let stop = StopFlag()
        let loops = receivers.map { stream in
            ReceiverPushLoop(
                stream: stream, authorization: authorizations[stream.id] ?? nil, settings: settings,
                consumer: consumerConfiguration(for: stream), topic: topic, streams: streams, signer: signer,
                issuer: issuer, audience: audience, client: client, metrics: metrics, stop: stop, logger: logger)
        }
        logger.info(
            "pushing security event tokens",
            metadata: ["receivers": "\(receivers.map(\.receiver.redactedURL))", "topic": "\(topic)"])
        do {
            // Cancellation too: when another service fails, the group cancels this one, and the threads
            // must stop for the process to end.
            try await withTaskCancellationOrGracefulShutdownHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for loop in loops {
                        group.addTask {
                            do {
                                try await onDedicatedThread(name: "vigil-ssf-push") { try loop.run() }
                            } catch {
                                // One receiver's failure ends every loop, so the service fails now, not
                                // when the others happen to stop.
                                stop.set()
                                throw error
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            } onCancelOrGracefulShutdown: {
                stop.set()
            }
        } catch {
            stop.set()
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }

    private func consumerConfiguration(for stream: SignalStreams.Stream) -> KafkaConfiguration {
        var consumer = consumerBase
        consumer["group.id"] = "\(groupBase)-\(stream.id)"
        consumer["auto.offset.reset"] = "earliest"
        // Stored offsets (each after its token is done) are committed in the background and at close.
        consumer["enable.auto.commit"] = "true"
        consumer["auto.commit.interval.ms"] = "1000"
        // A paused stream or a token being retried keeps the loop from polling: librdkafka's largest
        // interval keeps the member in its group meanwhile (heartbeats run on librdkafka's own thread).
        consumer["max.poll.interval.ms"] = "86400000"
        return consumer
    }
}

/// Why the push transmitter cannot start.
public enum SignalPushError: Error, CustomStringConvertible {
    /// A receiver's `authorization` names an environment variable that is not set; `url` is redacted.
    case missingAuthorization(url: String, reference: String)

    /// What to do.
    public var description: String {
        switch self {
        case .missingAuthorization(let url, let reference):
            "the authorization of receiver \(url) is \(reference), which is not set in the environment"
        }
    }
}

/// What one push attempt's answer means (RFC 8935 §2.3 and §2.4).
enum PushOutcome: Equatable {
    /// The receiver took the token.
    case delivered
    /// The receiver refused it for good: `reason` is its `err` (or the status), never retried.
    case rejected(reason: String)
    /// Try again later: a 5xx, 429, 408, an authentication the operator may still fix, or no answer.
    case retry(reason: String)

    /// The outcome of an answer with `status` and `body`.
    static func classify(status: Int, body: [UInt8]) -> PushOutcome {
        switch status {
        case 200..<300:
            return .delivered
        case 300..<400, 401, 403, 404, 408, 429, 500..<600:
            return .retry(reason: "HTTP \(status)")
        default:
            let object = (try? JSONSerialization.jsonObject(with: Data(body.prefix(4096)))) as? [String: Any]
            let code = (object?["err"] as? String).map { String($0.prefix(64)) } ?? "HTTP \(status)"
            return .rejected(reason: code)
        }
    }
}

/// The push transmitter's counters: `vigil_ssf_push_total{stream, outcome}` (delivered, rejected,
/// expired, skipped) and `vigil_ssf_push_retries_total{stream}`.
final class SignalPushMetrics: Sendable {
    private let factory: any MetricsFactory

    init(factory: any MetricsFactory) { self.factory = factory }

    func count(_ outcome: String, stream: String) {
        Counter(
            label: "vigil_ssf_push_total", dimensions: [("stream", stream), ("outcome", outcome)], factory: factory
        )
        .increment()
    }

    func retried(stream: String) {
        Counter(label: "vigil_ssf_push_retries_total", dimensions: [("stream", stream)], factory: factory).increment()
    }
}

/// One receiver's push loop, on a thread of its own (librdkafka's poll blocks; the HTTP call is waited
/// for there too, off every event loop).
final class ReceiverPushLoop: @unchecked Sendable {
    private let stream: SignalStreams.Stream
    private let authorization: String?
    private let settings: SignalTransmitterSettings
    private let consumerConfiguration: KafkaConfiguration
    private let topic: String
    private let streams: SignalStreams
    private let signer: SecurityEventSigner
    private let issuer: String
    private let audience: [String]
    private let client: HTTPClient
    private let metrics: SignalPushMetrics
    private let stop: StopFlag
    private let logger: Logger

    init(
        stream: SignalStreams.Stream, authorization: String?, settings: SignalTransmitterSettings,
        consumer: KafkaConfiguration, topic: String, streams: SignalStreams, signer: SecurityEventSigner,
        issuer: String, audience: [String], client: HTTPClient, metrics: SignalPushMetrics, stop: StopFlag,
        logger: Logger
    ) {
        self.audience = audience
        self.stream = stream
        self.authorization = authorization
        self.settings = settings
        consumerConfiguration = consumer
        self.topic = topic
        self.streams = streams
        self.signer = signer
        self.issuer = issuer
        self.client = client
        self.metrics = metrics
        self.stop = stop
        var logger = logger
        logger[metadataKey: "stream_id"] = "\(stream.id)"
        logger[metadataKey: "receiver"] = "\(stream.receiver.redactedURL)"
        self.logger = logger
    }

    func run() throws {
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        try consumer.subscribe(topics: [topic])
        defer { _ = try? consumer.close(timeout: .seconds(10)) }
        var pending: [KafkaMessage] = []
        while !stop.isSet {
            for state in streams.takeVerifications(of: stream.id) { pushVerification(state: state) }
            let status = streams.stream(stream.id)?.status ?? .enabled
            if status == .paused {
                wait(.milliseconds(100))
                continue
            }
            if pending.isEmpty {
                pending = try consumer.poll(maxMessages: 100, timeout: .milliseconds(100))
                pending.reverse()
            }
            guard let message = pending.popLast() else { continue }
            if status == .disabled {
                metrics.count("skipped", stream: stream.id)
            } else if !deliver(Array(message.value), offset: message.offset, producedAt: message.timestamp) {
                // Stopped mid-retry: the token stays uncommitted and goes out after the restart.
                break
            }
            try? consumer.storeOffset(topic: message.topic, partition: message.partition, offset: message.offset)
        }
    }

    /// Pushes one token until it is delivered, rejected or expired (older than `give_up_after`, by
    /// `producedAt`, milliseconds since 1970; without one, by the time of the first attempt); false when
    /// stopped before that.
    private func deliver(_ token: [UInt8], offset: Int64, producedAt: Int64?) -> Bool {
        let firstAttempt = Date().timeIntervalSince1970
        let born = producedAt.map { Double($0) / 1000 } ?? firstAttempt
        let giveUp = Double(settings.giveUpAfter.microseconds) / 1_000_000
        var delay = Duration.microseconds(settings.retryInitialDelay.microseconds)
        let maxDelay = Duration.microseconds(settings.retryMaxDelay.microseconds)
        var attempt = 1
        while !stop.isSet {
            if streams.stream(stream.id)?.status == .paused {
                wait(.milliseconds(100))
                continue
            }
            if Date().timeIntervalSince1970 - born >= giveUp {
                metrics.count("expired", stream: stream.id)
                logger.error(
                    "a security event token is older than ssf.delivery.give_up_after; it is not pushed",
                    metadata: ["attempts": "\(attempt - 1)", "offset": "\(offset)"])
                return true
            }
            switch post(token) {
            case .delivered:
                metrics.count("delivered", stream: stream.id)
                return true
            case .rejected(let reason):
                metrics.count("rejected", stream: stream.id)
                logger.error(
                    "the receiver refused a security event token; it is not sent again",
                    metadata: ["err": "\(reason)", "offset": "\(offset)"])
                return true
            case .retry(let reason):
                metrics.retried(stream: stream.id)
                logger.warning(
                    "pushing a security event token failed; retrying",
                    metadata: ["failure": "\(reason)", "attempt": "\(attempt)", "retry_in": "\(delay)"])
                wait(delay)
                delay = min(delay * 2, maxDelay)
                attempt += 1
            }
        }
        return false
    }

    /// One POST of `token`; never throws: no answer is a retry.
    private func post(_ token: [UInt8]) -> PushOutcome {
        do {
            var request = try HTTPClient.Request(url: stream.receiver.url, method: .POST)
            request.headers.add(name: "content-type", value: "application/secevent+jwt")
            request.headers.add(name: "accept", value: "application/json")
            if let authorization { request.headers.add(name: "authorization", value: authorization) }
            request.body = .bytes(token)
            let timeout = TimeAmount.microseconds(settings.pushTimeout.microseconds)
            // An answer is a status and at most a short error object: a larger body is refused, not buffered.
            let response = try client.execute(
                request: request, delegate: ResponseAccumulator(request: request, maxBodySize: 65_536),
                deadline: .now() + timeout
            ).futureResult.wait()
            let body = response.body.map { Array($0.readableBytesView) } ?? []
            return PushOutcome.classify(status: Int(response.status.code), body: body)
        } catch {
            return .retry(reason: "\(error)")
        }
    }

    /// Signs and pushes a verification event (SSF 1.0 §8.1.4) once, unless the stream is disabled; its
    /// outcome is only logged.
    private func pushVerification(state: String?) {
        guard streams.stream(stream.id)?.status != .disabled else {
            logger.notice("verification event not sent: the stream is disabled")
            return
        }
        let seconds = Int64(Date().timeIntervalSince1970)
        var event: [String: Any] = [:]
        if let state { event["state"] = state }
        var claims: [String: Any] = [
            "iss": issuer, "jti": UUID().uuidString.lowercased(), "iat": seconds,
            "sub_id": ["format": "opaque", "id": stream.id],
            "events": [SignalEndpoints.verificationEventURI: event],
        ]
        claims["aud"] = SignalEndpoints.audienceClaim(audience)
        guard let json = try? JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]),
            let token = try? signer.sign(claims: Array(json))
        else {
            logger.error("cannot sign a verification event")
            return
        }
        let outcome = post(token)
        logger.notice("verification event pushed", metadata: ["outcome": "\(outcome)"])
    }

    /// Sleeps `duration`, waking early when stopped.
    private func wait(_ duration: Duration) {
        let end = ContinuousClock.now + duration
        while !stop.isSet, ContinuousClock.now < end {
            Thread.sleep(forTimeInterval: min(0.05, (end - ContinuousClock.now).seconds))
        }
    }
}

extension Duration {
    /// Fractional seconds.
    fileprivate var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
