/// Range and consistency rules, kept next to the model so a config built in code (tests, `vigil demo`) is
/// held to the same rules as one read from a file. Problems name YAML key paths; the file loader adds lines.
extension VigilConfig {
    /// Every rule the values break, in key order; empty when the config is usable.
    public func validate() -> [ConfigProblem] {
        var rules = Rules()
        rules.check(geo)
        rules.check(reputation)
        rules.check(input)
        rules.check(engine)
        rules.check(policy)
        rules.check(kafka)
        rules.check(http: http, logging: logging, security: security)
        return rules.problems
    }
}

/// The longest any window may span: per-user state for longer than this would grow without bound.
private let maxWindow = EventDuration.days(30)

private struct Rules {
    var problems: [ConfigProblem] = []

    mutating func fail(_ path: String, _ message: String) {
        problems.append(ConfigProblem(keyPath: path, message: message))
    }

    mutating func range<T: Comparable>(_ value: T, _ bounds: ClosedRange<T>, _ path: String) {
        if !bounds.contains(value) { fail(path, "must be between \(bounds.lowerBound) and \(bounds.upperBound), got \(value)") }
    }

    mutating func duration(_ value: EventDuration, _ path: String, min: EventDuration = EventDuration(microseconds: 1), max: EventDuration = maxWindow) {
        guard value < min || value > max else { return }
        let floor = min.microseconds == 1 ? "more than 0s" : "at least \(min.configString)"
        fail(path, "must be \(floor) and at most \(max.configString), got \(value.configString)")
    }

    mutating func points(_ weight: SignalWeight, _ path: String) { range(weight.points, 0...100, path + ".points") }

    mutating func threshold(_ value: Int, _ path: String) { range(value, 1...1_000_000, path) }

    mutating func nonEmpty(_ value: String, _ path: String) { if value.isEmpty { fail(path, "must not be empty") } }

    mutating func check(_ geo: GeoSettings) {
        for (value, key) in [(geo.cityDatabase, "city_db"), (geo.asnDatabase, "asn_db"), (geo.anonymousDatabase, "anonymous_db")] {
            if let value { nonEmpty(value, "geo.\(key)") }
        }
        range(geo.cacheEntries, 0...10_000_000, "geo.cache_entries")
        duration(geo.reloadCheckInterval, "geo.reload_check_interval", min: .seconds(1), max: .days(1))
    }

    mutating func check(_ reputation: ReputationSettings) {
        for (asn, category) in reputation.asnCategories.sorted(by: { $0.key < $1.key }) {
            if let problem = ConfigValues.categoryProblem(category) { fail("reputation.asn.\(asn)", problem) }
        }
        for (index, list) in reputation.cidrLists.enumerated() {
            nonEmpty(list.path, "reputation.cidr_lists[\(index)].path")
            if let problem = ConfigValues.categoryProblem(list.category) { fail("reputation.cidr_lists[\(index)].category", problem) }
        }
    }

    mutating func check(_ input: InputSettings) {
        range(input.maxEventBytes, 256...16_777_216, "input.max_event_bytes")
        range(input.maxNestingDepth, 1...256, "input.max_nesting_depth")
        duration(input.maxFutureSkew, "input.max_future_skew", min: .seconds(1), max: .days(1))
    }

    mutating func check(_ engine: EngineSettings) {
        duration(engine.allowedLateness, "engine.allowed_lateness", min: .seconds(0), max: .hours(24))
        duration(engine.userIdleTTL, "engine.user_idle_ttl", max: .days(3650))
        duration(engine.newDeviceAfter, "engine.new_device_after", max: .days(3650))
        range(engine.maxDevicesPerUser, 1...1000, "engine.max_devices_per_user")
        range(engine.maxCountriesPerUser, 1...1000, "engine.max_countries_per_user")
        range(engine.maxASNsPerUser, 1...1000, "engine.max_asns_per_user")
        range(engine.maxUsers, 100...1_000_000_000, "engine.max_users")
        range(engine.maxSources, 100...100_000_000, "engine.max_sources")
        range(engine.maxEmailDomains, 100...100_000_000, "engine.max_email_domains")
        range(engine.learningLogins, 0...1000, "engine.learning_logins")
        duration(engine.postResetWindow, "engine.post_reset_window")
        duration(engine.globalWindow, "engine.global_window", min: .minutes(1), max: .hours(24))

        let s = engine.signals, p = "engine.signals."
        points(s.newDevice, p + "new_device")
        points(s.newCountry, p + "new_country")
        points(s.newASN, p + "new_asn")
        points(s.firstLogin, p + "first_login")
        points(s.impossibleTravel, p + "impossible_travel")
        range(s.maxSpeedKmh, 1...10_000, p + "impossible_travel.max_speed_kmh")
        range(s.minDistanceKm, 0...20_038, p + "impossible_travel.min_distance_km")
        points(s.anonymousIP, p + "anonymous_ip")
        range(s.torExtraPoints, 0...100, p + "anonymous_ip.tor_extra_points")
        points(s.asnReputation, p + "asn_reputation")
        points(s.ipReputation, p + "ip_reputation")
        points(s.compromisedCredential, p + "compromised_credential")
        points(s.recentPasswordReset, p + "recent_password_reset")
        points(s.failedAttempts, p + "failed_attempts")
        threshold(s.failedAttemptsThreshold, p + "failed_attempts.threshold")
        duration(s.failedAttemptsWindow, p + "failed_attempts.window")
        points(s.sourceIPSpraying, p + "source_ip_spraying")
        threshold(s.sprayingDistinctUsers, p + "source_ip_spraying.distinct_users")
        duration(s.sprayingWindow, p + "source_ip_spraying.window")
        points(s.pushBurst, p + "push_burst")
        threshold(s.pushBurstThreshold, p + "push_burst.threshold")
        duration(s.pushBurstWindow, p + "push_burst.window")
        points(s.unknownSensitiveAction, p + "unknown_sensitive_action")

        let a = engine.alerts, q = "engine.alerts."
        threshold(a.pushBombingFailures, q + "push_bombing.failures")
        threshold(a.pushBombingPushes, q + "push_bombing.pushes")
        duration(a.pushBombingWindow, q + "push_bombing.window")
        threshold(a.mfaFatigueFailures, q + "mfa_fatigue_accepted.failures")
        duration(a.mfaFatigueWindow, q + "mfa_fatigue_accepted.window")
        threshold(a.resetAbuseAccount, q + "reset_abuse.account")
        threshold(a.resetAbuseSourceIP, q + "reset_abuse.source_ip")
        threshold(a.resetAbuseEmailDomain, q + "reset_abuse.email_domain")
        duration(a.resetAbuseWindow, q + "reset_abuse.window")
        threshold(a.stuffingDistinctUsers, q + "credential_stuffing.distinct_users")
        threshold(a.stuffingAttempts, q + "credential_stuffing.attempts")
        duration(a.stuffingWindow, q + "credential_stuffing.window")
        duration(a.serviceAccountHold, q + "service_account_high_risk.hold")
    }

    mutating func check(_ policy: PolicySettings) {
        range(policy.mediumFrom, 1...100, "policy.medium_from")
        range(policy.highFrom, 1...100, "policy.high_from")
        if policy.mediumFrom >= policy.highFrom {
            fail("policy.high_from", "must be greater than policy.medium_from (\(policy.mediumFrom)), got \(policy.highFrom)")
        }
        duration(policy.decisionTTL, "policy.decision_ttl", max: .hours(24))
        nonEmpty(policy.acrNone, "policy.oidc.acr_none")
        nonEmpty(policy.acrSoft, "policy.oidc.acr_soft")
        nonEmpty(policy.acrHard, "policy.oidc.acr_hard")
        nonEmpty(policy.samlNone, "policy.saml.none")
        nonEmpty(policy.samlSoft, "policy.saml.soft")
        nonEmpty(policy.samlHard, "policy.saml.hard")
    }

    mutating func check(_ kafka: KafkaSettings) {
        if !kafka.bootstrapServers.isEmpty, let problem = ConfigValues.bootstrapServersProblem(kafka.bootstrapServers) {
            fail("kafka.bootstrap_servers", problem)
        }
        nonEmpty(kafka.groupID, "kafka.group_id")
        if kafka.inputTopics.isEmpty { fail("kafka.input_topics", "must list at least one topic") }
        for (index, topic) in kafka.inputTopics.enumerated() {
            if let problem = ConfigValues.topicNameProblem(topic) { fail("kafka.input_topics[\(index)]", problem) }
            if kafka.inputTopics[..<index].contains(topic) { fail("kafka.input_topics[\(index)]", "topic \(topic) is listed twice") }
        }
        for (topic, key) in [(kafka.decisionsTopic, "decisions_topic"), (kafka.alertsTopic, "alerts_topic"), (kafka.deadLetterTopic, "dead_letter_topic")] {
            if let problem = ConfigValues.topicNameProblem(topic) {
                fail("kafka.\(key)", problem)
            } else if kafka.inputTopics.contains(topic) {
                fail("kafka.\(key)", "must not be an input topic (Vigil would consume its own output), got \(topic)")
            }
        }
        duration(kafka.shutdownTimeout, "kafka.shutdown_timeout", min: .seconds(1), max: .minutes(10))
        for (key, value) in kafka.properties.sorted(by: { $0.key < $1.key }) {
            let path = "kafka.properties.\(key)"
            if key == "bootstrap.servers" || key == "group.id" {
                fail(path, "set kafka.\(key == "group.id" ? "group_id" : "bootstrap_servers") instead")
            } else if value.contains("${"), ConfigValues.environmentReference(value) == nil {
                fail(path, "malformed environment reference: the whole value must be ${env:NAME}")
            } else if ConfigValues.isSecretProperty(key), ConfigValues.environmentReference(value) == nil {
                fail(path, "secrets must not be written in the file: use \"${env:NAME}\" and set NAME in the environment")
            }
        }
    }

    mutating func check(http: HTTPSettings, logging: LoggingSettings, security: SecuritySettings) {
        if let problem = ConfigValues.listenAddressProblem(http.listen) { fail("http.listen", problem) }
        if !ConfigValues.logLevels.contains(logging.level) {
            fail("logging.level", "must be one of \(ConfigValues.logLevels.joined(separator: ", ")), got \(ConfigValues.quoted(logging.level))")
        }
        if !ConfigValues.isEnvironmentName(security.deviceHashKeyEnv) {
            fail("security.device_hash_key_env", "must be an environment variable name (A-Z a-z 0-9 _), got \(ConfigValues.quoted(security.deviceHashKeyEnv))")
        }
    }
}
