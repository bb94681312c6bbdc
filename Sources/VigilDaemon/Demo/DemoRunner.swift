import Crypto
import Foundation
import Logging
import Synchronization
import VigilCore
import VigilKafka
import VigilWorkload
import _VigilMachinery

/// `vigil demo`: the real daemon composition against an in-process mock Kafka cluster, fed with
/// generated IdP traffic (attacks included), its outputs printed as they arrive. Nothing to install
/// or configure, and bounded in time.
public enum DemoRunner {
    /// What `vigil demo` runs; the defaults finish in seconds.
    public struct Options: Sendable {
        /// The configuration the daemon runs with; its Kafka servers are replaced by the mock cluster.
        public var configPath = "Examples/vigil.yaml"
        /// Distinct users in the generated traffic.
        public var users = 200
        /// Events to produce, attacks included.
        public var events = 3000
        /// Partitions of each mock topic, so the demo shows more than one shard.
        public var partitions = 2
        /// Seed of the traffic generator: the same seed gives the same events.
        public var seed: UInt64 = 1
        /// The demo stops after this even when outputs are missing.
        public var timeout = Duration.seconds(60)
        /// The traffic's wire format: Vigil's contract, or an identity provider's records (the input topic
        /// is then read as that format).
        public var format = InputFormat.vigil

        /// The defaults.
        public init() {}
    }

    /// What came out of a demo run.
    public struct Summary: Sendable {
        var eventsProduced = 0
        /// Decisions received, by action.
        public var decisions: [String: Int] = [:]
        /// Alerts received, by kind.
        public var alerts: [String: Int] = [:]
        /// Dead letters received.
        public var deadLetters = 0
        /// Security event tokens received, by event type.
        public var signals: [String: Int] = [:]
        /// False when the timeout or a stop (Ctrl-C) ended the demo before every event was answered.
        public var complete = false
        /// The daemon stopped (Ctrl-C, SIGTERM, or an error) before the demo was done.
        public var daemonStopped = false

        /// The summary as printed at the end of `vigil demo`.
        public var text: String {
            func list(_ counts: [String: Int]) -> String {
                counts.isEmpty
                    ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            }
            return """
                events produced: \(eventsProduced)
                decisions:       \(decisions.values.reduce(0, +)) (\(list(decisions)))
                alerts:          \(alerts.values.reduce(0, +)) (\(list(alerts)))
                signals:         \(signals.values.reduce(0, +)) (\(list(signals)))
                dead letters:    \(deadLetters)\(complete ? "" : daemonStopped ? "\n(stopped before every event was answered)" : "\n(timed out before every event was answered)")
                """
        }
    }

    /// Starts a mock cluster and the daemon, produces the traffic, passes each output line to `output`
    /// and returns when every event is answered, the timeout passes or the daemon stops.
    public static func run(
        options: Options, environment: [String: String], logger: Logger,
        output: @escaping @Sendable (String) -> Void
    ) async throws -> Summary {
        var loaded = try ConfigLoader.load(path: options.configPath)
        let kafka = loaded.config.kafka
        if !kafka.bootstrapServers.isEmpty {
            output("note: the demo ignores kafka.bootstrap_servers and uses an in-process mock cluster")
        }
        if environment[loaded.config.security.deviceHashKeyEnv]?.isEmpty ?? true {
            output(
                """
                note: \(loaded.config.security.deviceHashKeyEnv) is not set; device ids are hashed with the public \
                demo key
                """
            )
        }
        let cluster = try MockKafkaCluster(logger: logger)
        for topic in kafka.inputTopics + [
            kafka.decisionsTopic, kafka.alertsTopic, kafka.deadLetterTopic, kafka.signalsTopic,
        ] {
            try cluster.createTopic(topic, partitions: options.partitions)
        }
        // Internal topics and durable state as in production, on the mock cluster and in a directory of its
        // own: the mock answers no admin request, so the topics are made here and their policies not checked.
        let stateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vigil-demo-state-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: .min ... .max))")
        defer { try? FileManager.default.removeItem(at: stateDirectory) }
        try InternalTopics.create(
            on: cluster, config: loaded.config,
            partitions: loaded.config.topology.partitions > 0 ? loaded.config.topology.partitions : options.partitions)
        loaded.config.state.verifyTopicConfig = false
        if options.format != .vigil { loaded.config.inputFormats[kafka.inputTopics[0]] = options.format }
        if options.format == .keycloak, loaded.config.core.engine.verification.required {
            loaded.config.core.engine.verification.required = false
            output("Keycloak events carry no MFA results: verified learning is off for the demo")
        }
        if loaded.config.state.changelog { loaded.config.state.directory = stateDirectory.path }
        if loaded.config.signals.signingKeys.isEmpty {
            // Shared Signals on, signed with a key made for this run only (receivers are the config's).
            try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
            let key = stateDirectory.appendingPathComponent("demo-signing-key.pem")
            try Data(P256.Signing.PrivateKey().pemRepresentation.utf8).write(to: key)
            loaded.config.signals.signingKeys = [SigningKeyFile(path: key.path, algorithm: .es256)]
            loaded.config.core.ssf.enabled = true
            output("Shared Signals on for the demo: tokens signed with a throwaway ES256 key")
        }
        output("mock Kafka cluster at \(cluster.bootstrapServers), \(options.partitions) partitions per topic")

        var daemonOptions = Daemon.Options()
        daemonOptions.bootstrapServers = cluster.bootstrapServers
        daemonOptions.allowPublicDeviceKey = true
        let status = daemonOptions.status
        let daemon = Task { [daemonOptions, loaded] in
            try await Daemon.run(
                loaded: loaded, environment: environment, logger: logger, options: daemonOptions)
        }
        // The daemon owns SIGINT/SIGTERM: when it stops, the demo's producer and viewer stop too.
        let daemonStopped = StopFlag()
        Task {
            _ = await daemon.result
            daemonStopped.set()
        }
        let summary: Summary
        do {
            // Kafka clients block, so the demo's producer and viewer run on a thread of their own.
            summary = try await onDedicatedThread(name: "vigil-demo") {
                try drive(
                    options: options, kafka: kafka, cluster: cluster, status: status, stop: daemonStopped,
                    logger: logger,
                    output: output)
            }
        } catch {
            daemon.cancel()
            _ = await daemon.result
            throw error
        }
        // Cancelling the daemon makes its Kafka loop drain, commit and leave like a graceful shutdown.
        daemon.cancel()
        if case .failure(let error) = await daemon.result, !(error is CancellationError) {
            output("daemon: \(error)")
        }
        withExtendedLifetime(cluster) {}
        return summary
    }

    private static func drive(
        options: Options, kafka: KafkaSettings, cluster: MockKafkaCluster, status: DaemonStatus, stop: StopFlag,
        logger: Logger, output: @Sendable (String) -> Void
    ) throws -> Summary {
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(["bootstrap.servers": cluster.bootstrapServers, "linger.ms": "5"]),
            logger: logger)
        let viewer = try KafkaConsumer(
            configuration: KafkaConfiguration([
                "bootstrap.servers": cluster.bootstrapServers, "group.id": "vigil-demo-viewer",
                "auto.offset.reset": "earliest",
            ]), logger: logger)
        try viewer.subscribe(topics: [
            kafka.decisionsTopic, kafka.alertsTopic, kafka.deadLetterTopic, kafka.signalsTopic,
        ])

        var summary = Summary()
        var configuration = WorkloadConfiguration()
        configuration.seed = options.seed
        configuration.users = options.users
        configuration.malformedRate = 0.002
        configuration.format = options.format
        // Two seconds between events on average: 3000 events span about 100 minutes of event time,
        // long enough for every attack story (the slowest takes half an hour) to play out.
        configuration.meanGap = EventDuration(microseconds: 2_000_000)
        var generator = TrafficGenerator(configuration: configuration, pool: .maxMindTestCity)
        // One of each attack story, spread over the stream.
        let attacks: [AttackKind] = [.pushBombing, .impossibleTravel, .passwordResetWave, .credentialStuffing]
        let spacing = max(1, options.events / (attacks.count + 1))
        for index in 0..<options.events where !stop.isSet {
            if index % spacing == 0, index / spacing >= 1, index / spacing <= attacks.count {
                generator.inject(attacks[index / spacing - 1])
            }
            let event = generator.nextEvent()
            try producer.produce(topic: kafka.inputTopics[0], key: event.key.map { Array($0.utf8) }, value: event.bytes)
            if index % 500 == 499 { _ = try producer.poll() }
        }
        _ = producer.flush(timeout: .seconds(10))
        summary.eventsProduced = generator.count
        output("produced \(generator.count) events for \(options.users) users to \(kafka.inputTopics[0]); outputs:")

        let deadline = ContinuousClock.now + options.timeout
        var received = 0
        // When the counts last said "done": the stages answer a while after the decode stage read
        // everything, so the demo ends only once no output came for `settle`.
        var doneSince: ContinuousClock.Instant?
        let settle = Duration.seconds(1)
        while ContinuousClock.now < deadline {
            if stop.isSet {
                summary.daemonStopped = true
                break
            }
            for message in try viewer.poll(maxMessages: 500, timeout: .milliseconds(100)) {
                received += 1
                doneSince = nil
                let json = (try? JSONSerialization.jsonObject(with: Data(message.value))) as? [String: Any] ?? [:]
                switch message.topic {
                case kafka.decisionsTopic:
                    let action = json["action"] as? String ?? "?"
                    summary.decisions[action, default: 0] += 1
                    output(describeDecision(json))
                case kafka.signalsTopic:
                    let line = describeSignal(Array(message.value))
                    summary.signals[line.type, default: 0] += 1
                    output(line.text)
                case kafka.alertsTopic:
                    let analytic = (json["finding_info"] as? [String: Any])?["analytic"] as? [String: Any]
                    let kind = analytic?["name"] as? String ?? "?"
                    summary.alerts[kind, default: 0] += 1
                    output("ALERT    \(kind): \(json["message"] as? String ?? "")")
                default:
                    summary.deadLetters += 1
                    let reason = message.headers.first { $0.name == "vigil-reason" }?.value.map {
                        String(decoding: $0, as: UTF8.self)
                    }
                    output("DEAD     \(reason ?? "?") (offset \(message.offset))")
                }
            }
            // Done once the daemon read every event, each output it counted reached the viewer, and
            // nothing more came for `settle` (records still between stages make more outputs).
            let stats = status.snapshot.stats
            let expected =
                stats.decisions.reduce(0, +) + stats.alerts.reduce(0, +) + stats.deadLetterTotal
                + stats.signals.reduce(0, +)
            if stats.eventsRead >= summary.eventsProduced, received >= expected {
                let since = doneSince ?? ContinuousClock.now
                doneSince = since
                if ContinuousClock.now - since >= settle {
                    summary.complete = true
                    break
                }
            } else {
                doneSince = nil
            }
        }
        try? viewer.close()
        return summary
    }

    /// A signed token as one line: its event type, subject and level change, read from the JWS payload
    /// (the signature is the receivers' to check).
    static func describeSignal(_ token: [UInt8]) -> (type: String, text: String) {
        let parts = token.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let payload = parts.count == 3 ? Base64URL.decode(parts[1]) : nil
        let claims =
            payload.flatMap { try? JSONSerialization.jsonObject(with: Data($0)) } as? [String: Any] ?? [:]
        let (uri, body) = (claims["events"] as? [String: Any])?.first ?? ("?", [:])
        let type = uri.split(separator: "/").last.map(String.init) ?? "?"
        var subject = claims["sub_id"] as? [String: Any] ?? [:]
        if let user = subject["user"] as? [String: Any] { subject = user }
        let who = subject["email"] ?? subject["sub"] ?? subject["id"] ?? "?"
        var text = "SIGNAL   \(type.padding(toLength: 20, withPad: " ", startingAt: 0)) user=\(who)"
        if let levels = body as? [String: Any], let current = levels["current_level"] {
            text += " \(levels["previous_level"] ?? "?")→\(current)"
        }
        return (type, text + " (\(token.count)-byte JWS)")
    }

    private static func describeDecision(_ json: [String: Any]) -> String {
        let risk = json["risk"] as? [String: Any]
        let reasons = (risk?["reasons"] as? [[String: Any]] ?? []).compactMap { $0["signal"] as? String }
        let action = (json["action"] as? String ?? "?").padding(toLength: 12, withPad: " ", startingAt: 0)
        return "DECISION \(action) score=\(risk?["score"] ?? "?") user=\(json["user_id"] as? String ?? "?")"
            + (reasons.isEmpty ? "" : " reasons=\(reasons.joined(separator: ","))")
    }
}
