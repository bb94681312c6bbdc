/// Every setting the engine reads, declared once. All of them apply live: a reload swaps the engine's config
/// between two events. The daemon adds its own sections (`DaemonConfig.settings`) around these.
extension VigilConfig {
    /// The engine's settings in file order; `DaemonConfig.settings` lifts them into the daemon's file.
    public static let settings = SettingTable<VigilConfig>(
        inputSettings + engineSettings + signalSettings + alertSettings + campaignSettings + policySettings
            + sharedSignalSettings,
        sectionDocs: [
            "engine.signals":
                """
            Scoring signals: each adds `points` (0–100) when it fires and can be turned off with enabled: false. \
            Score levels (see policy): low ≤ 30, medium 31–70, high ≥ 71.
            """,
            "engine.alerts":
                """
            Alerts: emitted on the alerts topic, independent of the per-login score. Counts ≥ 1, windows up to \
            30d.
            """,
            "engine.campaigns":
                """
            Campaigns spread over many sources: per autonomous system and per tenant, failed logins, failures for \
            unknown usernames, distinct failing users and reset requests are counted per slot and compared with \
            the same slot of previous days. A slot at least `ratio` times and `deviations` mean deviations above \
            its baseline, and at its floor, raises credential_stuffing or reset_abuse with scope asn or tenant. \
            Until min_baseline_days of history a slot is expected to hold its floor (so a cold start needs \
            ratio × floor).
            """,
            "policy.oidc": "OIDC acr_values sent for each step-up: none (low), soft (medium), hard (high).",
            "policy.saml": "SAML AuthnContextClassRef for the same three levels.",
            "ssf":
                """
            OpenID Shared Signals (SSF 1.0): verdicts as signed Security Event Tokens (CAEP/RISC) on the signals \
            topic, pushed to the receivers (docs/shared-signals.md has the mapping table).
            """,
            "ssf.events": "Which Security Event Tokens are built; each can be turned off.",
            "policy.roles":
                """
            The role table (user.role in the event picks the tier): the action for each risk level, the least a \
            sensitive_action gets, whether SMS/email codes may be offered, and whether the role can answer MFA at \
            all. Hard rules only raise the action: compromised credential → at least step_up_hard; admin from a \
            Tor exit → deny; within post_reset_window → at least step_up_soft; an active push-bombing alert \
            removes push factors.
            """,
        ])

    /// Every rule the values break, in key order; empty when the config is usable.
    public func validate() -> [ConfigProblem] { Self.settings.problems(in: self) }

    /// The engine's settings in canonical form (see `SettingTable.canonicalYAML(of:)`).
    public var canonicalYAML: String { Self.settings.canonicalYAML(of: self) }

    /// The settings that decide verdicts in canonical form: all but the `ssf` section, which shapes the
    /// Security Event Tokens built from verdicts, not the verdicts (the policy version's input).
    public var verdictCanonicalYAML: String { Self.verdictSettings.canonicalYAML(of: self) }

    private static let verdictSettings = SettingTable(settings.settings.filter { !$0.path.hasPrefix("ssf.") })

    private typealias S = Setting<VigilConfig>
    private static let window = SettingType.positive...SettingType.maxWindow
    /// Event counts that trigger a signal or an alert.
    private static let count = 1...1_000_000

    private static let inputSettings: [S] = [
        .integer(
            "input.max_event_bytes", \.input.maxEventBytes, 256...16_777_216, .live,
            """
            Larger messages are dead-lettered as too_large before parsing. IdP login events are a few KB; 64 KiB \
            leaves room and bounds the memory one message can take.
            """
        ),
        .integer(
            "input.max_batch_bytes", \.input.maxBatchBytes, 256...67_108_864, .live,
            """
            Larger batch messages (an Entra ID message: {"records": [...]}, as Event Hubs delivers them) are \
            dead-lettered as too_large before parsing; each record in a batch is held to input.max_event_bytes. 1 MiB is \
            the largest message an Event Hubs Standard namespace accepts.
            """
        ),
        .integer(
            "input.max_nesting_depth", \.input.maxNestingDepth, 1...256, .live,
            "Deeper JSON is dead-lettered as too_deep. Real events nest 3–4 levels; 16 stops stack-exhaustion payloads."
        ),
        .duration(
            "input.max_future_skew", \.input.maxFutureSkew, .seconds(1)...EventDuration.days(1), .live,
            """
            Events stamped more than this ahead of their receive time are dead-lettered as future_time: one event \
            from the year 9999 would otherwise push the watermark so far that every later event is late. The receive \
            time is the Kafka message time, capped by the consumer's clock (a CreateTime in the future, or none, \
            counts as now). 10m tolerates IdP clock drift. Replay has no receive time: it bounds events by this after \
            its clock (the wall clock at its start, or --now), since recorded events cannot come from the future, and \
            by input.max_time_leap.
            """
        ),
        .duration(
            "input.max_time_leap", \.input.maxTimeLeap, .minutes(1)...EventDuration.days(3650), .live,
            """
            Without a receive time (replay), an event stamped more than this ahead of the newest accepted event time \
            is dead-lettered as future_time, unless the event right before it was too and lies within this distance \
            of it: a stream resuming after a longer pause loses its first event, one mis-stamped event moves nothing. \
            1d passes quiet nights; raise it for files with longer silences. The first event has nothing to leap \
            from: only the replay's clock and input.max_future_skew bound it.
            """
        ),
        .duration(
            "input.duplicate_window", \.input.duplicateWindow, .seconds(1)...EventDuration.days(1), .live,
            """
            An event whose id (within its tenant) was seen this close in event time is a repeated delivery and is \
            dropped before it counts anywhere: IdP feeds are at least once (Auth0 log streams, Event Hubs, Okta pollers \
            re-reading a page). Counted in vigil_input_duplicates_total. 10m covers a shipper's retries.
            """
        ),
        .integer(
            "input.max_duplicate_ids", \.input.maxDuplicateIDs, 0...10_000_000, .live,
            """
            The most event ids remembered for input.duplicate_window, per input partition (the decode stage) and per \
            keyed-stage partition (repeats that arrive on another input partition); the oldest are forgotten first, \
            about 40 bytes each. 0 drops no repeat. Held in memory: a repeat of an event from before a restart passes once.
            """
        ),
    ]

    private static let engineSettings: [S] = [
        .duration(
            "engine.allowed_lateness", \.engine.allowedLateness, .seconds(0)...EventDuration.hours(24), .live,
            "Watermark = newest event time − this; older events are late. 5m is a typical IdP log-shipping delay."),
        .duration(
            "engine.user_idle_ttl", \.engine.userIdleTTL, SettingType.positive...EventDuration.days(3650), .live,
            "Users unseen this long are dropped from state. 90d outlives quarterly logins."),
        .duration(
            "engine.new_device_after", \.engine.newDeviceAfter, SettingType.positive...EventDuration.days(3650), .live,
            "A device unseen this long counts as new again. 30d: a monthly user keeps their device."),
        .integer(
            "engine.max_devices_per_user", \.engine.maxDevicesPerUser, 1...1000, .live,
            """
            Devices remembered per user, least recently seen evicted first. 8 covers phone, laptops and travel, and \
            bounds memory per user.
            """
        ),
        .integer(
            "engine.max_countries_per_user", \.engine.maxCountriesPerUser, 1...1000, .live,
            "Countries remembered per user, least recently seen evicted first."),
        .integer(
            "engine.max_asns_per_user", \.engine.maxASNsPerUser, 1...1000, .live,
            "Networks (ASNs) remembered per user, least recently seen evicted first."),
        .integer(
            "engine.max_users", \.engine.maxUsers, 100...1_000_000_000, .live,
            """
            Users per shard (Kafka partition). At the cap the least recently seen tenth is dropped \
            (vigil_state_evictions_total{kind=\"capacity\"}) and learns again; a user costs about 210 bytes (10000000: \
            about 2 GiB). Stops a spray of invented usernames from growing memory.
            """
        ),
        .integer(
            "engine.max_sources", \.engine.maxSources, 100...100_000_000, .live,
            """
            Source addresses per shard in the cross-user maps: a botnet failing once from each of a million IPs is \
            capped here first.
            """
        ),
        .integer(
            "engine.max_email_domains", \.engine.maxEmailDomains, 100...100_000_000, .live,
            "Email domains per shard in the reset-abuse counts, capped like max_sources."),
        .integer(
            "engine.learning_logins", \.engine.learningLogins, 0...1000, .live,
            "Successful logins before the baseline counts as learned. Until then first_login applies."),
        .boolean(
            "engine.verification.required", \.engine.verification.required, .live,
            """
            Learn a login's device, country, network and location only when its decision was allow, or when a \
            successful MFA result verifies it within engine.verification.window (linked by session, correlation or \
            challenge id, else the user's next MFA success from the login's address, network or device). Denied \
            logins are never learned. Turn off only for feeds that carry no MFA results (Keycloak): an attacker \
            with the password is then "known" after learning_logins logins.
            """),
        .duration(
            "engine.verification.window", \.engine.verification.window, .seconds(10)...EventDuration.hours(24), .live,
            """
            How long a stepped-up login waits for the MFA success that verifies it. Until then a sensitive action of \
            its session (or of the user, without session ids) scores at least what the login scored \
            (unverified_session).
            """
        ),
        .duration(
            "engine.verification.session_hold", \.engine.verification.sessionHold, .minutes(10)...EventDuration.days(7),
            .live,
            """
            After the window, a sensitive action of an unverified login's session (linked by session or correlation \
            id) still scores at least what the login scored, for this long after the login, until an MFA success of \
            that session closes it: an attacker cannot wait the window out. 12h covers an IdP session's usual life.
            """
        ),
        .duration(
            "engine.post_reset_window", \.engine.postResetWindow, window, .live,
            """
            After a password reset, logins get at least a soft step-up and takeover alerts are armed for this long. \
            24h covers the window in which a hijacked reset is used.
            """
        ),
        .duration(
            "engine.global_window", \.engine.globalWindow, .minutes(1)...EventDuration.hours(24), .live,
            """
            Failed logins, distinct failing users (estimated, ±3%) and reset requests over all users are counted over \
            this window and exported as metrics. 15m matches credential_stuffing: a wave spread thinly over many \
            addresses shows here.
            """
        ),
    ]

    /// A signal's `enabled` and `points` (`points` in `range`: negative for a signal that lowers risk).
    private static func signal(
        _ name: String, _ weight: WritableKeyPath<VigilConfig, SignalWeight>, _ doc: String,
        points range: ClosedRange<Int> = 0...100
    ) -> [S] {
        let path = "engine.signals.\(name)"
        return [
            .boolean(path + ".enabled", weight.appending(path: \.enabled), .live, doc),
            .integer(
                path + ".points", weight.appending(path: \.points), range, .live,
                "Points added to the score when \(name) fires."),
        ]
    }

    private static let signalSettings: [S] =
        signal(
            "new_device", \.engine.signals.newDevice,
            "A device id not seen for this user within new_device_after: alone it stays low.")
        + signal(
            "device_browser_changed", \.engine.signals.deviceBrowserChanged,
            """
            A device id this user has from one browser family (Chrome, Firefox, Safari, Edge, ..., a script) \
            presented by another: a copied cookie or device token. Managed devices (one id for the whole machine) \
            and events without a user agent are exempt. With new_device it reaches medium.
            """)
        + signal(
            "new_country", \.engine.signals.newCountry,
            "A country this user has not logged in from: alone it stays low.")
        + [
            .integer(
                "engine.signals.new_country.known_device_points", \.engine.signals.newCountryKnownDevicePoints,
                0...100, .live,
                """
                Points instead when the device is one the user has (a trip with one's own laptop is the usual \
                new country; a new country on a new device is not).
                """
            )
        ]
        + signal(
            "new_asn", \.engine.signals.newASN,
            "A network (ASN) this user has not used: weak on its own (mobile carriers change).")
        + signal(
            "unusual_login", \.engine.signals.unusualLogin,
            """
            The login model: how much likelier the login's features (device, country, network, address block, city, \
            browser and system family, hour of the week) are under an attacker than under this user's history, in \
            bits (log2 of the likelihood ratio, each feature between -2 and +6). Above from_bits it adds \
            points_per_bit per bit, up to points. A login new in five ways at once reaches medium where single \
            novelties stay low. Not scored while the user is learning (first_login).
            """)
        + [
            .number(
                "engine.signals.unusual_login.from_bits", \.engine.signals.unusualLoginFromBits, 0...64, .live,
                """
                Bits from which the model adds points. 16 (a likelihood ratio of about 65,000) leaves a new phone on \
                a new carrier low and challenges a new device, browser, system, network and hour at once.
                """),
            .number(
                "engine.signals.unusual_login.points_per_bit", \.engine.signals.unusualLoginPointsPerBit, 0...100,
                .live, "Points per bit above from_bits, up to points."),
        ]
        + signal(
            "first_login", \.engine.signals.firstLogin,
            "No baseline yet (learning period): 40 = medium, so new users get a soft step-up.")
        + signal(
            "impossible_travel", \.engine.signals.impossibleTravel,
            "Two logins too far apart for the time between them.")
        + [
            .number(
                "engine.signals.impossible_travel.max_speed_kmh", \.engine.signals.maxSpeedKmh, 1...10_000, .live,
                "900 km/h is commercial airliner cruise speed: anything faster is not one person travelling."),
            .number(
                "engine.signals.impossible_travel.min_distance_km", \.engine.signals.minDistanceKm, 0...20_038, .live,
                "Below 500 km, city-level GeoIP error and accuracy radii dominate: no verdict."),
            .number(
                "engine.signals.impossible_travel.mobile_tolerance_km", \.engine.signals.mobileToleranceKm, 0...5_000,
                .live,
                """
                Added to the accuracy radius of an address in a mobile range (reputation category mobile: a carrier's \
                ranges), at either end of a trip: carrier-grade NAT and mobile gateways put a phone's address hundreds of \
                kilometres from the phone. mobile is no risk category: it adds no reputation points.
                """),
        ]
        + signal(
            "anonymous_ip", \.engine.signals.anonymousIP,
            "Source is a VPN, hosting or anonymizing proxy per the Anonymous IP database.")
        + [
            .integer(
                "engine.signals.anonymous_ip.tor_extra_points", \.engine.signals.torExtraPoints, 0...100, .live,
                "Tor exits add this on top: 30 + 20 = 50, medium on its own.")
        ]
        + signal(
            "asn_reputation", \.engine.signals.asnReputation,
            "Source ASN is in your reputation table (reputation.asn), in a category other than trusted_network and mobile."
        )
        + signal(
            "ip_reputation", \.engine.signals.ipReputation,
            """
            Source IP is in one of your reputation lists (reputation.cidr_lists), in a category other than trusted_network \
            and mobile.
            """
        )
        + signal(
            "trusted_network", \.engine.signals.trustedNetwork,
            """
            Source IP or ASN is in your reputation table under the category trusted_network (office egress, \
            corporate VPN): negative points lower the score (never below 0), so a new country or network seen \
            through it weighs less.
            """,
            points: -100...0)
        + signal(
            "compromised_credential", \.engine.signals.compromisedCredential,
            "The IdP reports the password as known-breached: 70 = top of medium, anything else makes it high.")
        + signal(
            "idp_risk", \.engine.signals.idpRisk,
            """
            The identity provider rated the sign-in high risk (Okta's debugData.risk level, Auth0's Adaptive MFA \
            confidence low; docs/input-formats.md): 50 = medium alone, high with any other signal.
            """
        )
        + [
            .integer(
                "engine.signals.idp_risk.medium_points", \.engine.signals.idpRiskMediumPoints, 0...100, .live,
                "Points for a medium rating (low ratings add none).")
        ]
        + signal(
            "recent_password_reset", \.engine.signals.recentPasswordReset,
            "Login within post_reset_window after a password reset.")
        + signal(
            "failed_attempts", \.engine.signals.failedAttempts,
            "This user failed at least `threshold` times within `window`.")
        + [
            .integer(
                "engine.signals.failed_attempts.threshold", \.engine.signals.failedAttemptsThreshold, count, .live,
                "Failures that make the signal fire."),
            .duration(
                "engine.signals.failed_attempts.window", \.engine.signals.failedAttemptsWindow, window, .live,
                "Window the failures are counted over."),
        ]
        + signal(
            "source_ip_spraying", \.engine.signals.sourceIPSpraying,
            "The source IP tried at least `distinct_users` accounts within `window`: password spraying.")
        + [
            .integer(
                "engine.signals.source_ip_spraying.distinct_users", \.engine.signals.sprayingDistinctUsers, count,
                .live, "Distinct accounts that make the signal fire."),
            .duration(
                "engine.signals.source_ip_spraying.window", \.engine.signals.sprayingWindow, window, .live,
                "Window the accounts are counted over."),
        ]
        + signal(
            "campaign_active", \.engine.signals.campaignActive,
            """
            A campaign (engine.campaigns) is under way on the login's autonomous system, or on its tenant when the \
            login comes from a network its user has not used (or the user is still learning): credential stuffing \
            for any login or sensitive action, a reset wave for a login within post_reset_window of a reset and for \
            mfa_reset or recovery_code_use actions.
            """)
        + signal(
            "push_burst", \.engine.signals.pushBurst, "At least `threshold` MFA pushes to this user within `window`.")
        + [
            .integer(
                "engine.signals.push_burst.threshold", \.engine.signals.pushBurstThreshold, count, .live,
                "Pushes that make the signal fire."),
            .duration(
                "engine.signals.push_burst.window", \.engine.signals.pushBurstWindow, window, .live,
                "Window the pushes are counted over."),
        ]
        + signal(
            "unknown_sensitive_action", \.engine.signals.unknownSensitiveAction,
            "A sensitive_action whose action is not a known kind: small, so new IdP actions surface without noise.")

    private static func enabled(_ name: String, _ toggle: WritableKeyPath<VigilConfig, AlertToggle>, _ doc: String) -> S
    {
        .boolean("engine.alerts.\(name).enabled", toggle.appending(path: \.enabled), .live, doc)
    }

    private static let alertSettings: [S] = [
        enabled(
            "push_bombing", \.engine.alerts.pushBombing,
            """
            MFA fatigue (MITRE ATT&CK T1621): `failures` denied/timed-out pushes or `pushes` pushes within `window`, \
            as in common SIEM detection content.
            """
        ),
        .integer(
            "engine.alerts.push_bombing.failures", \.engine.alerts.pushBombingFailures, count, .live,
            "Denied or timed-out pushes that raise the alert."),
        .integer(
            "engine.alerts.push_bombing.pushes", \.engine.alerts.pushBombingPushes, count, .live,
            "Pushes of any outcome that raise the alert."),
        .duration(
            "engine.alerts.push_bombing.window", \.engine.alerts.pushBombingWindow, window, .live,
            "Window the pushes are counted over."),
        .integer(
            "engine.alerts.push_bombing.hour_failures", \.engine.alerts.pushBombingHourFailures, 0...1_000_000, .live,
            """
            A slower campaign: denied or timed-out pushes within hour_window that raise the alert (one every few \
            minutes never fills the short window). 0 does not look.
            """),
        .duration(
            "engine.alerts.push_bombing.hour_window", \.engine.alerts.pushBombingHourWindow, window, .live,
            "Window of hour_failures."),
        .integer(
            "engine.alerts.push_bombing.day_failures", \.engine.alerts.pushBombingDayFailures, 0...1_000_000, .live,
            """
            A drip over a day: denied or timed-out pushes within day_window that raise the alert. A user who misses a \
            notification now and then stays far below 15. 0 does not look.
            """),
        .duration(
            "engine.alerts.push_bombing.day_window", \.engine.alerts.pushBombingDayWindow, window, .live,
            "Window of day_failures. A campaign that keeps going raises one alert per horizon it crosses, each held for its window."
        ),
        enabled(
            "mfa_fatigue_accepted", \.engine.alerts.mfaFatigueAccepted,
            "A push approved after at least `failures` failures within `window`: the user probably gave in."),
        .integer(
            "engine.alerts.mfa_fatigue_accepted.failures", \.engine.alerts.mfaFatigueFailures, count, .live,
            "Failures before the approval."),
        .duration(
            "engine.alerts.mfa_fatigue_accepted.window", \.engine.alerts.mfaFatigueWindow, window, .live,
            "Window the failures are counted over."),
        .integer(
            "engine.alerts.mfa_fatigue_accepted.long_failures", \.engine.alerts.mfaFatigueLongFailures, 0...1_000_000,
            .live,
            """
            Failures within long_window before an approval that also raise the alert: the user who gives in after a \
            pause, when the short window has emptied. 0 does not look.
            """),
        .duration(
            "engine.alerts.mfa_fatigue_accepted.long_window", \.engine.alerts.mfaFatigueLongWindow, window, .live,
            "Window of long_failures."),
        .duration(
            "engine.alerts.mfa_fatigue_accepted.min_spacing", \.engine.alerts.mfaFatigueMinSpacing,
            .seconds(0)...EventDuration.hours(1), .live,
            """
            A failure closer than this to the previous one counted counts as one (a double notification, a mis-tap). \
            0s counts every failure; with failures: 2, 15s makes each of the two a separate refusal.
            """),
        enabled(
            "impossible_travel", \.engine.alerts.impossibleTravel, "The impossible_travel signal also raises an alert."),
        enabled(
            "reset_abuse", \.engine.alerts.resetAbuse,
            """
            Password-reset abuse within `window`: `account` resets for one account, `source_ip` accounts from one \
            source IP, or `email_domain` accounts in one email domain.
            """
        ),
        .integer(
            "engine.alerts.reset_abuse.account", \.engine.alerts.resetAbuseAccount, count, .live,
            "Resets of one account."),
        .integer(
            "engine.alerts.reset_abuse.source_ip", \.engine.alerts.resetAbuseSourceIP, count, .live,
            "Accounts reset from one source IP."),
        .integer(
            "engine.alerts.reset_abuse.email_domain", \.engine.alerts.resetAbuseEmailDomain, count, .live,
            "Accounts reset in one email domain."),
        .duration(
            "engine.alerts.reset_abuse.window", \.engine.alerts.resetAbuseWindow, window, .live,
            "Window the resets are counted over."),
        enabled(
            "takeover_after_reset", \.engine.alerts.takeoverAfterReset,
            """
            A login within post_reset_window of a reset from a new device in a new country or away from the user's \
            networks (AS numbers and address blocks they have used): the reset may have been the takeover. A new \
            device on the user's own network (their new phone at home), a known device abroad (a trip) and users \
            still learning do not raise it.
            """),
        enabled(
            "credential_stuffing", \.engine.alerts.credentialStuffing,
            """
            One source IP failing against at least `distinct_users` users with at least `attempts` attempts within \
            `window`.
            """
        ),
        .integer(
            "engine.alerts.credential_stuffing.distinct_users", \.engine.alerts.stuffingDistinctUsers, count, .live,
            "Distinct users failed against."),
        .integer(
            "engine.alerts.credential_stuffing.attempts", \.engine.alerts.stuffingAttempts, count, .live,
            "Failed attempts."),
        .duration(
            "engine.alerts.credential_stuffing.window", \.engine.alerts.stuffingWindow, window, .live,
            "Window the attempts are counted over."),
        enabled(
            "service_account_high_risk", \.engine.alerts.serviceAccountHighRisk,
            "A service account (cannot do MFA) denied at high risk. The deny already protects; the alert tells the SOC."
        ),
        .duration(
            "engine.alerts.service_account_high_risk.hold", \.engine.alerts.serviceAccountHold, window, .live,
            "One alert per account per this long: 1h keeps a retrying robot from flooding the SIEM."),
    ]

    private static let policySettings: [S] =
        [
            .integer(
                "policy.medium_from", \.policy.mediumFrom, 1...100, .live,
                "Scores from this are medium (below: low). 31/71 give low ≤ 30, medium 31–70, high ≥ 71."),
            .integer(
                "policy.high_from", \.policy.highFrom, 1...100, .live,
                "Scores from this are high; must be greater than medium_from.",
                rules: { config in
                    guard config.policy.mediumFrom >= config.policy.highFrom else { return [] }
                    return [
                        SettingIssue(
                            """
                            must be greater than policy.medium_from (\(config.policy.mediumFrom)), got \
                            \(config.policy.highFrom)
                            """
                        )
                    ]
                }),
            .duration(
                "policy.decision_ttl", \.policy.decisionTTL, SettingType.positive...EventDuration.hours(24), .live,
                """
                The IdP may act on a decision for this long (expires_at = event time + this). 5m covers the login \
                flow, not a later session.
                """
            ),
            .text("policy.oidc.acr_none", \.policy.acrNone, .live, "acr_values for a low-risk login."),
            .text(
                "policy.oidc.acr_soft", \.policy.acrSoft, .live, "acr_values for a soft step-up (any second factor)."),
            .text(
                "policy.oidc.acr_hard", \.policy.acrHard, .live,
                "acr_values for a hard step-up (phishing-resistant factor)."),
            .text("policy.saml.none", \.policy.samlNone, .live, "AuthnContextClassRef for a low-risk login."),
            .text("policy.saml.soft", \.policy.samlSoft, .live, "AuthnContextClassRef for a soft step-up."),
            .text("policy.saml.hard", \.policy.samlHard, .live, "AuthnContextClassRef for a hard step-up."),
        ] + UserRole.allCases.flatMap(roleSettings)

    private static let sharedSignalSettings: [S] = [
        .boolean(
            "ssf.enabled", \.ssf.enabled, .live,
            """
            Build Security Event Tokens from verdicts and track each user's risk level for them. Off by default: \
            signing keys and receivers must be set up first.
            """),
        .text(
            "ssf.issuer", \.ssf.issuer, .live,
            """
            The tokens' iss: this transmitter's issuer URL, as registered with each receiver (Okta: the issuer of \
            the security events provider).
            """,
            rules: { config in
                let issuer = config.ssf.issuer
                guard issuer.hasPrefix("https://") || issuer.hasPrefix("http://") else {
                    return [SettingIssue("must be an http(s) URL, got \(ConfigProblem.quoted(issuer))")]
                }
                // The metadata names its endpoints as issuer + path, and receivers compare iss exactly.
                guard !issuer.hasSuffix("/") else {
                    return [SettingIssue("must not end with /, got \(ConfigProblem.quoted(issuer))")]
                }
                return []
            }),
        .textList(
            "ssf.audience", \.ssf.audience, .live,
            "The tokens' aud: the receivers' identifiers (Okta: the org URL, https://<org>.okta.com). Empty: no aud.",
            rules: { config in
                config.ssf.audience.enumerated().compactMap { index, audience in
                    audience.isEmpty ? SettingIssue("[\(index)]", "must not be empty") : nil
                }
            }),
        .choice(
            "ssf.subject_format", \.ssf.subjectFormat, .live,
            """
            How sub_id names the user: auto (email when the user id is an email address, else iss_sub when \
            subject_issuer is set, else opaque), email, iss_sub or opaque. Okta matches users by email.
            """),
        .text(
            "ssf.subject_issuer", \.ssf.subjectIssuer, nonEmpty: false, .live,
            "The iss of an iss_sub subject: the IdP that issued the user ids. Required by subject_format iss_sub.",
            rules: { config in
                guard config.ssf.subjectFormat == .issSub, config.ssf.subjectIssuer.isEmpty else { return [] }
                return [SettingIssue("must be set when ssf.subject_format is iss_sub")]
            }),
        .boolean(
            "ssf.subject_in_event", \.ssf.subjectInEvent, .live,
            """
            Also write the subject inside each event as subject (besides SSF 1.0's top-level sub_id): receivers built \
            on earlier drafts read it there; Okta's SET API documents it so.
            """),
        .boolean(
            "ssf.events.session_revoked", \.ssf.sessionRevoked, .live,
            "CAEP session-revoked for a deny, an accepted push after push bombing, and a takeover after a reset."),
        .boolean(
            "ssf.events.risk_level_change", \.ssf.riskLevelChange, .live,
            "CAEP risk-level-change when a user's risk level crosses ssf.risk_level_change.from."),
        .boolean(
            "ssf.events.credential_compromise", \.ssf.credentialCompromise, .live,
            "RISC credential-compromise (password) for a decision on a credential the breach feed flagged."),
        .boolean(
            "ssf.events.credential_change_required", \.ssf.credentialChangeRequired, .live,
            """
            RISC account-credential-change-required for a reset_abuse alert against one account. Off by default: \
            reset requests need no authentication, so anyone could make the IdP demand a new credential of any \
            account by asking for its reset five times; turn on only where the receiver merely notifies.
            """),
        .choice(
            "ssf.risk_level_change.from", \.ssf.riskLevelChangeFrom, .live,
            """
            A user's level (the highest of the decision's level and its account alerts': high and critical \
            alerts are high) is signalled when it or the level last signalled is at least this: high signals \
            only the moves into and out of high, so first logins (medium) stay quiet.
            """),
        .duration(
            "ssf.risk_level_change.hold", \.ssf.riskLevelHold, .minutes(1)...window.upperBound, .live,
            """
            A raised level holds this long in event time; the user's first verdict after it signals the calmer \
            level. 24h keeps one quiet login from clearing a takeover.
            """),
    ]

    private static let campaignSettings: [S] = [
        .boolean(
            "engine.campaigns.enabled", \.engine.campaigns.enabled, .restart,
            """
            Campaign detection per autonomous system and per tenant. In vigil run it is a stage of its own with a \
            repartition topic and a campaigns topic (topology), so turning it on or off takes a restart.
            """),
        .duration(
            "engine.campaigns.slot", \.engine.campaigns.slot, CampaignSettings.slotRange, .live,
            """
            Counts are kept per slot of this length, which must divide a day; the baseline keeps one value per slot \
            of the day (24 at 1h). Changing it restarts every baseline.
            """,
            rules: { config in
                let day = EventDuration.days(1).microseconds
                guard day % config.engine.campaigns.slot.microseconds != 0 else { return [] }
                return [SettingIssue("must divide a day (5m, 10m, 15m, 20m, 30m, 1h, 2h, 3h, 4h, 6h)")]
            }),
        .integer(
            "engine.campaigns.baseline_days", \.engine.campaigns.baselineDays, 1...90, .live,
            "The baseline's memory in days: each day's count moves a slot's expectation by 2 / (days + 1) of the gap."),
        .integer(
            "engine.campaigns.min_baseline_days", \.engine.campaigns.minBaselineDays, 0...90, .live,
            "Days of history before the baseline is trusted; until then each slot is expected to hold its floor."),
        .number(
            "engine.campaigns.ratio", \.engine.campaigns.ratio, 1...1000, .live,
            "A slot's count must be at least this many times its expectation."),
        .number(
            "engine.campaigns.deviations", \.engine.campaigns.deviations, 0...1000, .live,
            "... and this many mean absolute deviations above it (a noisy slot needs a bigger jump)."),
        .integer(
            "engine.campaigns.floors.failures", \.engine.campaigns.failuresFloor, count, .live,
            "Failed logins in a slot below which nothing is raised, whatever the baseline."),
        .integer(
            "engine.campaigns.floors.unknown_user_failures", \.engine.campaigns.unknownUserFloor, count, .live,
            "Failures for usernames that do not exist (IdPs that say so: Keycloak, Auth0, Entra, failure_kind)."),
        .integer(
            "engine.campaigns.floors.distinct_users", \.engine.campaigns.distinctUsersFloor, count, .live,
            "Distinct users whose logins failed (estimated with a 1 KiB HyperLogLog sketch per slot)."),
        .integer(
            "engine.campaigns.floors.resets", \.engine.campaigns.resetsFloor, count, .live,
            "Password reset requests; a spike raises reset_abuse."),
        .duration(
            "engine.campaigns.hold", \.engine.campaigns.hold, .minutes(5)...EventDuration.days(2), .live,
            """
            A detected campaign stays active this long from the event that crossed (one alert, campaign_active \
            firing); one still crossing its threshold in the second half is extended. At least one slot: a slot's \
            count never falls, so a shorter hold would alert again within the slot.
            """,
            rules: { config in
                let campaigns = config.engine.campaigns
                guard campaigns.hold < campaigns.slot else { return [] }
                return [SettingIssue("must be at least engine.campaigns.slot")]
            }),
        .duration(
            "engine.campaigns.idle_ttl", \.engine.campaigns.idleTTL, .days(1)...EventDuration.days(365), .live,
            "An autonomous system or tenant without a counted event for this long is forgotten, baseline and all.",
            rules: { config in
                let campaigns = config.engine.campaigns
                let longest = campaigns.hold.microseconds + config.engine.allowedLateness.microseconds
                guard campaigns.idleTTL.microseconds <= longest else { return [] }
                return [SettingIssue("must be longer than engine.campaigns.hold plus engine.allowed_lateness")]
            }),
        .integer(
            "engine.campaigns.max_entities", \.engine.campaigns.maxEntities, 100...100_000_000, .live,
            """
            Autonomous systems and tenants per shard, capped like max_sources; an entity with a baseline costs about \
            1 KiB at 1h slots.
            """),
    ]

    private static func roleSettings(_ role: UserRole) -> [S] {
        let path = "policy.roles.\(role.rawValue)."
        return [
            .choice(path + "low", \VigilConfig.policy.roles[role].low, .live, roleDocs[role] ?? "Action at low risk."),
            .choice(path + "medium", \VigilConfig.policy.roles[role].medium, .live, "Action at medium risk."),
            .choice(path + "high", \VigilConfig.policy.roles[role].high, .live, "Action at high risk."),
            .choice(
                path + "sensitive_action_minimum", \VigilConfig.policy.roles[role].sensitiveActionMinimum, .live,
                "The least a sensitive_action gets, whatever its score."),
            .boolean(
                path + "sms_and_email", \VigilConfig.policy.roles[role].smsAndEmail, .live,
                "Whether SMS and email codes may be offered (phishable and SIM-swappable)."),
            .boolean(
                path + "can_step_up", \VigilConfig.policy.roles[role].canStepUp, .live,
                "Whether the role can answer MFA at all; if not, any step-up becomes a deny."),
        ]
    }

    /// Why each tier's defaults are what they are, shown on its first key.
    private static let roleDocs: [UserRole: String] = [
        .standard: "standard: ordinary users step up with risk. Action at low risk.",
        .admin:
            """
        admin: phishing-resistant (FIDO2/passkey) from medium and for every sensitive action; never SMS or email. \
        Action at low risk.
        """,
        .finance: "finance: as admin. Action at low risk.",
        .contractor: "contractor: third parties always step up, never with SMS or email. Action at low risk.",
        .service:
            """
        service: service accounts cannot answer MFA: allowed, or denied (with a service_account_high_risk alert) \
        when high. Action at low risk.
        """,
    ]
}
