/// What the engine reads of the configuration file: the `input`, `engine`, `policy` and `ssf` sections, every key
/// optional with a documented default. Immutable once built; a reload builds a new one and swaps it. Each
/// setting is declared once in `VigilConfig.settings` (key path, type, range, doc, reload); the daemon's own
/// sections (Kafka, HTTP, logging, ...) live in the daemon.
public struct VigilConfig: Sendable, Equatable {
    /// The `input` section: limits on every incoming message.
    public var input = InputSettings()
    /// The `engine` section: state limits, signals and alerts.
    public var engine = EngineSettings()
    /// The `policy` section: from score to action, per role.
    public var policy = PolicySettings()
    /// The `ssf` section's engine part: which verdicts become Security Event Tokens.
    public var ssf = SharedSignalSettings()

    /// Every setting at its documented default.
    public init() {}
}

/// Limits applied to every incoming message before it is trusted.
public struct InputSettings: Sendable, Equatable {
    /// Messages larger than this are dead-lettered as `too_large` without parsing.
    public var maxEventBytes = 65_536
    /// A message carrying a batch of records (`InputFormat.carriesBatches`) larger than this is
    /// dead-lettered as `too_large` without parsing; each of its records is held to `maxEventBytes`.
    public var maxBatchBytes = 1_048_576
    /// Deeper JSON nesting is dead-lettered as `too_deep`.
    public var maxNestingDepth = 16
    /// Events stamped further than this ahead of the time they were received (Kafka message time) are
    /// dead-lettered as `future_time`: one event from the year 9999 would otherwise move the watermark
    /// so far that every later event counts as late and stops updating state.
    public var maxFutureSkew = EventDuration.minutes(10)
    /// Without a receive time (replay), events stamped further than this ahead of the shard's newest
    /// accepted event time are dead-lettered as `future_time` unless the next event confirms the leap
    /// (see `Pipeline.process`).
    public var maxTimeLeap = EventDuration.days(1)
    /// A second event with the same id (within its tenant) this close in event time to the first is a
    /// repeated delivery and is dropped (`RecentEventIDs`).
    public var duplicateWindow = EventDuration.minutes(10)
    /// The most event ids remembered per input partition and per keyed-stage partition; 0 drops nothing.
    public var maxDuplicateIDs = 100_000

    /// The documented defaults.
    public init() {}
}

/// One scoring signal: on or off, and the points it adds to the score when it fires.
public struct SignalWeight: Sendable, Equatable {
    /// Off: the signal never fires and adds nothing, whatever `points` says.
    public var enabled: Bool
    /// Added to the score when the signal fires, 0–100 (negative for a signal that lowers risk).
    public var points: Int

    /// An enabled signal worth `points`, unless `enabled` says otherwise.
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
    /// Countries remembered per user (`engine.max_countries_per_user`).
    public var maxCountriesPerUser = 8
    /// Networks (ASNs) remembered per user (`engine.max_asns_per_user`).
    public var maxASNsPerUser = 8
    /// Caps per shard: at a cap the least recently seen tenth is dropped.
    public var maxUsers = 10_000_000
    /// Source addresses per shard in the cross-user maps; a botnet's spread of addresses is capped here.
    public var maxSources = 1_000_000
    /// Email domains per shard in the reset-abuse counts.
    public var maxEmailDomains = 100_000
    /// Successful logins before the baseline counts as learned.
    public var learningLogins = 3
    /// Which successful logins the baseline learns from (`engine.verification`).
    public var verification = VerificationSettings()
    /// Within this after a password reset: at least soft step-up; takeover alerts.
    public var postResetWindow = EventDuration.hours(24)
    /// Failures, failing users and reset requests over all users are counted over this (metrics).
    public var globalWindow = EventDuration.minutes(15)

    /// Points per scoring signal.
    public var signals = SignalSettings()
    /// Thresholds and switches of the detectors that raise alerts.
    public var alerts = AlertSettings()
    /// Campaigns spread over many sources, per autonomous system and per tenant (`engine.campaigns`).
    public var campaigns = CampaignSettings()

    /// The documented defaults.
    public init() {}
}

/// Which logins teach the baseline. A password alone proves little: an attacker who has it would
/// otherwise become "known" after a login or two, so a login whose decision asked for a step-up is
/// learned only once a successful MFA result verifies it.
public struct VerificationSettings: Sendable, Equatable {
    /// Learn from a stepped-up login only after an MFA success verifies it; off, every successful login
    /// that is not denied is learned (for feeds without MFA results).
    public var required = true
    /// How long a stepped-up login waits for the MFA success that verifies it, and how long a
    /// sensitive action of its session is scored at the login's risk.
    public var window = EventDuration.minutes(10)
    /// How long a sensitive action of an unverified login's session (linked by id) still scores at the
    /// login's risk, after the window: waiting the window out must not clear the session.
    public var sessionHold = EventDuration.hours(12)

    /// The documented defaults.
    public init() {}
}

/// Scoring signals: points per signal so operators tune risk without code; each can be switched off.
public struct SignalSettings: Sendable, Equatable {
    /// First login from a device not seen within `newDeviceAfter`.
    public var newDevice = SignalWeight(points: 20)
    /// A device id known from another browser family (a copied cookie or device token); with
    /// `newDevice`, it reaches medium.
    public var deviceBrowserChanged = SignalWeight(points: 25)
    /// First login from a country the user has not logged in from.
    public var newCountry = SignalWeight(points: 25)
    /// First login from an autonomous system the user has not logged in from.
    public var newASN = SignalWeight(points: 10)
    /// The login model (`LoginModel`) found the login unlike the user's: `points` is the most it adds.
    public var unusualLogin = SignalWeight(points: 40)
    /// The model's bits from which it adds points: below, a login is not unusual enough.
    public var unusualLoginFromBits = 16.0
    /// Points per bit above `unusualLoginFromBits`, up to `unusualLogin.points`.
    public var unusualLoginPointsPerBit = 2.0
    /// No baseline yet: default lands in `medium`.
    public var firstLogin = SignalWeight(points: 40)
    /// Travel from the last login faster than an airliner, net of both locations' accuracy radii.
    public var impossibleTravel = SignalWeight(points: 60)
    /// Faster than this between two logins is not one person travelling (airliner cruise speed).
    public var maxSpeedKmh = 900.0
    /// Closer than this, GeoIP error dominates and travel gives no verdict.
    public var minDistanceKm = 500.0
    /// Added to the accuracy radius of an address in a `mobile` range (reputation table) for travel.
    public var mobileToleranceKm = 500.0
    /// Source flagged by the anonymous-IP database (VPN, Tor, proxy, hosting).
    public var anonymousIP = SignalWeight(points: 30)
    /// Extra points when the anonymous source is a Tor exit.
    public var torExtraPoints = 20
    /// Source ASN is in the operator's reputation table.
    public var asnReputation = SignalWeight(points: 25)
    /// Source address is in one of the operator's CIDR lists.
    public var ipReputation = SignalWeight(points: 40)
    /// Source address or ASN is listed as `trusted_network`; negative points lower the score.
    public var trustedNetwork = SignalWeight(points: -30)
    /// `newCountry`'s points when the device is a known one.
    public var newCountryKnownDevicePoints = 10
    /// The IdP reports the password as breached; alone it reaches the top of medium.
    public var compromisedCredential = SignalWeight(points: 70)
    /// The IdP's own rating of the sign-in is high (`points`) or medium (`idpRiskMediumPoints`).
    public var idpRisk = SignalWeight(points: 50)
    /// Points of `idpRisk` for a medium rating.
    public var idpRiskMediumPoints = 20
    /// Login within `EngineSettings.postResetWindow` of a password reset.
    public var recentPasswordReset = SignalWeight(points: 15)
    /// The user failed at least `failedAttemptsThreshold` times within `failedAttemptsWindow`.
    public var failedAttempts = SignalWeight(points: 20)
    /// Failures that make `failedAttempts` fire.
    public var failedAttemptsThreshold = 3
    /// Window the failures are counted over.
    public var failedAttemptsWindow = EventDuration.minutes(15)
    /// The source tried at least `sprayingDistinctUsers` accounts within `sprayingWindow` (password spraying).
    public var sourceIPSpraying = SignalWeight(points: 30)
    /// Distinct accounts that make `sourceIPSpraying` fire.
    public var sprayingDistinctUsers = 5
    /// Window the accounts are counted over.
    public var sprayingWindow = EventDuration.minutes(15)
    /// A credential-stuffing campaign on the login's autonomous system or tenant, or a reset wave on it
    /// for a login after a reset, is under way (`engine.campaigns`).
    public var campaignActive = SignalWeight(points: 20)
    /// At least `pushBurstThreshold` MFA pushes to the user within `pushBurstWindow`.
    public var pushBurst = SignalWeight(points: 30)
    /// Pushes that make `pushBurst` fire.
    public var pushBurstThreshold = 3
    /// Window the pushes are counted over.
    public var pushBurstWindow = EventDuration.minutes(10)
    /// Points for a `sensitive_action` whose action is not one of the known kinds.
    public var unknownSensitiveAction = SignalWeight(points: 10)

    /// The documented defaults.
    public init() {}
}

/// Alert detectors: counts and windows for attack patterns that span several events, separate from the
/// per-login score because they are acted on by a SOC, not by the IdP.
public struct AlertSettings: Sendable, Equatable {
    /// Many push challenges failing or unanswered for one account in a short window.
    public var pushBombing = AlertToggle()
    /// Denied or timed-out pushes that raise `pushBombing`.
    public var pushBombingFailures = 5
    /// Pushes of any outcome that raise `pushBombing`.
    public var pushBombingPushes = 10
    /// Window the pushes are counted over.
    public var pushBombingWindow = EventDuration.minutes(10)
    /// A slower campaign: this many failed pushes within `pushBombingHourWindow` (0: not looked for).
    public var pushBombingHourFailures = 8
    /// Window of `pushBombingHourFailures`.
    public var pushBombingHourWindow = EventDuration.hours(1)
    /// A drip over a day: this many failed pushes within `pushBombingDayWindow` (0: not looked for).
    public var pushBombingDayFailures = 15
    /// Window of `pushBombingDayFailures`.
    public var pushBombingDayWindow = EventDuration.hours(24)

    /// A push approved after at least `mfaFatigueFailures` failures within `mfaFatigueWindow`, or
    /// `mfaFatigueLongFailures` within `mfaFatigueLongWindow` (a pause before giving in).
    public var mfaFatigueAccepted = AlertToggle()
    /// Failures before the approval.
    public var mfaFatigueFailures = 3
    /// Window the failures are counted over.
    public var mfaFatigueWindow = EventDuration.minutes(10)
    /// Failures before the approval over the longer horizon (0: not looked for).
    public var mfaFatigueLongFailures = 5
    /// Window of `mfaFatigueLongFailures`.
    public var mfaFatigueLongWindow = EventDuration.hours(2)
    /// Failures closer than this to the previous one counted count as one (a double notification, a
    /// mis-tap), so a low `mfaFatigueFailures` needs failures that were each a decision.
    public var mfaFatigueMinSpacing = EventDuration.seconds(0)

    /// The horizons push bombing is looked for at, shortest first: (failed pushes, window); a horizon of
    /// 0 failures is left out.
    var pushBombingHorizons: [(failures: Int, window: EventDuration)] {
        [
            (pushBombingFailures, pushBombingWindow), (pushBombingHourFailures, pushBombingHourWindow),
            (pushBombingDayFailures, pushBombingDayWindow),
        ].filter { $0.failures > 0 }
    }

    /// The horizons `mfaFatigueAccepted` is looked for at, shortest first.
    var mfaFatigueHorizons: [(failures: Int, window: EventDuration)] {
        [(mfaFatigueFailures, mfaFatigueWindow), (mfaFatigueLongFailures, mfaFatigueLongWindow)].filter {
            $0.failures > 0
        }
    }

    /// Failed pushes a user's window keeps: enough for every horizon's threshold.
    var pushFailuresKept: Int {
        (pushBombingHorizons + mfaFatigueHorizons).map(\.failures).max() ?? 1
    }

    /// The alert twin of the travel signal, one per account and pair of logins.
    public var impossibleTravel = AlertToggle()

    /// Bursts of password-reset requests per account, source address or email domain.
    public var resetAbuse = AlertToggle()
    /// Resets of one account that raise `resetAbuse`.
    public var resetAbuseAccount = 5
    /// Accounts reset from one source address that raise `resetAbuse`.
    public var resetAbuseSourceIP = 10
    /// Accounts reset in one email domain that raise `resetAbuse`.
    public var resetAbuseEmailDomain = 20
    /// Window the resets are counted over.
    public var resetAbuseWindow = EventDuration.minutes(60)

    /// A risky login within `EngineSettings.postResetWindow` of a reset: the reset may have been the takeover.
    public var takeoverAfterReset = AlertToggle()

    /// One source trying many accounts with many attempts in a window.
    public var credentialStuffing = AlertToggle()
    /// Distinct users the source failed against.
    public var stuffingDistinctUsers = 5
    /// Failed attempts from the source.
    public var stuffingAttempts = 15
    /// Window the attempts are counted over.
    public var stuffingWindow = EventDuration.minutes(15)

    /// A `service` account denied at high risk: the deny already protects, the alert tells the SOC.
    public var serviceAccountHighRisk = AlertToggle()
    /// One such alert per account per this much event time.
    public var serviceAccountHold = EventDuration.hours(1)

    /// The documented defaults.
    public init() {}
}

/// Campaign detection per autonomous system and per tenant: each counts failed logins, failures for
/// unknown usernames, distinct failing users and reset requests per time slot, learns what each slot of
/// the day usually holds, and raises `credential_stuffing` or `reset_abuse` (scope `asn` or `tenant`)
/// when a slot's count is far above it. A stuffing list spread over hundreds of addresses of one hosting
/// network stays under every per-source threshold, and shows here.
public struct CampaignSettings: Sendable, Equatable {
    /// Off: no campaign stage, windows or `campaign_active` (a restart adds or removes the stage and its
    /// topics).
    public var enabled = true
    /// Counts are kept per slot of this length; it divides a day, and the baseline keeps one value per
    /// slot of the day.
    public var slot = EventDuration.hours(1)
    /// The slot lengths allowed: five minutes (288 slots a day bound a baseline) to six hours.
    static let slotRange = EventDuration.minutes(5)...EventDuration.hours(6)
    /// The baseline's memory: each day's count moves it by 2 / (days + 1) of the difference.
    public var baselineDays = 7
    /// Days of history before the baseline is trusted; until then a slot is expected to hold its floor.
    public var minBaselineDays = 3
    /// A slot's count must reach this many times what the baseline expects.
    public var ratio = 3.0
    /// ... and this many mean deviations above it.
    public var deviations = 4.0
    /// The least count that can raise an alert, per metric: failed logins, failures for unknown
    /// usernames, distinct failing users, reset requests.
    public var failuresFloor = 40
    /// Floor of failures for usernames that do not exist.
    public var unknownUserFloor = 15
    /// Floor of distinct users whose logins failed.
    public var distinctUsersFloor = 25
    /// Floor of reset requests.
    public var resetsFloor = 10
    /// A detected campaign stays active (alert held, `campaign_active` firing) this long after the event
    /// that crossed the threshold; a campaign still crossing in its second half extends it.
    public var hold = EventDuration.hours(2)
    /// An autonomous system or tenant without a counted event for this long is forgotten, baseline and all.
    public var idleTTL = EventDuration.days(14)
    /// Autonomous systems and tenants held per shard; at the cap the least recently seen tenth is dropped.
    public var maxEntities = 100_000

    /// Slots in a day: the baseline's length.
    var slotsPerDay: Int { Int(EventDuration.days(1).microseconds / slot.microseconds) }

    /// The documented defaults.
    public init() {}
}

/// An alert that can be switched off without touching its thresholds.
public struct AlertToggle: Sendable, Equatable {
    /// Off: the detector keeps no alert state and raises nothing.
    public var enabled: Bool
    /// An alert that is on unless `enabled` says otherwise.
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
    /// OIDC `acr_values` for a hard step-up (phishing-resistant factor).
    public var acrHard = "urn:vigil:acr:phishing-resistant"
    /// OIDC `acr_values` for a low-risk login.
    public var acrNone = "urn:vigil:acr:password"
    /// SAML `AuthnContextClassRef` for a soft step-up.
    public var samlSoft = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
    /// SAML `AuthnContextClassRef` for a hard step-up.
    public var samlHard = "urn:oasis:names:tc:SAML:2.0:ac:classes:X509"
    /// SAML `AuthnContextClassRef` for a low-risk login.
    public var samlNone = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
    /// The role table: what each tier gets at each risk level. Hard rules (compromised credential,
    /// Tor + admin, post-reset, push bombing) only ever raise the action above it.
    public var roles = RoleTable()

    /// The documented defaults.
    public init() {}
}
