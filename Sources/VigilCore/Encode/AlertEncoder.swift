import _VigilMachinery

/// Encodes alerts as OCSF 1.8.0 Detection Finding events (class 2004) so a SIEM ingests them without a
/// custom parser. Vigil-specific facts go in `evidences[].data` and `unmapped`, never in invented
/// top-level fields (the OCSF schema forbids them).
public struct AlertEncoder: Sendable {
    static let ocsfVersion = "1.8.0"
    static let classUID = 2004
    static let categoryUID = 2
    /// Activity 1: Create (a new finding).
    static let activityID = 1

    let identifierKey = SipHashKey.publicDefault.derived(4)

    /// An encoder; it holds only constants, so one serves every alert.
    public init() {}

    /// `finding_info.uid`: kind + scope + tenant + subject + window start (+ the triggering event's id for
    /// kinds that set `Alert.triggerEventID`), so the same events always give the same finding and a SIEM
    /// deduplicates retries, while two findings sharing a window start keep two uids.
    public func findingUID(_ alert: Alert) -> String {
        var parts = [
            "finding", alert.kind.rawValue, alert.scope.rawValue, alert.tenant ?? "", alert.subject,
            String(alert.windowStart.microseconds),
        ]
        if let trigger = alert.triggerEventID { parts.append(trigger) }
        if let horizon = alert.horizon { parts.append("horizon:\(horizon.microseconds)") }
        return Identifiers.uuid(identifierKey, parts: parts)
    }

    /// One OCSF Detection Finding as a JSON line without newline; the same alert gives the same bytes.
    /// A `reemitted` copy (`RiskEngine.Verdict.reemitted`) says so in `unmapped.vigil_reemitted`; every
    /// other alert leaves the member out.
    public func encode(_ alert: Alert, reemitted: Bool = false) -> [UInt8] {
        var json = JSONWriter(capacity: 2048)
        json.beginObject()
        json.field("activity_id", Self.activityID)
        json.field("activity_name", "Create")
        json.field("category_uid", Self.categoryUID)
        json.field("category_name", "Findings")
        json.field("class_uid", Self.classUID)
        json.field("class_name", "Detection Finding")
        json.field("type_uid", Self.classUID * 100 + Self.activityID)
        json.field("type_name", "Detection Finding: Create")
        json.field("severity_id", alert.severity.rawValue)
        json.field("severity", alert.severity.name)
        json.field("status_id", 1)
        json.field("status", "New")
        json.field("is_alert", true)
        json.field("time", alert.time.milliseconds)
        json.field("start_time", alert.firstSeen.milliseconds)
        json.field("end_time", alert.lastSeen.milliseconds)
        json.field("count", alert.evidence.count)
        json.field("message", alert.message)

        json.key("metadata")
        json.beginObject()
        json.field("version", Self.ocsfVersion)
        json.key("product")
        writeProduct(&json)
        json.field("log_name", "vigil.alerts")
        json.field("tenant_uid", alert.tenant)
        json.endObject()

        json.key("finding_info")
        json.beginObject()
        json.field("uid", findingUID(alert))
        json.field("title", alert.title)
        json.field("desc", alert.message)
        json.stringArray("types", [alert.kind.rawValue, "scope:\(alert.scope.rawValue)"])
        json.field("created_time", alert.time.milliseconds)
        json.field("first_seen_time", alert.firstSeen.milliseconds)
        json.field("last_seen_time", alert.lastSeen.milliseconds)
        json.key("analytic")
        json.beginObject()
        json.field("name", alert.kind.rawValue)
        json.field("uid", "vigil.\(alert.kind.rawValue)")
        json.field("type_id", 1)
        json.field("type", "Rule")
        json.endObject()
        if let attack = MITRE.attack(for: alert.kind) {
            json.key("attacks")
            json.beginArray()
            json.beginObject()
            json.key("tactic")
            writeNamed(&json, uid: attack.tactic.uid, name: attack.tactic.name)
            json.key("technique")
            writeNamed(&json, uid: attack.technique.uid, name: attack.technique.name)
            if let sub = attack.subTechnique {
                json.key("sub_technique")
                writeNamed(&json, uid: sub.uid, name: sub.name)
            }
            json.endObject()
            json.endArray()
        }
        json.key("related_events")
        json.beginArray()
        for event in alert.evidence {
            json.beginObject()
            json.field("uid", event.eventID)
            json.field("created_time", event.time.milliseconds)
            json.endObject()
        }
        json.endArray()
        json.field("related_events_count", alert.evidence.count)
        json.key("product")
        writeProduct(&json)
        json.endObject()

        json.key("evidences")
        json.beginArray()
        if alert.sources.isEmpty {
            json.beginObject()
            writeUser(&json, alert)
            writeData(&json, alert)
            json.endObject()
        }
        for (index, source) in alert.sources.enumerated() {
            json.beginObject()
            writeUser(&json, alert)
            json.key("src_endpoint")
            writeEndpoint(&json, source)
            if index == alert.sources.count - 1 { writeData(&json, alert) }
            json.endObject()
        }
        json.endArray()

        json.key("unmapped")
        json.beginObject()
        json.field("vigil_kind", alert.kind.rawValue)
        json.field("vigil_scope", alert.scope.rawValue)
        json.field("vigil_subject", alert.subject)
        json.field("window_start", alert.windowStart.milliseconds)
        if reemitted { json.field("vigil_reemitted", true) }
        json.endObject()
        json.endObject()
        return json.finish()
    }

    private func writeProduct(_ json: inout JSONWriter) {
        json.beginObject()
        json.field("name", "Vigil")
        json.field("vendor_name", "Vigil")
        json.field("version", VigilVersion.current)
        json.endObject()
    }

    private func writeNamed(_ json: inout JSONWriter, uid: String, name: String) {
        json.beginObject()
        json.field("uid", uid)
        json.field("name", name)
        json.endObject()
    }

    private func writeUser(_ json: inout JSONWriter, _ alert: Alert) {
        guard let userID = alert.userID else { return }
        json.key("user")
        json.beginObject()
        json.field("uid", userID)
        json.endObject()
    }

    private func writeData(_ json: inout JSONWriter, _ alert: Alert) {
        json.key("data")
        json.beginObject()
        for (name, value) in alert.details {
            json.dynamicKey(name)
            switch value {
            case .int(let v): json.int(v)
            case .double(let v): json.double(v)
            case .string(let v): json.string(v)
            case .bool(let v): json.bool(v)
            }
        }
        json.endObject()
    }

    private func writeEndpoint(_ json: inout JSONWriter, _ source: ObservedSource) {
        json.beginObject()
        json.field("ip", source.ip.description)
        if let location = source.intel.location, location.city != nil || location.countryCode != nil {
            json.key("location")
            json.beginObject()
            json.field("city", location.city)
            json.field("country", location.countryCode)
            if let coordinates = location.coordinates {
                json.field("lat", coordinates.latitude)
                json.field("long", coordinates.longitude)
            }
            if let radius = location.accuracyRadiusKm {
                json.field("horizontal_accuracy", "\(radius) km")
            }
            json.endObject()
        }
        if let network = source.intel.network {
            json.key("autonomous_system")
            json.beginObject()
            json.field("number", Int(network.number))
            json.field("name", network.organization)
            json.endObject()
        }
        json.endObject()
    }
}

/// MITRE ATT&CK mapping for the alert kinds where one applies.
enum MITRE {
    struct Named {
        let uid: String
        let name: String
    }

    struct Attack {
        let tactic: Named
        let technique: Named
        let subTechnique: Named?
    }

    static let credentialAccess = Named(uid: "TA0006", name: "Credential Access")
    static let initialAccess = Named(uid: "TA0001", name: "Initial Access")
    static let mfaRequestGeneration = Named(uid: "T1621", name: "Multi-Factor Authentication Request Generation")
    static let validAccounts = Named(uid: "T1078", name: "Valid Accounts")

    static func attack(for kind: AlertKind) -> Attack? {
        switch kind {
        case .pushBombing, .mfaFatigueAccepted:
            Attack(tactic: credentialAccess, technique: mfaRequestGeneration, subTechnique: nil)
        case .credentialStuffing:
            Attack(
                tactic: credentialAccess, technique: Named(uid: "T1110", name: "Brute Force"),
                subTechnique: Named(uid: "T1110.004", name: "Credential Stuffing"))
        case .impossibleTravel, .takeoverAfterReset, .serviceAccountHighRisk:
            Attack(tactic: initialAccess, technique: validAccounts, subTechnique: nil)
        case .resetAbuse:
            nil
        }
    }
}
