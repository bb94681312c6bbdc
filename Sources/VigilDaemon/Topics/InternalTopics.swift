import VigilCore
import VigilKafka

/// The topics Vigil keeps for itself, their names, and their setup at start: each is created when missing
/// and validated when present, before any partition is consumed.
///
/// - The repartition topics (`<group>-by-user`, `<group>-by-source`, `<group>-by-domain`,
///   `<group>-by-campaign`) carry events re-keyed for the user, source, domain and campaign stages. All have the same partition count N
///   (`topology.partitions`, or the largest input topic's): a record goes to partition
///   `murmur2(key) % N`, and stage partition p keeps its state in changelog partition p.
/// - The changelog (`state.changelog_topic`) holds every keyed stage's state, so it has N partitions too.
/// - The source-risk and campaigns topics (`<group>-source-risk`, `<group>-campaigns`) are the global
///   tables every instance reads whole.
///
/// A partition count is part of the layout: a repartition topic or a changelog with another count would
/// route records, or keep state, where the stage never looks, so a mismatch stops the start instead of
/// silently losing events or state. Existing topics are all checked before a missing one is created, so a
/// start that fails leaves no half-made layout behind.
///
/// Every call blocks for up to `state.admin_timeout` per request: run it off Swift's cooperative pool
/// (`onDedicatedThread`), like every `KafkaAdmin` call.
enum InternalTopics {
    /// What an internal topic is for: decides its name's suffix, its configuration and its checks.
    enum Role: String, Sendable, CaseIterable, CustomStringConvertible {
        /// Every decoded event, keyed by the normalised user id, for the user stage.
        case byUser = "by-user"
        /// Failed logins and reset requests with an address, keyed by source, for the source stage.
        case bySource = "by-source"
        /// Reset requests with an email domain, keyed by domain, for the domain stage.
        case byDomain = "by-domain"
        /// Failed logins and reset requests keyed by autonomous system and by tenant, for the campaign stage.
        case byCampaign = "by-campaign"
        /// The global source-risk table (compacted), published by the source stage, read by everyone.
        case sourceRisk = "source-risk"
        /// The global campaigns table (compacted), published by the campaign stage, read by everyone.
        case campaigns
        /// The keyed stages' state (compacted).
        case changelog

        /// Whether it is one of the repartition topics.
        var isRepartition: Bool { self == .byUser || self == .bySource || self == .byDomain || self == .byCampaign }

        /// Whether it is a global table every instance reads whole (one partition when Vigil creates it).
        var isGlobalTable: Bool { self == .sourceRisk || self == .campaigns }

        /// How messages name the topic: "changelog topic", "repartition topic", "source-risk topic".
        var description: String {
            switch self {
            case .changelog: "changelog topic"
            case .sourceRisk: "source-risk topic"
            case .campaigns: "campaigns topic"
            case .byUser, .bySource, .byDomain, .byCampaign: "repartition topic"
            }
        }

        /// The setting that names the topic.
        var setting: String {
            switch self {
            case .byUser: "topology.by_user_topic"
            case .bySource: "topology.by_source_topic"
            case .byDomain: "topology.by_domain_topic"
            case .byCampaign: "topology.by_campaign_topic"
            case .sourceRisk: "topology.source_risk_topic"
            case .campaigns: "topology.campaigns_topic"
            case .changelog: "state.changelog_topic"
            }
        }
    }

    /// The name of every internal topic, configured or derived from `kafka.group_id` (Kafka Streams'
    /// `<application.id>-<name>`), whether or not the deployment uses it.
    struct Names: Equatable, Sendable {
        /// `topology.by_user_topic`, or `<group>-by-user`.
        var byUser: String
        /// `topology.by_source_topic`, or `<group>-by-source`.
        var bySource: String
        /// `topology.by_domain_topic`, or `<group>-by-domain`.
        var byDomain: String
        /// `topology.by_campaign_topic`, or `<group>-by-campaign`.
        var byCampaign: String
        /// `topology.source_risk_topic`, or `<group>-source-risk`.
        var sourceRisk: String
        /// `topology.campaigns_topic`, or `<group>-campaigns`.
        var campaigns: String
        /// `state.changelog_topic`, or `<group>-state-changelog`.
        var changelog: String

        /// The names `config` gives.
        init(_ config: DaemonConfig) {
            self.init(
                groupID: config.kafka.groupID, topology: config.topology, changelogTopic: config.state.changelogTopic)
        }

        /// Each configured name when not empty, else derived from `groupID`.
        init(groupID: String, topology: TopologySettings = TopologySettings(), changelogTopic: String = "") {
            func name(_ configured: String, _ role: Role) -> String {
                configured.isEmpty ? "\(groupID)-\(role == .changelog ? "state-changelog" : role.rawValue)" : configured
            }
            byUser = name(topology.byUserTopic, .byUser)
            bySource = name(topology.bySourceTopic, .bySource)
            byDomain = name(topology.byDomainTopic, .byDomain)
            byCampaign = name(topology.byCampaignTopic, .byCampaign)
            sourceRisk = name(topology.sourceRiskTopic, .sourceRisk)
            campaigns = name(topology.campaignsTopic, .campaigns)
            changelog = name(changelogTopic, .changelog)
        }

        /// The topic of `role`.
        subscript(role: Role) -> String {
            switch role {
            case .byUser: byUser
            case .bySource: bySource
            case .byDomain: byDomain
            case .byCampaign: byCampaign
            case .sourceRisk: sourceRisk
            case .campaigns: campaigns
            case .changelog: changelog
            }
        }
    }

    /// The topics `config` uses, changelog first (its checks matter most): no by-user topic with
    /// `input.keyed_by_user` (input partitions go to the user stage directly), no changelog with
    /// `state.changelog` off, no campaign topics with `engine.campaigns.enabled` off.
    static func roles(for config: DaemonConfig) -> [Role] {
        (config.state.changelog ? [.changelog] : []) + (config.topology.inputKeyedByUser ? [] : [.byUser])
            + [.bySource, .byDomain] + (config.engine.campaigns.enabled ? [.byCampaign] : []) + [.sourceRisk]
            + (config.engine.campaigns.enabled ? [.campaigns] : [])
    }

    /// Partitions of a source-risk topic Vigil creates. Every instance reads the whole table, so more
    /// partitions would speed up no reader; one keeps all facts in one order, and, not following N, a
    /// change of `topology.partitions` never moves a source's fact to another partition (where its older
    /// fact would stay behind, uncompacted). An existing topic with more partitions is used as it is: the
    /// source stage routes each fact by `murmur2(key) % partitions`.
    static let sourceRiskPartitions = 1

    /// Where N came from, for messages.
    enum PartitionCountOrigin: Equatable, Sendable {
        /// `topology.partitions` was 0: the largest input topic's count.
        case largestInputTopic
        /// `topology.partitions` set it.
        case configured
    }

    /// What `ensure` found or did, for the start-up log.
    enum Outcome: Equatable, Sendable {
        /// The topic existed with the expected partition count (and, when checked, configuration).
        case existing(verifiedConfiguration: Bool)
        /// The topic was missing and has been created.
        case created
    }

    /// One internal topic in use, once `setUp` has checked or created it.
    struct Topic: Equatable, Sendable {
        /// Its name.
        var name: String
        /// Its partition count: N, except for a source-risk topic that already existed with another.
        var partitions: Int
        /// Whether it existed (and was verified) or was created.
        var outcome: Outcome
    }

    /// Everything the stages need to know about the topics, once all of them are checked or created.
    struct Prepared: Equatable, Sendable {
        /// N: the partition count of every repartition topic and of the changelog.
        var partitions: Int
        /// Whether N was configured or taken from the input topics.
        var partitionsOrigin: PartitionCountOrigin
        /// Each input topic's partition count.
        var inputPartitions: [String: Int]
        /// Every internal topic in use (see `roles(for:)`), by role.
        var topics: [Role: Topic]

        /// The by-user repartition topic; nil with `input.keyed_by_user`.
        var byUser: Topic? { topics[.byUser] }
        /// The by-source repartition topic.
        var bySource: Topic? { topics[.bySource] }
        /// The by-domain repartition topic.
        var byDomain: Topic? { topics[.byDomain] }
        /// The by-campaign repartition topic; nil without campaign detection.
        var byCampaign: Topic? { topics[.byCampaign] }
        /// The source-risk topic (the global table).
        var sourceRisk: Topic? { topics[.sourceRisk] }
        /// The campaigns topic (the global table); nil without campaign detection.
        var campaigns: Topic? { topics[.campaigns] }
        /// The changelog; nil with `state.changelog` off.
        var changelog: Topic? { topics[.changelog] }
    }

    /// The whole check at start for `config`: reads the input topics' partition counts and chooses N,
    /// checks every internal topic that exists, then creates the missing ones. Each request is bounded by
    /// `state.admin_timeout`; the first problem stops the start.
    static func setUp(admin: KafkaAdmin, config: DaemonConfig) throws(InternalTopicError) -> Prepared {
        let settings = config.state
        let timeout = Duration.microseconds(settings.adminTimeout.microseconds)
        var inputPartitions: [String: Int] = [:]
        for topic in config.kafka.inputTopics {
            guard let count = try partitionCount(admin: admin, topic: topic, timeout: timeout) else {
                throw .inputTopicMissing(topic: topic)
            }
            inputPartitions[topic] = count
        }
        let configured = config.topology.partitions
        let origin: PartitionCountOrigin = configured > 0 ? .configured : .largestInputTopic
        let partitions = configured > 0 ? configured : inputPartitions.values.max() ?? 0
        if config.topology.inputKeyedByUser {
            for topic in config.kafka.inputTopics where inputPartitions[topic] != partitions {
                throw .keyedInputNotCoPartitioned(
                    topic: topic, partitions: inputPartitions[topic] ?? 0, expected: partitions, origin: origin)
            }
        }
        let names = Names(config)
        var topics: [Role: Topic] = [:]
        var missing: [Role] = []
        for role in roles(for: config) {
            let name = names[role]
            if let found = try partitionCount(admin: admin, topic: name, timeout: timeout) {
                topics[role] = try validate(
                    role: role, admin: admin, topic: name, found: found, expected: partitions, origin: origin,
                    config: config)
            } else {
                missing.append(role)
            }
        }
        for role in missing {
            topics[role] = try create(
                role: role, admin: admin, topic: names[role], partitions: partitions, origin: origin, config: config)
        }
        return Prepared(
            partitions: partitions, partitionsOrigin: origin, inputPartitions: inputPartitions, topics: topics)
    }

    /// How a topic of `role` is created: repartition topics delete by time (`topology.repartition_retention`),
    /// the changelog and the source-risk table compact.
    static func specification(
        role: Role, topic: String, partitions: Int, config: DaemonConfig
    ) -> KafkaTopicSpecification {
        let replicationFactor = config.state.replicationFactor
        switch role {
        case .changelog:
            return .compacted(name: topic, partitions: partitions, replicationFactor: replicationFactor)
        case .sourceRisk, .campaigns:
            return .compacted(name: topic, partitions: sourceRiskPartitions, replicationFactor: replicationFactor)
        case .byUser, .bySource, .byDomain, .byCampaign:
            let retention = config.topology.repartitionRetention.microseconds / 1000
            return KafkaTopicSpecification(
                name: topic, partitions: partitions, replicationFactor: replicationFactor,
                properties: [("cleanup.policy", "delete"), ("retention.ms", "\(retention)")])
        }
    }

    /// Creates every internal topic `config` uses on a mock cluster, which answers no CreateTopics: what
    /// `vigil demo` and the tests do in place of an operator. Repartition topics get `partitions`, the
    /// changelog `changelogPartitions` (default `partitions`), the source-risk topic its own count.
    static func create(
        on cluster: MockKafkaCluster, config: DaemonConfig, partitions: Int, changelogPartitions: Int? = nil
    ) throws(KafkaError) {
        let names = Names(config)
        for role in roles(for: config) {
            let count =
                switch role {
                case .sourceRisk, .campaigns: sourceRiskPartitions
                case .changelog: changelogPartitions ?? partitions
                case .byUser, .bySource, .byDomain, .byCampaign: partitions
                }
            try cluster.createTopic(names[role], partitions: count)
        }
    }

    /// Why a librdkafka property would break what the internal topics rely on, or nil. Records of one
    /// partition must arrive in order and stay once acknowledged: a stage applies a repartition topic's
    /// events in their order, and a restore trusts a changelog checkpoint only after the records before it;
    /// either record's input offset is committed on its acknowledgement. Without idempotence, retries can
    /// reorder them; with `acks` below all, a leader failover can lose an acknowledged record after its
    /// input offset was committed; `acks=0` reports no offset at all.
    static func weakenedGuarantee(_ property: String, _ value: String) -> String? {
        let normalized = value.filter { $0 != " " }.lowercased()
        switch property {
        case "enable.idempotence" where normalized != "true":
            return "must stay true (repartition and changelog records must not be reordered), got \(value)"
        case "acks", "request.required.acks":
            guard normalized != "all", normalized != "-1" else { return nil }
            return "must stay all (an acknowledged repartition or changelog record must survive a leader failover), "
                + "got \(value)"
        default:
            return nil
        }
    }

    private static func partitionCount(
        admin: KafkaAdmin, topic: String, timeout: Duration
    ) throws(InternalTopicError) -> Int? {
        do throws(KafkaError) {
            return try admin.partitionCount(of: topic, timeout: timeout)
        } catch {
            throw .metadataFailed(topic: topic, cause: error)
        }
    }

    /// Creates a missing topic. A creation race lost to another instance is not an error: the topic the
    /// other one created is validated instead.
    private static func create(
        role: Role, admin: KafkaAdmin, topic: String, partitions: Int, origin: PartitionCountOrigin,
        config: DaemonConfig
    ) throws(InternalTopicError) -> Topic {
        let timeout = Duration.microseconds(config.state.adminTimeout.microseconds)
        let specification = specification(role: role, topic: topic, partitions: partitions, config: config)
        do throws(KafkaError) {
            try admin.createTopic(specification, timeout: timeout)
            return Topic(name: topic, partitions: specification.partitions, outcome: .created)
        } catch {
            guard case .topicRequestFailed(_, _, let code, _) = error, code == .topicAlreadyExists,
                let existing = try partitionCount(admin: admin, topic: topic, timeout: timeout)
            else { throw .creationFailed(role: role, specification: specification, cause: error) }
            return try validate(
                role: role, admin: admin, topic: topic, found: existing, expected: partitions, origin: origin,
                config: config)
        }
    }

    private static func validate(
        role: Role, admin: KafkaAdmin, topic: String, found: Int, expected: Int, origin: PartitionCountOrigin,
        config: DaemonConfig
    ) throws(InternalTopicError) -> Topic {
        guard role.isGlobalTable || found == expected else {
            throw .partitionCountMismatch(role: role, topic: topic, found: found, expected: expected, origin: origin)
        }
        guard config.state.verifyTopicConfig else {
            return Topic(name: topic, partitions: found, outcome: .existing(verifiedConfiguration: false))
        }
        let configuration: [String: String]
        do throws(KafkaError) {
            configuration = try admin.topicConfiguration(
                of: topic, timeout: .microseconds(config.state.adminTimeout.microseconds))
        } catch {
            throw .configurationUnverifiable(role: role, topic: topic, cause: error)
        }
        if let problem = configurationProblem(
            role: role, topic: topic, configuration: configuration, settings: config.state)
        {
            throw problem
        }
        return Topic(name: topic, partitions: found, outcome: .existing(verifiedConfiguration: true))
    }

    /// What is wrong with an existing topic's configuration, or nil. A repartition topic must not compact
    /// (compaction keeps one record per key: a user's earlier events, not yet processed, would be dropped).
    /// The changelog and the source-risk table must compact and must not also delete by time; the
    /// changelog must also keep tombstones longer than a local snapshot may be old.
    static func configurationProblem(
        role: Role, topic: String, configuration: [String: String], settings: StateSettings
    ) -> InternalTopicError? {
        let policy = configuration["cleanup.policy"] ?? ""
        let policies = policy.split(separator: ",").map { $0.filter { $0 != " " } }
        guard !role.isRepartition else {
            return policies.contains("compact") ? .repartitionCompacted(topic: topic, cleanupPolicy: policy) : nil
        }
        guard policies.contains("compact") else {
            return .notCompacted(role: role, topic: topic, cleanupPolicy: policy)
        }
        // compact,delete also deletes by time: the state of users not seen within retention.ms would go.
        if policies.contains("delete"), let retention = configuration["retention.ms"], retention != "-1" {
            return .deletesByTime(role: role, topic: topic, retentionMilliseconds: retention)
        }
        let maxAge = settings.snapshotMaxAge.microseconds / 1000
        if role == .changelog, settings.snapshotInterval != .seconds(0),
            let text = configuration["delete.retention.ms"], let tombstoneRetention = Int64(text),
            tombstoneRetention <= maxAge
        {
            return .tombstonesOutliveNoSnapshot(
                topic: topic, deleteRetentionMilliseconds: tombstoneRetention, snapshotMaxAge: settings.snapshotMaxAge)
        }
        return nil
    }
}
