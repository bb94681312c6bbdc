/// What the engine reads of the configuration file: the `input`, `engine` and `policy` sections, every key
/// optional with a documented default. Immutable once built; a reload builds a new one and swaps it. Each
/// setting is declared once in `VigilConfig.settings` (key path, type, range, doc, reload); the daemon's own
/// sections (Kafka, HTTP, logging, ...) live in the daemon.
public struct VigilConfig: Sendable, Equatable {
    public var input = InputSettings()
    public var engine = EngineSettings()
    public var policy = PolicySettings()

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
