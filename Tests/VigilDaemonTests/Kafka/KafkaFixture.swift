import Foundation
import VigilKafka
import VigilTestSupport

@testable import VigilDaemon

/// One mock cluster with Vigil's four topics and its internal topics (repartition, source-risk, changelog:
/// `InternalTopics.create`), and a config for `vigil run` pointing at it. The mock answers no admin request,
/// so the internal topics are created here, their policies are not checked, and the state directory is the
/// fixture's own.
struct KafkaFixture {
    let cluster: MockKafkaCluster
    let directory: URL
    let config: URL
    let metricsPort: Int
    /// librdkafka properties beyond (or instead of) the fixture's own `defaultProperties`.
    let properties: [String: String]
    /// `kafka.input_topics`, each created with the input's partition count.
    let inputTopics: [String]
    /// `state:` settings beyond the fixture's own (`changelog`, `dir`, `verify_topic_config: false`).
    let stateSettings: [String]

    /// `state.changelog`.
    let changelog: Bool

    /// The YAML appended to every instance's config.
    let extra: String

    /// The local snapshot directory of `vigil run` (not created: the daemon creates it).
    let stateDirectory: URL

    /// Every topic has `partitions` partitions (the internal ones: N, for the default group), except the
    /// outputs with `outputPartitions` (the mock keeps only about 5 MiB per partition, and a one-partition
    /// input can cause more output than that), the changelog with `changelogPartitions` (a wrong count, for
    /// a test) and the source-risk topic with its own (`InternalTopics.sourceRiskPartitions`). `stateDirectory` nil is `<directory>/state`.
    /// `brokers` above 1 lets a test move leaderships (`MockKafkaCluster.setPartitionLeader`);
    /// `changelog` false keeps state in the process only (`state.changelog`).
    init(
        name: String, partitions: Int = 2, outputPartitions: Int? = nil, changelogPartitions: Int? = nil,
        stateDirectory: URL? = nil, extra: String = "", properties: [String: String] = [:],
        inputTopics: [String] = ["auth.events"], stateSettings: [String] = [], brokers: Int = 1,
        changelog: Bool = true
    ) throws {
        self.properties = properties
        self.inputTopics = inputTopics
        self.stateSettings = stateSettings
        self.changelog = changelog
        self.extra = extra
        cluster = try MockKafkaCluster(brokers: brokers, logger: testLogger)
        for topic in inputTopics { try cluster.createTopic(topic, partitions: partitions) }
        for topic in ["auth.decisions", "auth.alerts", "auth.events.dlq", "auth.signals"] {
            try cluster.createTopic(topic, partitions: outputPartitions ?? partitions)
        }
        var topology = DaemonConfig()
        topology.kafka.inputTopics = inputTopics
        try InternalTopics.create(
            on: cluster, config: topology, partitions: partitions, changelogPartitions: changelogPartitions)
        directory = try TestPaths.temporaryDirectory(name)
        self.stateDirectory = stateDirectory ?? directory.appendingPathComponent("state")
        metricsPort = try freeLoopbackPort()
        config = directory.appendingPathComponent("vigil.yaml")
        try writeConfig(extra: extra)
    }

    /// (Re)writes the daemon's config with `extra` YAML appended.
    @discardableResult
    func writeConfig(extra: String) throws -> URL {
        try TestPaths.writeConfig(
            in: directory, anonymousDatabase: false,
            extra: yaml(extra: extra, metricsPort: metricsPort, stateDirectory: stateDirectory))
    }

    /// The config of another `vigil run` in the same group, in a directory of its own (the returned
    /// `directory`) with its own state directory and metrics port (instances never share a state.dir),
    /// and the fixture's `extra`.
    func secondInstance(_ name: String) throws -> (config: URL, directory: URL, metricsPort: Int) {
        let other = try TestPaths.temporaryDirectory(name)
        let port = try freeLoopbackPort()
        let config = try TestPaths.writeConfig(
            in: other, anonymousDatabase: false,
            extra: yaml(extra: extra, metricsPort: port, stateDirectory: other.appendingPathComponent("state")))
        return (config, other, port)
    }

    /// Fast group membership and commits, unless `properties` says otherwise.
    static let defaultProperties = [
        "session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "auto.commit.interval.ms": "500",
    ]

    /// `extra` for a test comparing a daemon's outputs with `vigil replay`'s, payload for payload: turns
    /// off `source_ip_spraying` and `campaign_active`, the signals that read the global tables (source
    /// risk, campaigns), which a daemon's user stage sees a propagation delay after replay does (README,
    /// "The pipeline").
    static let exactVerdicts = exactVerdicts(threads: nil)

    /// `exactVerdicts` with `engine.threads` set, when `threads` is given.
    static func exactVerdicts(threads: Int?) -> String {
        "engine:\n" + (threads.map { "  threads: \($0)\n" } ?? "")
            + "  signals:\n    source_ip_spraying:\n      enabled: false\n    campaign_active:\n      enabled: false"
    }

    /// The default changelog of the default group `vigil`.
    static let changelogTopic = "vigil-state-changelog"

    private func yaml(extra: String, metricsPort: Int, stateDirectory: URL) -> String {
        """
        kafka:
          bootstrap_servers: "\(cluster.bootstrapServers)"
          input_topics: [\(inputTopics.map { "\"\($0)\"" }.joined(separator: ", "))]
          shutdown_timeout: 10s
          properties:
        \(Self.defaultProperties.merging(properties) { $1 }.sorted { $0.key < $1.key }
            .map { "    \($0.key): \"\($0.value)\"" }.joined(separator: "\n"))
        state:
          changelog: \(changelog)
          dir: "\(stateDirectory.path)"
          verify_topic_config: false
        \(stateSettings.map { "  \($0)" }.joined(separator: "\n"))
        http:
          listen: "127.0.0.1:\(metricsPort)"
        logging:
          format: json
          level: info
        \(extra)
        """
    }

    var brokers: String { cluster.bootstrapServers }

    func decisions() throws -> [Kcat.Record] { try Kcat.consume(brokers, topic: "auth.decisions") }
    func alerts() throws -> [Kcat.Record] { try Kcat.consume(brokers, topic: "auth.alerts") }
    func deadLetters() throws -> [Kcat.Record] { try Kcat.consume(brokers, topic: "auth.events.dlq") }
    func signals() throws -> [Kcat.Record] { try Kcat.consume(brokers, topic: "auth.signals") }

    /// Waits until the decisions topic holds at least `count` decisions, failing at once if `daemon` exits.
    func waitForDecisions(_ count: Int, from daemon: DaemonProcess, _ what: String) async throws {
        try await waitUntil(what, timeout: .seconds(60)) {
            try daemon.requireRunning()
            return try decisions().count >= count
        }
    }
}
