/// The whole effective configuration: one YAML file, every key optional with a documented default
/// (see `Examples/vigil.yaml`). Immutable once built; a reload builds a new one and swaps it.
/// `validate()` holds its rules, `canonicalYAML` and `policyVersion` identify it; the YAML key of each
/// property is its snake_case name under its section (`engine.signals.new_device.points`).
public struct VigilConfig: Sendable, Equatable {
    public var geo = GeoSettings()
    public var reputation = ReputationSettings()
    public var input = InputSettings()
    public var engine = EngineSettings()
    public var policy = PolicySettings()
    public var kafka = KafkaSettings()
    public var http = HTTPSettings()
    public var logging = LoggingSettings()
    public var security = SecuritySettings()

    public init() {}
}

/// MaxMind database files. Any of them may be absent: enrichment then reports nothing for that part.
public struct GeoSettings: Sendable, Equatable {
    /// GeoIP2/GeoLite2 City (or Country) database.
    public var cityDatabase: String?
    /// GeoLite2 ASN database.
    public var asnDatabase: String?
    /// GeoIP2 Anonymous IP database (optional product).
    public var anonymousDatabase: String?
    /// Entries in the lookup cache (0 disables it).
    public var cacheEntries = 65_536
    /// How often the daemon checks the files for replacement on disk.
    public var reloadCheckInterval = EventDuration.seconds(30)

    public init() {}
}

/// The operator's own reputation data.
public struct ReputationSettings: Sendable, Equatable {
    /// ASN → category.
    public var asnCategories: [UInt32: String] = [:]
    /// Files with one CIDR per line (`#` comments), each mapped to a category.
    public var cidrLists: [CIDRList] = []

    public struct CIDRList: Sendable, Equatable {
        public var path: String
        public var category: String
        public init(path: String, category: String) {
            self.path = path
            self.category = category
        }
    }

    public init() {}
}

/// Limits applied to every incoming message before it is trusted.
public struct InputSettings: Sendable, Equatable {
    /// Messages larger than this are dead-lettered as `too_large` without parsing.
    public var maxEventBytes = 65_536
    /// Deeper JSON nesting is dead-lettered as `too_deep`.
    public var maxNestingDepth = 16
    /// Events stamped further than this ahead of the time they were received (Kafka message time) are
    /// dead-lettered as `future_time`: one event from the year 9999 would otherwise move the watermark
    /// so far that every later event counts as late and stops updating state.
    public var maxFutureSkew = EventDuration.minutes(10)

    public init() {}
}

/// One scoring signal: on or off, and the points it adds to the score when it fires.
public struct SignalWeight: Sendable, Equatable {
    public var enabled: Bool
    public var points: Int

    public init(enabled: Bool = true, points: Int) {
        self.enabled = enabled
        self.points = points
    }
}

/// State, windows, signals and alert thresholds.
public struct EngineSettings: Sendable, Equatable {
    /// Watermark = max event time seen − this. Events older than the watermark are late.
    public var allowedLateness = EventDuration.minutes(5)
    /// Users unseen for this long are evicted from state.
    public var userIdleTTL = EventDuration.days(90)
    /// A device unseen for this long counts as new again.
    public var newDeviceAfter = EventDuration.days(30)
    /// Bounds on per-user sets (least recently seen is evicted first).
    public var maxDevicesPerUser = 8
    public var maxCountriesPerUser = 8
    public var maxASNsPerUser = 8
    /// Caps per shard: at a cap the least recently seen tenth is dropped.
    public var maxUsers = 10_000_000
    public var maxSources = 1_000_000
    public var maxEmailDomains = 100_000
    /// Successful logins before the baseline counts as learned.
    public var learningLogins = 3
    /// Within this after a password reset: at least soft step-up; takeover alerts.
    public var postResetWindow = EventDuration.hours(24)
    /// Failures, failing users and reset requests over all users are counted over this (metrics).
    public var globalWindow = EventDuration.minutes(15)

    public var signals = SignalSettings()
    public var alerts = AlertSettings()

    public init() {}
}

/// Scoring signals: points per signal so operators tune risk without code; each can be switched off.
public struct SignalSettings: Sendable, Equatable {
    public var newDevice = SignalWeight(points: 20)
    public var newCountry = SignalWeight(points: 25)
    public var newASN = SignalWeight(points: 10)
    /// No baseline yet: default lands in `medium`.
    public var firstLogin = SignalWeight(points: 40)
    public var impossibleTravel = SignalWeight(points: 60)
    public var maxSpeedKmh = 900.0
    public var minDistanceKm = 500.0
    public var anonymousIP = SignalWeight(points: 30)
    /// Extra points when the anonymous source is a Tor exit.
    public var torExtraPoints = 20
    public var asnReputation = SignalWeight(points: 25)
    public var ipReputation = SignalWeight(points: 40)
    public var compromisedCredential = SignalWeight(points: 70)
    public var recentPasswordReset = SignalWeight(points: 15)
    public var failedAttempts = SignalWeight(points: 20)
    public var failedAttemptsThreshold = 3
    public var failedAttemptsWindow = EventDuration.minutes(15)
    public var sourceIPSpraying = SignalWeight(points: 30)
    public var sprayingDistinctUsers = 5
    public var sprayingWindow = EventDuration.minutes(15)
    public var pushBurst = SignalWeight(points: 30)
    public var pushBurstThreshold = 3
    public var pushBurstWindow = EventDuration.minutes(10)
    /// Points for a `sensitive_action` whose action is not one of the known kinds.
    public var unknownSensitiveAction = SignalWeight(points: 10)

    public init() {}
}

/// Alert detectors: counts and windows for attack patterns that span several events, separate from the
/// per-login score because they are acted on by a SOC, not by the IdP.
public struct AlertSettings: Sendable, Equatable {
    public var pushBombing = AlertToggle()
    public var pushBombingFailures = 5
    public var pushBombingPushes = 10
    public var pushBombingWindow = EventDuration.minutes(10)

    public var mfaFatigueAccepted = AlertToggle()
    public var mfaFatigueFailures = 3
    public var mfaFatigueWindow = EventDuration.minutes(10)

    public var impossibleTravel = AlertToggle()

    public var resetAbuse = AlertToggle()
    public var resetAbuseAccount = 5
    public var resetAbuseSourceIP = 10
    public var resetAbuseEmailDomain = 20
    public var resetAbuseWindow = EventDuration.minutes(60)

    public var takeoverAfterReset = AlertToggle()

    public var credentialStuffing = AlertToggle()
    public var stuffingDistinctUsers = 5
    public var stuffingAttempts = 15
    public var stuffingWindow = EventDuration.minutes(15)

    /// A `service` account denied at high risk: the deny already protects, the alert tells the SOC.
    public var serviceAccountHighRisk = AlertToggle()
    /// One such alert per account per this much event time.
    public var serviceAccountHold = EventDuration.hours(1)

    public init() {}
}

/// An alert that can be switched off without touching its thresholds.
public struct AlertToggle: Sendable, Equatable {
    public var enabled: Bool
    public init(enabled: Bool = true) { self.enabled = enabled }
}

/// Turns a score into an action, per role tier.
public struct PolicySettings: Sendable, Equatable {
    /// Scores ≥ this are `medium` (below: `low`).
    public var mediumFrom = 31
    /// Scores ≥ this are `high`.
    public var highFrom = 71
    /// How long the IdP may act on a decision (`expires_at` = event time + this).
    public var decisionTTL = EventDuration.minutes(5)
    /// OIDC `acr_values` and SAML `AuthnContextClassRef` for each assurance level.
    public var acrSoft = "urn:vigil:acr:mfa"
    public var acrHard = "urn:vigil:acr:phishing-resistant"
    public var acrNone = "urn:vigil:acr:password"
    public var samlSoft = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
    public var samlHard = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
    public var samlNone = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    /// The role table: what each tier gets at each risk level. Hard rules (compromised credential,
    /// Tor + admin, post-reset, push bombing) only ever raise the action above it.
    public var roles = RoleTable()

    public init() {}
}

/// Kafka connection and topics. `properties` pass through to librdkafka verbatim; a value of the form
/// `${env:NAME}` stays a reference here and is read from the environment only by `resolveSecrets`, so
/// secrets stay out of the file, the config and the logs.
public struct KafkaSettings: Sendable, Equatable {
    /// Empty: `vigil demo` starts an in-process mock cluster.
    public var bootstrapServers = ""
    public var groupID = "vigil"
    public var inputTopics = ["auth.events"]
    public var decisionsTopic = "auth.decisions"
    public var alertsTopic = "auth.alerts"
    public var deadLetterTopic = "auth.events.dlq"
    public var properties: [String: String] = [:]
    /// Upper bound for a graceful shutdown (drain, flush, commit).
    public var shutdownTimeout = EventDuration.seconds(30)

    public init() {}
}

/// The metrics and health endpoint, for probes and Prometheus.
public struct HTTPSettings: Sendable, Equatable {
    /// Metrics and health endpoints; loopback unless the operator opts out.
    public var listen = "127.0.0.1:9464"
    public var enabled = true
    public init() {}
}

/// Log output: text for people at a terminal, json for log pipelines.
public struct LoggingSettings: Sendable, Equatable {
    public enum Format: String, Sendable { case text, json }
    public var format = Format.text
    /// One of swift-log's level names (`ConfigValues.logLevels`).
    public var level = "info"
    public init() {}
}

/// Secrets are never in the file: only the names of the environment variables that hold them.
public struct SecuritySettings: Sendable, Equatable {
    /// Environment variable holding the key for hashing device ids (at least 16 bytes).
    public var deviceHashKeyEnv = "VIGIL_DEVICE_HASH_KEY"
    /// `vigil run` refuses to start without the key unless this is true (replay and demo fall back to
    /// a fixed, public key so their output is reproducible).
    public var allowDefaultDeviceKey = false
    public init() {}
}
