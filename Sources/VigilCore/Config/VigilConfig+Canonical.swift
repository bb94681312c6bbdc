/// The effective configuration as one deterministic text: every setting, defaults included, in a fixed
/// order, secrets by environment variable name only. It is valid Vigil YAML (it loads back to the same
/// config), what `vigil check-config --print-effective` prints, and what `policyVersion` hashes, so two files
/// that mean the same thing (comments, key order, spelling of durations) share one version.
extension VigilConfig {
    public var canonicalYAML: String {
        var out = CanonicalWriter()
        out.section("geo") { o in
            o.put("city_db", geo.cityDatabase.map(yamlString) ?? "null")
            o.put("asn_db", geo.asnDatabase.map(yamlString) ?? "null")
            o.put("anonymous_db", geo.anonymousDatabase.map(yamlString) ?? "null")
            o.put("cache_entries", geo.cacheEntries)
            o.put("reload_check_interval", geo.reloadCheckInterval)
        }
        out.section("reputation") { o in
            o.map("asn", reputation.asnCategories.sorted { $0.key < $1.key }.map { ("\"\($0.key)\"", yamlString($0.value)) })
            if reputation.cidrLists.isEmpty {
                o.put("cidr_lists", "[]")
            } else {
                o.section("cidr_lists") { o in
                    for list in reputation.cidrLists {
                        o.line("- {path: \(yamlString(list.path)), category: \(yamlString(list.category))}")
                    }
                }
            }
        }
        out.section("input") { o in
            o.put("max_event_bytes", input.maxEventBytes)
            o.put("max_nesting_depth", input.maxNestingDepth)
            o.put("max_future_skew", input.maxFutureSkew)
        }
        out.section("engine") { o in
            let e = engine
            o.put("allowed_lateness", e.allowedLateness)
            o.put("user_idle_ttl", e.userIdleTTL)
            o.put("new_device_after", e.newDeviceAfter)
            o.put("max_devices_per_user", e.maxDevicesPerUser)
            o.put("max_countries_per_user", e.maxCountriesPerUser)
            o.put("max_asns_per_user", e.maxASNsPerUser)
            o.put("max_users", e.maxUsers)
            o.put("max_sources", e.maxSources)
            o.put("max_email_domains", e.maxEmailDomains)
            o.put("learning_logins", e.learningLogins)
            o.put("post_reset_window", e.postResetWindow)
            o.put("global_window", e.globalWindow)
            o.section("signals") { o in
                let s = e.signals
                o.signal("new_device", s.newDevice)
                o.signal("new_country", s.newCountry)
                o.signal("new_asn", s.newASN)
                o.signal("first_login", s.firstLogin)
                o.signal("impossible_travel", s.impossibleTravel) { o in
                    o.put("max_speed_kmh", "\(s.maxSpeedKmh)")
                    o.put("min_distance_km", "\(s.minDistanceKm)")
                }
                o.signal("anonymous_ip", s.anonymousIP) { o in o.put("tor_extra_points", s.torExtraPoints) }
                o.signal("asn_reputation", s.asnReputation)
                o.signal("ip_reputation", s.ipReputation)
                o.signal("compromised_credential", s.compromisedCredential)
                o.signal("recent_password_reset", s.recentPasswordReset)
                o.signal("failed_attempts", s.failedAttempts) { o in
                    o.put("threshold", s.failedAttemptsThreshold)
                    o.put("window", s.failedAttemptsWindow)
                }
                o.signal("source_ip_spraying", s.sourceIPSpraying) { o in
                    o.put("distinct_users", s.sprayingDistinctUsers)
                    o.put("window", s.sprayingWindow)
                }
                o.signal("push_burst", s.pushBurst) { o in
                    o.put("threshold", s.pushBurstThreshold)
                    o.put("window", s.pushBurstWindow)
                }
                o.signal("unknown_sensitive_action", s.unknownSensitiveAction)
            }
            o.section("alerts") { o in
                let a = e.alerts
                o.section("push_bombing") { o in
                    o.put("enabled", a.pushBombing.enabled)
                    o.put("failures", a.pushBombingFailures)
                    o.put("pushes", a.pushBombingPushes)
                    o.put("window", a.pushBombingWindow)
                }
                o.section("mfa_fatigue_accepted") { o in
                    o.put("enabled", a.mfaFatigueAccepted.enabled)
                    o.put("failures", a.mfaFatigueFailures)
                    o.put("window", a.mfaFatigueWindow)
                }
                o.section("impossible_travel") { o in o.put("enabled", a.impossibleTravel.enabled) }
                o.section("reset_abuse") { o in
                    o.put("enabled", a.resetAbuse.enabled)
                    o.put("account", a.resetAbuseAccount)
                    o.put("source_ip", a.resetAbuseSourceIP)
                    o.put("email_domain", a.resetAbuseEmailDomain)
                    o.put("window", a.resetAbuseWindow)
                }
                o.section("takeover_after_reset") { o in o.put("enabled", a.takeoverAfterReset.enabled) }
                o.section("credential_stuffing") { o in
                    o.put("enabled", a.credentialStuffing.enabled)
                    o.put("distinct_users", a.stuffingDistinctUsers)
                    o.put("attempts", a.stuffingAttempts)
                    o.put("window", a.stuffingWindow)
                }
                o.section("service_account_high_risk") { o in
                    o.put("enabled", a.serviceAccountHighRisk.enabled)
                    o.put("hold", a.serviceAccountHold)
                }
            }
        }
        out.section("policy") { o in
            o.put("medium_from", policy.mediumFrom)
            o.put("high_from", policy.highFrom)
            o.put("decision_ttl", policy.decisionTTL)
            o.section("oidc") { o in
                o.put("acr_none", yamlString(policy.acrNone))
                o.put("acr_soft", yamlString(policy.acrSoft))
                o.put("acr_hard", yamlString(policy.acrHard))
            }
            o.section("saml") { o in
                o.put("none", yamlString(policy.samlNone))
                o.put("soft", yamlString(policy.samlSoft))
                o.put("hard", yamlString(policy.samlHard))
            }
            o.section("roles") { o in
                for role in UserRole.allCases {
                    let tier = policy.roles[role]
                    o.section(role.rawValue) { o in
                        o.put("low", tier.low.rawValue)
                        o.put("medium", tier.medium.rawValue)
                        o.put("high", tier.high.rawValue)
                        o.put("sensitive_action_minimum", tier.sensitiveActionMinimum.rawValue)
                        o.put("sms_and_email", tier.smsAndEmail)
                        o.put("can_step_up", tier.canStepUp)
                    }
                }
            }
        }
        out.section("kafka") { o in
            o.put("bootstrap_servers", yamlString(kafka.bootstrapServers))
            o.put("group_id", yamlString(kafka.groupID))
            o.put("input_topics", "[" + kafka.inputTopics.map(yamlString).joined(separator: ", ") + "]")
            o.put("decisions_topic", yamlString(kafka.decisionsTopic))
            o.put("alerts_topic", yamlString(kafka.alertsTopic))
            o.put("dead_letter_topic", yamlString(kafka.deadLetterTopic))
            o.put("shutdown_timeout", kafka.shutdownTimeout)
            o.map("properties", kafka.properties.sorted { $0.key < $1.key }.map { (yamlString($0.key), yamlString($0.value)) })
        }
        out.section("http") { o in
            o.put("enabled", http.enabled)
            o.put("listen", yamlString(http.listen))
        }
        out.section("logging") { o in
            o.put("format", logging.format.rawValue)
            o.put("level", yamlString(logging.level))
        }
        out.section("security") { o in
            o.put("device_hash_key_env", yamlString(security.deviceHashKeyEnv))
            o.put("allow_default_device_key", security.allowDefaultDeviceKey)
        }
        return out.text
    }

    /// 16 hex digits identifying the effective config: stamped on decisions so an analyst can tell which
    /// settings produced one. FNV-1a 64 is enough: it detects change, it is not a security boundary.
    public var policyVersion: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in canonicalYAML.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// Indented `key: value` lines.
private struct CanonicalWriter {
    var text = ""
    var indent = ""

    mutating func line(_ content: String) { text += indent + content + "\n" }

    mutating func put(_ key: String, _ rendered: String) { line("\(key): \(rendered)") }
    mutating func put(_ key: String, _ value: Int) { put(key, "\(value)") }
    mutating func put(_ key: String, _ value: Bool) { put(key, "\(value)") }
    mutating func put(_ key: String, _ value: EventDuration) { put(key, value.configString) }

    mutating func section(_ key: String, _ body: (inout CanonicalWriter) -> Void) {
        line("\(key):")
        indent += "  "
        body(&self)
        indent.removeLast(2)
    }

    mutating func map(_ key: String, _ entries: [(key: String, value: String)]) {
        if entries.isEmpty { return put(key, "{}") }
        section(key) { o in for entry in entries { o.put(entry.key, entry.value) } }
    }

    mutating func signal(_ key: String, _ weight: SignalWeight, extra: (inout CanonicalWriter) -> Void = { _ in }) {
        section(key) { o in
            o.put("enabled", weight.enabled)
            o.put("points", weight.points)
            extra(&o)
        }
    }
}

/// A YAML double-quoted scalar: the one string form that needs no knowledge of YAML's plain-scalar rules.
private func yamlString(_ value: String) -> String {
    var out = "\""
    for scalar in value.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7f:
            let hex = String(scalar.value, radix: 16)
            out += "\\x" + (hex.count == 1 ? "0" : "") + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
