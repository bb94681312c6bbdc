import Foundation
import VigilCore
import Yams

/// Walks the YAML node tree into a `VigilConfig`, one key at a time, collecting every type problem with
/// its key path and line instead of stopping at the first. Ranges are not checked here but by
/// `VigilConfig.validate()`, whose problems `located(_:)` places on the lines recorded while reading.
final class ConfigDecoder {
    private(set) var problems: [ConfigProblem] = []
    /// Line of every key path read from the file.
    private var lines: [String: Int] = [:]
    private let baseDirectory: String

    init(baseDirectory: String) { self.baseDirectory = baseDirectory }

    func decode(_ root: Node) -> VigilConfig {
        var c = VigilConfig()
        section(root, "") { top in
            section(top["geo"], top.path("geo")) { f in
                readPath(&c.geo.cityDatabase, f, "city_db")
                readPath(&c.geo.asnDatabase, f, "asn_db")
                readPath(&c.geo.anonymousDatabase, f, "anonymous_db")
                read(&c.geo.cacheEntries, f, "cache_entries")
                read(&c.geo.reloadCheckInterval, f, "reload_check_interval")
            }
            section(top["reputation"], top.path("reputation")) { f in
                readASNCategories(&c.reputation.asnCategories, f, "asn")
                readCIDRLists(&c.reputation.cidrLists, f, "cidr_lists")
            }
            section(top["input"], top.path("input")) { f in
                read(&c.input.maxEventBytes, f, "max_event_bytes")
                read(&c.input.maxNestingDepth, f, "max_nesting_depth")
                read(&c.input.maxFutureSkew, f, "max_future_skew")
            }
            section(top["engine"], top.path("engine")) { f in decodeEngine(&c.engine, f) }
            section(top["policy"], top.path("policy")) { f in
                read(&c.policy.mediumFrom, f, "medium_from")
                read(&c.policy.highFrom, f, "high_from")
                read(&c.policy.decisionTTL, f, "decision_ttl")
                section(f["oidc"], f.path("oidc")) { f in
                    read(&c.policy.acrNone, f, "acr_none")
                    read(&c.policy.acrSoft, f, "acr_soft")
                    read(&c.policy.acrHard, f, "acr_hard")
                }
                section(f["saml"], f.path("saml")) { f in
                    read(&c.policy.samlNone, f, "none")
                    read(&c.policy.samlSoft, f, "soft")
                    read(&c.policy.samlHard, f, "hard")
                }
                section(f["roles"], f.path("roles")) { f in
                    for role in UserRole.allCases {
                        section(f[role.rawValue], f.path(role.rawValue)) { f in
                            read(&c.policy.roles[role].low, f, "low")
                            read(&c.policy.roles[role].medium, f, "medium")
                            read(&c.policy.roles[role].high, f, "high")
                            read(&c.policy.roles[role].sensitiveActionMinimum, f, "sensitive_action_minimum")
                            read(&c.policy.roles[role].smsAndEmail, f, "sms_and_email")
                            read(&c.policy.roles[role].canStepUp, f, "can_step_up")
                        }
                    }
                }
            }
            section(top["kafka"], top.path("kafka")) { f in
                read(&c.kafka.bootstrapServers, f, "bootstrap_servers")
                read(&c.kafka.groupID, f, "group_id")
                read(&c.kafka.inputTopics, f, "input_topics")
                read(&c.kafka.decisionsTopic, f, "decisions_topic")
                read(&c.kafka.alertsTopic, f, "alerts_topic")
                read(&c.kafka.deadLetterTopic, f, "dead_letter_topic")
                read(&c.kafka.shutdownTimeout, f, "shutdown_timeout")
                readProperties(&c.kafka.properties, f, "properties")
            }
            section(top["http"], top.path("http")) { f in
                read(&c.http.enabled, f, "enabled")
                read(&c.http.listen, f, "listen")
            }
            section(top["logging"], top.path("logging")) { f in
                var format = c.logging.format.rawValue
                read(&format, f, "format")
                if let parsed = LoggingSettings.Format(rawValue: format) {
                    c.logging.format = parsed
                } else {
                    fail(f.path("format"), f.node("format"), "expected text or json, got \(ConfigValues.quoted(format))")
                }
                read(&c.logging.level, f, "level")
            }
            section(top["security"], top.path("security")) { f in
                read(&c.security.deviceHashKeyEnv, f, "device_hash_key_env")
                read(&c.security.allowDefaultDeviceKey, f, "allow_default_device_key")
            }
        }
        return c
    }

    private func decodeEngine(_ e: inout EngineSettings, _ f: Fields) {
        read(&e.allowedLateness, f, "allowed_lateness")
        read(&e.userIdleTTL, f, "user_idle_ttl")
        read(&e.newDeviceAfter, f, "new_device_after")
        read(&e.maxDevicesPerUser, f, "max_devices_per_user")
        read(&e.maxCountriesPerUser, f, "max_countries_per_user")
        read(&e.maxASNsPerUser, f, "max_asns_per_user")
        read(&e.maxUsers, f, "max_users")
        read(&e.maxSources, f, "max_sources")
        read(&e.maxEmailDomains, f, "max_email_domains")
        read(&e.learningLogins, f, "learning_logins")
        read(&e.postResetWindow, f, "post_reset_window")
        read(&e.globalWindow, f, "global_window")
        section(f["signals"], f.path("signals")) { f in
            signal(&e.signals.newDevice, f, "new_device")
            signal(&e.signals.newCountry, f, "new_country")
            signal(&e.signals.newASN, f, "new_asn")
            signal(&e.signals.firstLogin, f, "first_login")
            signal(&e.signals.impossibleTravel, f, "impossible_travel") { f in
                read(&e.signals.maxSpeedKmh, f, "max_speed_kmh")
                read(&e.signals.minDistanceKm, f, "min_distance_km")
            }
            signal(&e.signals.anonymousIP, f, "anonymous_ip") { f in read(&e.signals.torExtraPoints, f, "tor_extra_points") }
            signal(&e.signals.asnReputation, f, "asn_reputation")
            signal(&e.signals.ipReputation, f, "ip_reputation")
            signal(&e.signals.compromisedCredential, f, "compromised_credential")
            signal(&e.signals.recentPasswordReset, f, "recent_password_reset")
            signal(&e.signals.failedAttempts, f, "failed_attempts") { f in
                read(&e.signals.failedAttemptsThreshold, f, "threshold")
                read(&e.signals.failedAttemptsWindow, f, "window")
            }
            signal(&e.signals.sourceIPSpraying, f, "source_ip_spraying") { f in
                read(&e.signals.sprayingDistinctUsers, f, "distinct_users")
                read(&e.signals.sprayingWindow, f, "window")
            }
            signal(&e.signals.pushBurst, f, "push_burst") { f in
                read(&e.signals.pushBurstThreshold, f, "threshold")
                read(&e.signals.pushBurstWindow, f, "window")
            }
            signal(&e.signals.unknownSensitiveAction, f, "unknown_sensitive_action")
        }
        section(f["alerts"], f.path("alerts")) { f in
            section(f["push_bombing"], f.path("push_bombing")) { f in
                read(&e.alerts.pushBombing.enabled, f, "enabled")
                read(&e.alerts.pushBombingFailures, f, "failures")
                read(&e.alerts.pushBombingPushes, f, "pushes")
                read(&e.alerts.pushBombingWindow, f, "window")
            }
            section(f["mfa_fatigue_accepted"], f.path("mfa_fatigue_accepted")) { f in
                read(&e.alerts.mfaFatigueAccepted.enabled, f, "enabled")
                read(&e.alerts.mfaFatigueFailures, f, "failures")
                read(&e.alerts.mfaFatigueWindow, f, "window")
            }
            section(f["impossible_travel"], f.path("impossible_travel")) { f in
                read(&e.alerts.impossibleTravel.enabled, f, "enabled")
            }
            section(f["reset_abuse"], f.path("reset_abuse")) { f in
                read(&e.alerts.resetAbuse.enabled, f, "enabled")
                read(&e.alerts.resetAbuseAccount, f, "account")
                read(&e.alerts.resetAbuseSourceIP, f, "source_ip")
                read(&e.alerts.resetAbuseEmailDomain, f, "email_domain")
                read(&e.alerts.resetAbuseWindow, f, "window")
            }
            section(f["takeover_after_reset"], f.path("takeover_after_reset")) { f in
                read(&e.alerts.takeoverAfterReset.enabled, f, "enabled")
            }
            section(f["credential_stuffing"], f.path("credential_stuffing")) { f in
                read(&e.alerts.credentialStuffing.enabled, f, "enabled")
                read(&e.alerts.stuffingDistinctUsers, f, "distinct_users")
                read(&e.alerts.stuffingAttempts, f, "attempts")
                read(&e.alerts.stuffingWindow, f, "window")
            }
            section(f["service_account_high_risk"], f.path("service_account_high_risk")) { f in
                read(&e.alerts.serviceAccountHighRisk.enabled, f, "enabled")
                read(&e.alerts.serviceAccountHold, f, "hold")
            }
        }
    }

    /// A validation problem placed on the line of its key, or of the nearest enclosing key in the file.
    func located(_ problem: ConfigProblem) -> ConfigProblem {
        var located = problem
        var path = Substring(problem.keyPath)
        while located.line == nil, !path.isEmpty {
            located.line = lines[String(path)]
            path = path[..<(path.lastIndex { $0 == "." || $0 == "[" } ?? path.startIndex)]
        }
        return located
    }

    // MARK: Mappings

    /// The keys of one mapping. Reading a key marks it known; keys never read are reported as unknown.
    final class Fields {
        let prefix: String
        fileprivate var entries: [String: (key: Node, value: Node)] = [:]
        fileprivate var known: [String] = []

        fileprivate init(prefix: String) { self.prefix = prefix }

        func path(_ key: String) -> String { ConfigDecoder.join(prefix, key) }

        /// The value under `key`, nil when absent.
        subscript(key: String) -> Node? {
            known.append(key)
            return entries[key]?.value
        }

        /// Where `key` is, for problems found after reading it.
        func node(_ key: String) -> Node? { entries[key]?.key }
    }

    /// Reads a mapping (absent or null: all defaults), then reports duplicate and unknown keys.
    private func section(_ node: Node?, _ path: String, _ body: (Fields) -> Void) {
        guard let fields = fields(node, path) else { return }
        body(fields)
        for (name, entry) in fields.entries.sorted(by: { $0.value.key.mark?.line ?? 0 < $1.value.key.mark?.line ?? 0 })
        where !fields.known.contains(name) {
            let suggestion = Self.closest(to: name, in: fields.known).map { " (did you mean \($0)?)" } ?? ""
            fail(fields.path(name), entry.key, "unknown key\(suggestion)")
        }
    }

    private func fields(_ node: Node?, _ path: String) -> Fields? {
        guard let node, !Self.isNull(node) else { return nil }
        guard case .mapping(let mapping) = node else {
            fail(path, node, "expected a mapping, got \(Self.describe(node))")
            return nil
        }
        let fields = Fields(prefix: path)
        var duplicates: [(name: String, key: Node)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                fail(path, key, "keys must be plain strings, got \(Self.describe(key))")
                continue
            }
            if let original = Self.unmarked(name) {
                duplicates.append((original, key))
                continue
            }
            fields.entries[name] = (key, value)
            lines[fields.path(name)] = key.mark?.line
        }
        for (name, key) in duplicates {
            let again = fields.entries[name]?.key.mark.map { ", set again at line \($0.line)" } ?? ""
            fail(fields.path(name), key, "duplicate key\(again)")
        }
        return fields
    }

    /// A signal's `enabled` and `points`, plus whatever else its mapping holds.
    private func signal(_ weight: inout SignalWeight, _ f: Fields, _ key: String, extra: (Fields) -> Void = { _ in }) {
        section(f[key], f.path(key)) { f in
            read(&weight.enabled, f, "enabled")
            read(&weight.points, f, "points")
            extra(f)
        }
    }

    // MARK: Scalars

    private func read(_ target: inout Int, _ f: Fields, _ key: String) {
        guard let (node, text) = plain(f, key, expecting: "an integer") else { return }
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            return fail(f.path(key), node, "expected an integer, got \(Self.describe(node))")
        }
        target = value
    }

    private func read(_ target: inout Double, _ f: Fields, _ key: String) {
        guard let (node, text) = plain(f, key, expecting: "a number") else { return }
        guard let value = Double(text.replacingOccurrences(of: "_", with: "")), value.isFinite else {
            return fail(f.path(key), node, "expected a number, got \(Self.describe(node))")
        }
        target = value
    }

    private func read(_ target: inout Bool, _ f: Fields, _ key: String) {
        guard let (node, text) = plain(f, key, expecting: "true or false") else { return }
        switch text.lowercased() {
        case "true": target = true
        case "false": target = false
        default: fail(f.path(key), node, "expected true or false, got \(Self.describe(node))")
        }
    }

    private func read(_ target: inout EventDuration, _ f: Fields, _ key: String) {
        guard let (node, text) = string(f, key, expecting: "a duration") else { return }
        guard let value = EventDuration(configString: text) else {
            return fail(f.path(key), node, "expected a duration with a unit (250ms, 90s, 5m, 24h, 30d), got \(Self.describe(node))")
        }
        target = value
    }

    private func read(_ target: inout DecisionAction, _ f: Fields, _ key: String) {
        var text = target.rawValue
        read(&text, f, key)
        guard let action = DecisionAction(rawValue: text) else {
            let choices = DecisionAction.allCases.map(\.rawValue).joined(separator: ", ")
            return fail(f.path(key), f.node(key), "expected one of \(choices), got \(ConfigValues.quoted(text))")
        }
        target = action
    }

    private func read(_ target: inout String, _ f: Fields, _ key: String) {
        if let (_, text) = string(f, key, expecting: "a string") { target = text }
    }

    private func read(_ target: inout String?, _ f: Fields, _ key: String) {
        if let (_, text) = string(f, key, expecting: "a string") { target = text }
    }

    /// A file path: relative paths are taken from the config file's directory; null means "not used".
    private func readPath(_ target: inout String?, _ f: Fields, _ key: String) {
        guard let node = f[key], !Self.isNull(node), let (_, text) = string(f, key, expecting: "a file path") else {
            return target = nil
        }
        target = resolve(text)
    }

    private func read(_ target: inout [String], _ f: Fields, _ key: String) {
        guard let node = f[key] else { return }
        guard case .sequence(let sequence) = node else {
            return fail(f.path(key), node, "expected a list of strings, got \(Self.describe(node))")
        }
        var values: [String] = []
        for (index, element) in sequence.enumerated() {
            let path = "\(f.path(key))[\(index)]"
            lines[path] = element.mark?.line
            if case .scalar(let scalar) = element, !Self.isNull(element) {
                values.append(scalar.string)
            } else {
                fail(path, element, "expected a string, got \(Self.describe(element))")
            }
        }
        target = values
    }

    // MARK: Open-ended mappings and lists

    /// `asn: {"64496": hosting}`; keys may also be written `AS64496`.
    private func readASNCategories(_ target: inout [UInt32: String], _ f: Fields, _ key: String) {
        section(f[key], f.path(key)) { entries in
            for name in entries.entries.keys.sorted() where entries[name] != nil {
                let digits = name.uppercased().hasPrefix("AS") ? String(name.dropFirst(2)) : name
                guard let asn = UInt32(digits) else {
                    fail(entries.path(name), entries.node(name), "expected an AS number (0–4294967295), got \(ConfigValues.quoted(name))")
                    continue
                }
                var category = ""
                read(&category, entries, name)
                lines[entries.path("\(asn)")] = entries.node(name)?.mark?.line
                target[asn] = category
            }
        }
    }

    /// `cidr_lists: [{path: lists/tor.txt, category: tor}]`; both keys required.
    private func readCIDRLists(_ target: inout [ReputationSettings.CIDRList], _ f: Fields, _ key: String) {
        guard let node = f[key], !Self.isNull(node) else { return }
        guard case .sequence(let sequence) = node else {
            return fail(f.path(key), node, "expected a list of {path, category}, got \(Self.describe(node))")
        }
        target = []
        for (index, element) in sequence.enumerated() {
            let path = "\(f.path(key))[\(index)]"
            lines[path] = element.mark?.line
            guard case .mapping = element else {
                fail(path, element, "expected a mapping of path and category, got \(Self.describe(element))")
                continue
            }
            var file: String?
            var category: String?
            section(element, path) { f in
                readPath(&file, f, "path")
                read(&category, f, "category")
                let missing = ["path", "category"].filter { f.node($0) == nil }
                if !missing.isEmpty { fail(path, element, "missing required key \(missing.joined(separator: " and "))") }
            }
            if let file, let category { target.append(ReputationSettings.CIDRList(path: file, category: category)) }
        }
    }

    /// librdkafka properties: any scalar value, kept as text (`${env:NAME}` stays a reference).
    private func readProperties(_ target: inout [String: String], _ f: Fields, _ key: String) {
        section(f[key], f.path(key)) { entries in
            for name in entries.entries.keys.sorted() {
                var value = ""
                read(&value, entries, name)
                target[name] = value
            }
        }
    }

    // MARK: Helpers

    /// The text of a plain (unquoted) scalar: numbers and booleans are never quoted.
    private func plain(_ f: Fields, _ key: String, expecting: String) -> (Node, String)? {
        guard let node = f[key] else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain, !Self.isNull(node) else {
            fail(f.path(key), node, "expected \(expecting), got \(Self.describe(node))")
            return nil
        }
        return (node, scalar.string)
    }

    /// The text of any non-null scalar.
    private func string(_ f: Fields, _ key: String, expecting: String) -> (Node, String)? {
        guard let node = f[key] else { return nil }
        guard case .scalar(let scalar) = node, !Self.isNull(node) else {
            fail(f.path(key), node, "expected \(expecting), got \(Self.describe(node))")
            return nil
        }
        return (node, scalar.string)
    }

    private func resolve(_ path: String) -> String {
        guard !path.isEmpty, !path.hasPrefix("/") else { return path }
        return URL(fileURLWithPath: baseDirectory, isDirectory: true).appendingPathComponent(path).standardizedFileURL.path
    }

    private func fail(_ path: String, _ node: Node?, _ message: String) {
        problems.append(ConfigProblem(keyPath: path, line: node?.mark?.line, message: message))
    }

    static func join(_ prefix: String, _ key: String) -> String { prefix.isEmpty ? key : "\(prefix).\(key)" }

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How a wrong value is shown in a message: its kind, or its text quoted and cut short.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar): isNull(node) ? "null" : ConfigValues.quoted(scalar.string)
        }
    }

    // MARK: Duplicate keys and suggestions

    /// Prefix the loader puts on the n-th duplicate key it found (private-use characters no config uses).
    static func duplicateMarker(_ number: Int) -> String { "\u{E000}\(number)\u{E001}" }

    /// The original key name of a marked duplicate, nil for ordinary keys.
    private static func unmarked(_ name: String) -> String? {
        guard name.hasPrefix("\u{E000}"), let end = name.firstIndex(of: "\u{E001}") else { return nil }
        return String(name[name.index(after: end)...])
    }

    /// The known key nearest to `name` by edit distance, if near enough to be a typo.
    private static func closest(to name: String, in known: [String]) -> String? {
        let scored = known.map { ($0, editDistance(name, $0)) }.min { $0.1 < $1.1 }
        guard let (best, distance) = scored, distance <= max(2, name.count / 3) else { return nil }
        return best
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return a.isEmpty ? b.count : row[b.count]
    }
}
